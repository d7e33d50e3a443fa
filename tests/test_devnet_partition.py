"""A 3|1 partition of four node processes through FaultProxy: the majority commits, nobody forks, the minority catches up.

Every link goes through a proxy: node i dials node j at ``proxies[i, j]``, a relay to
j's real address (nodes dial only their configured peers, so nothing goes around the
proxies). Scripted peers connected directly to each node watch the Commit messages it
sends; the test waits on those, never on a sleep.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import pytest

from timecoin_core.consensus.bft_messages import Commit
from timecoin_net import load_datadir
from timecoin_net.devnet import create_devnet
from timecoin_net.testing import FaultProxy, NodeProcess, ScriptedPeer, free_base_port

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"




def decided(peer: ScriptedPeer) -> dict[int, bytes]:
    """Height -> digest of the value the node said it decided."""
    return {m.certificate.height: hashlib.sha256(m.value).digest() for m in peer.received if isinstance(m, Commit)}


def top(peer: ScriptedPeer) -> int:
    return max(decided(peer), default=0)


def reached(peer: ScriptedPeer, height: int) -> Callable[[], bool]:
    return lambda: top(peer) >= height


async def test_three_one_partition_majority_commits_minority_catches_up(tmp_path: Path) -> None:
    nodes = 4
    _, datadirs, _ = create_devnet(tmp_path / "devnet", nodes, base_port=free_base_port(3 * nodes))
    network = load_datadir(datadirs[0]).network
    addresses = [load_datadir(d).config.p2p_endpoint().as_tuple() for d in datadirs]
    with anyio.fail_after(240):
        async with AsyncExitStack() as stack:
            proxies = {
                (i, j): await stack.enter_async_context(FaultProxy(addresses[j]))
                for i in range(nodes) for j in range(nodes) if i != j
            }
            for i, datadir in enumerate(datadirs):
                peers = [
                    arg for j in range(nodes) if j != i for arg in ("--peer", "{}:{}".format(*proxies[i, j].address))
                ]
                await stack.enter_async_context(NodeProcess(datadir, args=peers))
            watchers = [await stack.enter_async_context(ScriptedPeer.connect(network, a)) for a in addresses]
            for watcher in watchers:
                await watcher.wait_for(reached(watcher, 2), timeout=120)

            # Cut node 3 off from the other three, both directions.
            cut = [proxy for (i, j), proxy in proxies.items() if 3 in (i, j)]
            for proxy in cut:
                proxy.blackhole = True
            start = max(top(w) for w in watchers[:3])
            await watchers[0].wait_for(lambda: top(watchers[0]) >= start + 3, timeout=120)
            # Node 3 alone (a quarter of the weight) decided nothing the majority did not.
            assert top(watchers[3]) <= start + 1

            for proxy in cut:
                proxy.heal()
            target = max(top(w) for w in watchers[:3])
            await watchers[3].wait_for(lambda: top(watchers[3]) >= target, timeout=120)

            # Never a fork: every height any two nodes decided, they decided the same value.
            seen: dict[int, bytes] = {}
            for watcher in watchers:
                for height, digest in decided(watcher).items():
                    assert seen.setdefault(height, digest) == digest, f"fork at height {height}"
            assert sum(p.bytes_dropped for p in cut) > 0
