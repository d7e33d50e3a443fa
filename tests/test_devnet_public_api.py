"""The datadir, CLI, devnet and process-test modules: exported names exist, are documented, and errors are Timecoin's."""

from __future__ import annotations

import importlib
import inspect

import pytest

import timecoin_net
from timecoin_core.errors import TimecoinError

MODULES = [
    "timecoin_net.config",
    "timecoin_net.devnet",
    "timecoin_net.runner",
    "timecoin_net.cli",
    "timecoin_net.testing",
    "timecoin_net.testing.process",
    "timecoin_net.testing.proxy",
]


@pytest.mark.parametrize("module_name", MODULES)
def test_exports_exist_and_are_documented(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert module.__doc__, module_name
    for name in module.__all__:
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__doc__, f"{module_name}.{name} has no docstring"
        if inspect.isclass(value):
            for attr, member in vars(value).items():
                if attr.startswith("_") or not (inspect.isfunction(member) or isinstance(member, property)):
                    continue
                assert member.__doc__, f"{module_name}.{name}.{attr} has no docstring"


def test_the_package_exports_the_datadir_and_devnet_names() -> None:
    for name in ("Datadir", "DatadirError", "DevnetError", "DevnetInfo", "Endpoint", "NodeConfig", "NodeOverrides",
                 "devnet_genesis", "init_datadir", "load_datadir", "run_from_datadir"):
        assert name in timecoin_net.__all__
        assert getattr(timecoin_net, name) is not None


def test_errors_are_timecoin_errors() -> None:
    from timecoin_net.config import ConfigValueError, DatadirError
    from timecoin_net.devnet import DevnetError
    from timecoin_net.testing import NodeProcessError

    for family in (ConfigValueError, DatadirError, DevnetError, NodeProcessError):
        assert issubclass(family, TimecoinError)
    assert issubclass(DatadirError, ValueError) and issubclass(ConfigValueError, ValueError)
    error = DatadirError("/x/node.key", "key file missing")
    assert (error.path, error.message, str(error)) == ("/x/node.key", "key file missing", "/x/node.key: key file missing")
    import pickle

    assert str(pickle.loads(pickle.dumps(error))) == str(error)
