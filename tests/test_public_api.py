"""The public surface is exactly what each package's ``__all__`` says, and it is documented."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import timecoin_core

PUBLIC_MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(timecoin_core.__path__, "timecoin_core.")
    if not any(part.startswith("_") for part in m.name.split("."))
    and m.name not in {"timecoin_core.sim.__main__"}
)


def test_every_exported_name_exists() -> None:
    for name in timecoin_core.__all__:
        assert hasattr(timecoin_core, name), name


def test_top_level_exports_are_what_the_package_defines() -> None:
    public = {
        name
        for name, value in vars(timecoin_core).items()
        if not name.startswith("_")
        and not inspect.ismodule(value)
        and name not in {"annotations"}
    }
    lazy = set(timecoin_core._LAZY)  # the store's names load on first use
    assert public | lazy == set(timecoin_core.__all__) - {"__version__"}


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_public_names_have_docstrings(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert module.__doc__, f"{module_name} has no module docstring"
    for name in getattr(module, "__all__", []):
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__doc__, f"{module_name}.{name} has no docstring"
            if inspect.isclass(value):
                for attr, member in vars(value).items():
                    if attr.startswith("_") or not (inspect.isfunction(member) or isinstance(member, property)):
                        continue
                    assert member.__doc__, f"{module_name}.{name}.{attr} has no docstring"


def test_core_never_imports_anyio_or_the_network_layer() -> None:
    import sys

    for module_name in PUBLIC_MODULES:
        importlib.import_module(module_name)
    loaded = [m for m in sys.modules if m.startswith("timecoin_core")]
    for name in loaded:
        source = inspect.getsource(sys.modules[name])
        for forbidden in ("import anyio", "from anyio", "import timecoin_net", "from timecoin_net"):
            assert forbidden not in source, f"{name} must not {forbidden!r}"


@pytest.mark.parametrize(
    "package",
    ["timecoin_core.consensus", "timecoin_core.wallet", "timecoin_core.testing", "timecoin_core.sim", "timecoin_core.verify",
     "timecoin_core.store"],
)
def test_subpackage_exports_exist_and_are_documented(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__doc__
    for name in module.__all__:
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__doc__, f"{package}.{name} has no docstring"
