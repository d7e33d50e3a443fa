"""The test kit: an in-memory chain running the real engines, a manual clock, funded
wallets, and conformance suites for Store and Verifier implementations.

Importing it needs nothing beyond Timecoin's own dependencies. The pytest plugin
(``timecoin_core.testing.pytest_plugin``, registered through the ``pytest11`` entry
point when pytest is installed) adds the ``local_chain``, ``funded_wallet``,
``wallet_factory``, ``accounts`` and shared-chain fixtures (docs/testing.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InvalidArgumentError
from .clock import ClockError, ManualClock
from .local_chain import (
    ACCOUNT_BALANCE,
    ACCOUNTS,
    TEST_MNEMONIC,
    AlreadyConfirmedError,
    Fault,
    LocalChain,
    LocalChainArgumentError,
    LocalChainError,
    LocalWallet,
    NotSettledError,
    Receipt,
    Snapshot,
    TxStatus,
)

if TYPE_CHECKING:
    from .conformance_store import (
        STORE_CHECKS,
        StoreCheck,
        StoreFactory,
        check_store,
        store_workload,
    )
    from .conformance_verify import (
        VERIFIER_CHECKS,
        VERIFIER_LIFECYCLE_CHECKS,
        VerifierFactory,
        check_verifier,
    )

_LAZY = {
    "STORE_CHECKS": "conformance_store",
    "StoreCheck": "conformance_store",
    "StoreFactory": "conformance_store",
    "check_store": "conformance_store",
    "store_workload": "conformance_store",
    "VERIFIER_CHECKS": "conformance_verify",
    "VERIFIER_LIFECYCLE_CHECKS": "conformance_verify",
    "VerifierFactory": "conformance_verify",
    "check_verifier": "conformance_verify",
}


def __getattr__(name: str) -> object:
    # The conformance suites load the store layer (aiosqlite, asyncio); a test that only
    # wants a LocalChain should not pay for them, so they are imported on first use.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ACCOUNTS",
    "ACCOUNT_BALANCE",
    "STORE_CHECKS",
    "TEST_MNEMONIC",
    "VERIFIER_CHECKS",
    "VERIFIER_LIFECYCLE_CHECKS",
    "AlreadyConfirmedError",
    "ClockError",
    "Fault",
    "InvalidArgumentError",
    "LocalChain",
    "LocalChainArgumentError",
    "LocalChainError",
    "LocalWallet",
    "ManualClock",
    "NotSettledError",
    "Receipt",
    "Snapshot",
    "StoreCheck",
    "StoreFactory",
    "TxStatus",
    "VerifierFactory",
    "check_store",
    "check_verifier",
    "store_workload",
]
