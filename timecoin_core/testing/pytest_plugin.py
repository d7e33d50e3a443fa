"""The Timecoin pytest plugin (registered through the ``pytest11`` entry point).

Fixtures, each fresh per test:

* ``local_chain`` — a :class:`~timecoin_core.testing.LocalChain` with one masternode
  and auto-finality;
* ``wallet_factory`` — ``wallet_factory(name, balance=0)`` makes test wallets on
  ``local_chain``;
* ``funded_wallet`` — a wallet holding 1,000 TIME on ``local_chain``.

Mark a test ``@pytest.mark.local_chain(masternodes=4, auto_finality=False)`` to get a
differently configured chain from the same fixture.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ..amount import coins
from .local_chain import LocalChain, LocalWallet

__all__ = ["funded_wallet", "local_chain", "wallet_factory"]


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``local_chain`` marker."""
    config.addinivalue_line(
        "markers", "local_chain(**options): options for the local_chain fixture (masternodes, auto_finality)"
    )


@pytest.fixture
def local_chain(request: pytest.FixtureRequest) -> LocalChain:
    """A fresh in-memory chain (options from a ``local_chain`` marker, if any)."""
    marker = request.node.get_closest_marker("local_chain")
    options = dict(marker.kwargs) if marker is not None else {}
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
