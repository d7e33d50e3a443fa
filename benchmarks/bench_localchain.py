"""LocalChain transfers per second, side by side with eth-tester's in-memory chain.

eth-tester (with the py-evm backend, each transfer auto-mined) is installed in the
benchmark's own environment, ``benchmarks/.eth-tester-venv`` (created on first run,
never a project dependency), and measured in a subprocess in the same run.

Rates are per CPU second of the process doing the work (other load on the machine
skews wall time, not CPU time), best of a few rounds that alternate between the two.
"""

from __future__ import annotations

import subprocess
import sys
import time
import venv
from pathlib import Path

from timecoin_core import coins
from timecoin_core.testing import LocalChain

from ._table import Row, Table

TRANSFERS = 1_000
ETH_TRANSFERS = 300
REPEAT = 3
ETH_VENV = Path(__file__).resolve().parent / ".eth-tester-venv"
ETH_SCRIPT = f"""
import time
from eth_tester import EthereumTester, PyEVMBackend
tester = EthereumTester(PyEVMBackend())
a, b = tester.get_accounts()[:2]
tx = {{"from": a, "to": b, "gas": 21000, "value": 1, "max_fee_per_gas": 10**10, "max_priority_fee_per_gas": 10**9}}
for _ in range(20):
    tester.send_transaction(tx)
start = time.process_time()
for _ in range({ETH_TRANSFERS}):
    tester.send_transaction(tx)
print({ETH_TRANSFERS} / (time.process_time() - start))
"""


def localchain_rate(masternodes: int, transfers: int = TRANSFERS, block_every: int = 100) -> float:
    """Final transfers per CPU second between four funded wallets (blocks every ``block_every``)."""
    chain = LocalChain(masternodes=masternodes)
    wallets = [chain.wallet(name, balance=coins("10000")) for name in ("a", "b", "c", "d")]
    start = time.process_time()
    for i in range(transfers):
        wallets[i % 4].send(wallets[(i + 1) % 4], coins("0.1"))
        if i % block_every == block_every - 1:
            chain.produce_block()
    return transfers / (time.process_time() - start)


def eth_tester_rate() -> float | None:
    """eth-tester transfers per CPU second, or None when it cannot be installed here."""
    python = ETH_VENV / "bin" / "python"
    if not python.exists():
        venv.create(ETH_VENV, with_pip=True)
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "eth-tester[py-evm]"], capture_output=True, text=True
        )
        if install.returncode != 0:
            print(f"eth-tester could not be installed: {install.stderr.strip()[-300:]}", file=sys.stderr)
            return None
    result = subprocess.run([str(python), "-c", ETH_SCRIPT], capture_output=True, text=True)
    if result.returncode != 0:
        print(f"eth-tester failed: {result.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    return float(result.stdout.strip())


def run() -> list[Table]:
    """LocalChain (1 and 4 masternodes) against eth-tester, transfers per CPU second."""
    table = Table(
        f"LocalChain vs eth-tester (final transfers per CPU second, auto-finality / auto-mine, best of {REPEAT})"
    )
    eth: float | None = None
    best = dict.fromkeys((1, 4), 0.0)
    for _ in range(REPEAT):
        rate = eth_tester_rate()
        if rate is not None:
            eth = max(eth or 0.0, rate)
        for masternodes in best:
            best[masternodes] = max(best[masternodes], localchain_rate(masternodes))
    table.add(Row("eth-tester + py-evm, auto-mined transfers", eth or 0.0, None, "tx/s"))
    for masternodes, rate in best.items():
        table.add(
            Row(
                f"LocalChain({masternodes} masternode{'s' if masternodes > 1 else ''}), each transfer final",
                rate,
                eth,
                "tx/s",
                ">= 50x eth-tester" if masternodes == 1 else "",
                (eth is not None and rate >= 50 * eth) if masternodes == 1 else None,
            )
        )
    return [table]
