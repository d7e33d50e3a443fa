"""Resource exhaustion (NETWORK.md test 3): 80 max-size junk frames from one peer while another
peer's 20 barrier round trips are each answered within 2 s, with memory bounded.

Each junk frame is a sealed ``PROPOSAL`` frame of the type's full cap (8,388,757 bytes)
whose payload is random: the node must buffer it (the header allows it), open it, fail
to decode it and close the session as an offence. The attacker reconnects for every
frame, as an attacker would once cut off (it is on loopback, which is disconnected but
never discouraged). The honest peer's round trips go through the node's consensus
task (``sync_with_ping``), so they prove the node as a whole stays responsive, not
only its sessions.
"""

from __future__ import annotations

import contextlib
import os
import tracemalloc

import anyio
import pytest

from timecoin_core.store import MemoryStore
from timecoin_core.verify import SyncVerifier
from timecoin_core.wire import MESSAGE_SPECS, ErrorCode, MessageType
from timecoin_net import Node, RuntimeSettings
from timecoin_net.testing import NetworkFixture, ScriptedPeer, wait_until

pytestmark = pytest.mark.anyio

JUNK_FRAMES = 80
PINGS = 20


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_junk_frames_do_not_starve_another_peer() -> None:
    fixture = NetworkFixture.create(1, coins=0)
    settings = RuntimeSettings(attempts_per_second=1000.0, attempt_burst=1000.0, max_per_netgroup=64)
    node = Node(
        fixture.network,
        identity=fixture.node_keys[0],
        masternode_key=fixture.masternode_keys[0],
        store=MemoryStore(fixture.network),
        verifier=SyncVerifier(),
        settings=settings,
    )
    cap = MESSAGE_SPECS[MessageType.PROPOSAL].cap
    junk = os.urandom(cap)
    closes: list[ErrorCode] = []
    round_trips: list[float] = []
    async with anyio.create_task_group() as tg:
        address = await tg.start(node.run)
        async with ScriptedPeer.connect(fixture.network, address) as honest:
            tracemalloc.start()
            try:
                baseline, _ = tracemalloc.get_traced_memory()
                tracemalloc.reset_peak()
                attack_done = anyio.Event()

                async def attack() -> None:
                    for _ in range(JUNK_FRAMES):
                        async with ScriptedPeer.connect(fixture.network, address) as attacker:
                            with contextlib.suppress(anyio.BrokenResourceError, OSError):
                                await attacker.send_frame(MessageType.PROPOSAL, junk)
                            closes.append((await attacker.wait_closed()).code)
                    attack_done.set()

                tg.start_soon(attack)
                for i in range(PINGS):
                    # Spread over the attack: ping i once 4 * i junk frames were refused.
                    refused = i * JUNK_FRAMES // PINGS
                    await wait_until(lambda: len(closes) >= refused, timeout=60)  # noqa: B023
                    # The deadline is the test's pass criterion (Bitcoin Core's p2p_invalid_messages).
                    round_trips.append(await honest.sync_with_ping(timeout=2.0))
                await attack_done.wait()
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert honest.closed is None
            assert len(round_trips) == PINGS
        node.stop()
    assert len(closes) == JUNK_FRAMES
    # The node ended each attacker's session with a Goodbye naming the offence.
    assert set(closes) == {ErrorCode.CLOSED_BY_PEER}
    assert node.counters.get("peers.closed.MALFORMED_MESSAGE", 0) == JUNK_FRAMES
    # Offences on loopback disconnect but never discourage 127.0.0.1 (every local peer shares it).
    assert node.counters.get("peers.offence.loopback_not_discouraged", 0) == JUNK_FRAMES
    # One frame at a time is buffered: the attacker's payload and sealed copy, the node's
    # buffer and opened copy, not 80 frames' worth (670 MB).
    assert peak - baseline < 8 * cap
