"""``running_nodes``: start N nodes of a :class:`NetworkFixture` in one process, fully meshed.

Node ``i`` listens on ``listen_for(i)`` and dials every node started before it, so the
mesh forms without a second dial per pair. On exit every node is stopped gracefully
and its ``run()`` awaited: nothing outlives the block.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio

from timecoin_core.store import MemoryStore, Store
from timecoin_core.verify import SyncVerifier, Verifier

from ..node import Node
from ..settings import RuntimeSettings
from ..transport import Transport
from .fixture import NetworkFixture

__all__ = ["running_nodes"]


@asynccontextmanager
async def running_nodes(
    fixture: NetworkFixture,
    count: int | None = None,
    *,
    transport_for: Callable[[int], Transport] | None = None,
    listen_for: Callable[[int], tuple[str, int]] = lambda i: ("127.0.0.1", 0),
    store_for: Callable[[int], Store] | None = None,
    verifier_for: Callable[[int], Verifier] | None = None,
    settings: RuntimeSettings | None = None,
) -> AsyncIterator[list[Node]]:
    """Run ``count`` (default: every masternode) nodes; yields them once all listen.

    Defaults: TCP, a :class:`~timecoin_core.store.MemoryStore` and a
    :class:`~timecoin_core.verify.SyncVerifier` per node (the node still calls it off
    the event loop).
    """
    count = len(fixture.masternode_keys) if count is None else count
    nodes: list[Node] = []
    async with anyio.create_task_group() as tg:
        try:
            for i in range(count):
                node = Node(
                    fixture.network,
                    identity=fixture.node_keys[i],
                    masternode_key=fixture.masternode_keys[i] if i < len(fixture.masternode_keys) else None,
                    store=store_for(i) if store_for else MemoryStore(fixture.network),
                    listen=listen_for(i),
                    peers=[n.address for n in nodes if n.address is not None],
                    verifier=verifier_for(i) if verifier_for else SyncVerifier(),
                    settings=settings,
                    transport=transport_for(i) if transport_for else None,
                )
                await tg.start(node.run)
                nodes.append(node)
            yield nodes
        finally:
            for node in nodes:
                node.stop()
