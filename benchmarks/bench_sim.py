"""Simulator cost: CPU per final transaction on a 4-masternode network, and votes' share.

The network is healthy (no faults) and busy (``TX_RATE`` transactions per virtual
second). The reference is the cost of one raw signature verification measured in the
same run, so the CPU figure reads as "this many verifications' worth per final
transaction, for the whole 4-node network".
"""

from __future__ import annotations

import time

from timecoin_core.sim import SimConfig, run_seed

from ._table import Row, Table
from .bench_verify import raw_verify_rate

TX_RATE = 100.0
DURATION = 20.0


def run() -> list[Table]:
    """CPU per final transaction and the vote share of signature work."""
    floor = raw_verify_rate("cryptography")
    verify_us = 1e6 / floor
    config = SimConfig(nodes=4, byzantine=0, faults=False, duration=DURATION, settle=10.0, tx_rate=TX_RATE)
    start = time.process_time()
    result = run_seed(0, config)
    cpu = time.process_time() - start
    per_tx_us = cpu / max(result.finalized_txs, 1) * 1e6
    signatures = result.tx_signatures + result.vote_signatures
    table = Table(f"Simulator, 4 masternodes, {TX_RATE:.0f} tx/s for {DURATION:.0f} virtual s, no faults")
    table.add(Row("final transactions", result.finalized_txs, None, "tx"))
    table.add(Row("CPU per final transaction (whole network)", per_tx_us, verify_us, "us", "(reference: one verify)"))
    table.add(Row("signatures verified per final transaction", signatures / max(result.finalized_txs, 1), None, "sigs"))
    table.add(
        Row(
            "vote signatures / all signature work",
            result.vote_signatures,
            signatures,
            "sigs",
            "< 0.25",
            result.vote_signatures < 0.25 * signatures,
        )
    )
    return [table]
