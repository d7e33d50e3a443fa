"""No CPU-heavy work in a reader: pings keep flowing while the node's consensus task waits on a
long verification (the stand-in for a 10,000-transaction proposal).

The verifier here blocks its worker thread until the test releases it, so the test
needs no timing: it watches the scripted peer's session get pongs while the node is
verifying, then releases the verification and sees the node's barrier answer.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future
from types import TracebackType
from typing import Self

import anyio
import pytest

from timecoin_core.store import MemoryStore
from timecoin_core.verify import SignatureCheck, SyncVerifier
from timecoin_core.wire import SessionConfig
from timecoin_net import Node, TransactionStatus
from timecoin_net.testing import NetworkFixture, ScriptedPeer, wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class GatedVerifier:
    """A sync verifier whose batches wait for ``release`` once ``armed`` (in the caller's thread)."""

    def __init__(self) -> None:
        self.inner = SyncVerifier()
        self.armed = False
        self.waiting = threading.Event()
        self.release = threading.Event()

    @property
    def backend(self) -> str:
        return self.inner.backend

    def verify_many(self, checks: Sequence[SignatureCheck]) -> list[bool]:
        if self.armed:
            self.waiting.set()
            self.release.wait(30)
        return self.inner.verify_many(checks)

    def submit_many(self, checks: Sequence[SignatureCheck]) -> Future[list[bool]]:
        future: Future[list[bool]] = Future()
        future.set_result(self.verify_many(checks))
        return future

    def close(self) -> None:
        self.release.set()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


async def test_pings_flow_while_the_node_verifies() -> None:
    fixture = NetworkFixture.create(1, coins=2)
    verifier = GatedVerifier()
    node = Node(
        fixture.network,
        identity=fixture.node_keys[0],
        masternode_key=fixture.masternode_keys[0],
        store=MemoryStore(fixture.network),
        verifier=verifier,
    )
    config = SessionConfig(ping_interval=0.3, pong_timeout=2.0)
    async with anyio.create_task_group() as tg:
        address = await tg.start(node.run)
        async with ScriptedPeer.connect(fixture.network, address, config=config) as peer:
            await peer.sync_with_ping()
            session = peer.session
            assert session is not None
            verifier.armed = True
            tx = fixture.payment(0)
            await peer.send_now(tx)
            await wait_until(verifier.waiting.is_set, timeout=10, what="the node verifying")
            pongs = session.counters.get("rx.PONG", 0)
            # The consensus task is stuck in verification; the sessions are not.
            await wait_until(lambda: session.counters.get("rx.PONG", 0) >= pongs + 4, timeout=10, what="four pongs")
            assert node.tx_status(tx.txid) is TransactionStatus.UNKNOWN
            verifier.armed = False
            verifier.release.set()
            await peer.sync_with_ping()
            assert node.tx_status(tx.txid) is not TransactionStatus.UNKNOWN
            assert peer.closed is None
        node.stop()
