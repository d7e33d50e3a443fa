"""The test kit: an in-memory chain running the real engines, a manual clock, funded wallets.

``pip install timecoin[dev]`` also registers a pytest plugin with the ``local_chain``,
``funded_wallet`` and ``wallet_factory`` fixtures (docs/testing.md).
"""

from __future__ import annotations

from .clock import ClockError, ManualClock
from .local_chain import TEST_MNEMONIC, LocalChain, LocalChainError, LocalWallet, Snapshot, TxStatus

__all__ = [
    "TEST_MNEMONIC",
    "ClockError",
    "LocalChain",
    "LocalChainError",
    "LocalWallet",
    "ManualClock",
    "Snapshot",
    "TxStatus",
]
