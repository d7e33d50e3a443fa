"""The test kit: an in-memory chain running the real engines, a manual clock, funded
wallets, and conformance suites for Store and Verifier implementations.

Importing it needs nothing beyond Timecoin's own dependencies. The pytest plugin
(``timecoin_core.testing.pytest_plugin``, registered through the ``pytest11`` entry
point when pytest is installed) adds the ``local_chain``, ``funded_wallet``,
``wallet_factory``, ``accounts`` and shared-chain fixtures (docs/testing.md).
"""

from __future__ import annotations

from .clock import ClockError, ManualClock
from .local_chain import (
    ACCOUNT_BALANCE,
    ACCOUNTS,
    TEST_MNEMONIC,
    AlreadyConfirmedError,
    Fault,
    InvalidArgumentError,
    LocalChain,
    LocalChainError,
    LocalWallet,
    NotSettledError,
    Receipt,
    Snapshot,
    TxStatus,
)

__all__ = [
    "ACCOUNTS",
    "ACCOUNT_BALANCE",
    "TEST_MNEMONIC",
    "AlreadyConfirmedError",
    "ClockError",
    "Fault",
    "InvalidArgumentError",
    "LocalChain",
    "LocalChainError",
    "LocalWallet",
    "ManualClock",
    "NotSettledError",
    "Receipt",
    "Snapshot",
    "TxStatus",
]
