"""The Timecoin pytest plugin (registered through the ``pytest11`` entry point).

Fresh for every test:

* ``local_chain`` — a :class:`~timecoin_core.testing.LocalChain` with one masternode
  and auto-finality, configured by a ``local_chain`` marker if the test has one;
* ``wallet_factory`` — ``wallet_factory(name, balance=0)`` makes test wallets on
  ``local_chain`` (``balance`` in base units);
* ``funded_wallet`` — a wallet holding 1,000 TIME on ``local_chain``;
* ``accounts`` — ``local_chain.accounts``, the ten prefunded accounts.

Shared, for setups that are too costly to repeat per test:

* ``module_chain`` / ``session_chain`` — one LocalChain per test module / per session,
  built from the ``local_chain_options`` fixture (override it to configure them);
* ``isolated_module_chain`` / ``isolated_session_chain`` — the shared chain inside
  ``chain.isolate()`` for the duration of one test, so whatever a test does to it is
  undone before the next (brownie's ``fn_isolation``, ape's ``chain.isolate()``).

Mark a test ``@pytest.mark.local_chain(4, auto_finality=False)`` (or
``masternodes=4``) to get a differently configured ``local_chain``; a marker with
arguments LocalChain does not take is an error, not ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ..amount import coins
from .local_chain import LocalChain, LocalWallet

__all__ = [
    "MARKER_OPTIONS",
    "accounts",
    "chain_options_from_marker",
    "funded_wallet",
    "isolated_module_chain",
    "isolated_session_chain",
    "local_chain",
    "local_chain_options",
    "module_chain",
    "session_chain",
    "wallet_factory",
]

# The conformance suites are plain asserts so they run without pytest; under pytest,
# rewrite them like test modules so a failing check shows both sides of the comparison.
pytest.register_assert_rewrite(
    "timecoin_core.testing.conformance_store", "timecoin_core.testing.conformance_verify"
)

MARKER_OPTIONS = ("masternodes", "auto_finality", "autojump")
"""The keyword arguments a ``local_chain`` marker may carry (``masternodes`` also positionally)."""


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``local_chain`` marker."""
    config.addinivalue_line(
        "markers",
        "local_chain(masternodes=1, *, auto_finality=True, autojump=False): "
        "options for the local_chain fixture",
    )


def chain_options_from_marker(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """LocalChain keyword arguments from a ``local_chain`` marker's arguments.

    :raises pytest.UsageError: more than one positional argument, an unknown keyword,
        or ``masternodes`` given both ways.
    """
    if len(args) > 1:
        raise pytest.UsageError(
            f"local_chain marker takes at most one positional argument (masternodes), got {args!r}"
        )
    unknown = sorted(set(kwargs) - set(MARKER_OPTIONS))
    if unknown:
        raise pytest.UsageError(
            f"local_chain marker: unknown option(s) {', '.join(unknown)}; known: {', '.join(MARKER_OPTIONS)}"
        )
    options = dict(kwargs)
    if args:
        if "masternodes" in options:
            raise pytest.UsageError("local_chain marker: masternodes given both positionally and by name")
        options["masternodes"] = args[0]
    return options


@pytest.fixture
def local_chain(request: pytest.FixtureRequest) -> LocalChain:
    """A fresh in-memory chain (options from a ``local_chain`` marker, if any)."""
    marker = request.node.get_closest_marker("local_chain")
    options = chain_options_from_marker(marker.args, marker.kwargs) if marker is not None else {}
    return LocalChain(**options)


@pytest.fixture
def wallet_factory(local_chain: LocalChain) -> Callable[..., LocalWallet]:
    """``wallet_factory(name, balance=0)``: a test wallet on ``local_chain``."""

    def make(name: str, balance: int = 0) -> LocalWallet:
        return local_chain.wallet(name, balance=balance)

    return make


@pytest.fixture
def funded_wallet(local_chain: LocalChain) -> LocalWallet:
    """A wallet named ``"funded"`` holding 1,000 TIME."""
    return local_chain.wallet("funded", balance=coins("1000"))


@pytest.fixture
def accounts(local_chain: LocalChain) -> tuple[LocalWallet, ...]:
    """The ten prefunded accounts of ``local_chain``."""
    return local_chain.accounts


@pytest.fixture(scope="session")
def local_chain_options() -> dict[str, Any]:
    """LocalChain keyword arguments for ``module_chain`` and ``session_chain`` (override me)."""
    return {}


@pytest.fixture(scope="module")
def module_chain(local_chain_options: dict[str, Any]) -> LocalChain:
    """One LocalChain shared by every test of a module (not isolated: see ``isolated_module_chain``)."""
    return LocalChain(**local_chain_options)


@pytest.fixture(scope="session")
def session_chain(local_chain_options: dict[str, Any]) -> LocalChain:
    """One LocalChain shared by the whole session (not isolated: see ``isolated_session_chain``)."""
    return LocalChain(**local_chain_options)


@pytest.fixture
def isolated_module_chain(module_chain: LocalChain) -> Iterator[LocalChain]:
    """``module_chain``, with everything this test does to it undone afterwards."""
    with module_chain.isolate():
        yield module_chain


@pytest.fixture
def isolated_session_chain(session_chain: LocalChain) -> Iterator[LocalChain]:
    """``session_chain``, with everything this test does to it undone afterwards."""
    with session_chain.isolate():
        yield session_chain
