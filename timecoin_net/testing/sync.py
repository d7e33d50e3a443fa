"""Waiting on nodes without sleeping: ``wait_until`` and ``sync_all``.

Both poll a condition every few milliseconds (yielding to the event loop in between),
so a test waits exactly as long as the condition takes, bounded by ``timeout``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import anyio

from timecoin_core.errors import TimecoinError

from ..node import Node

__all__ = ["SyncTimeoutError", "sync_all", "wait_until"]

_POLL = 0.01


class SyncTimeoutError(TimecoinError, TimeoutError):
    """A condition a test waited for did not hold in time; the message says what was seen."""


async def wait_until(condition: Callable[[], bool], *, timeout: float = 30.0, what: str = "condition") -> None:
    """Return once ``condition()`` is true.

    :raises SyncTimeoutError: not within ``timeout`` seconds.
    """
    with anyio.move_on_after(timeout):
        while not condition():
            await anyio.sleep(_POLL)
        return
    raise SyncTimeoutError(f"{what} not reached within {timeout} s")


async def sync_all(nodes: Sequence[Node], *, height: int = 0, timeout: float = 30.0) -> int:
    """Wait until every node has the same tip, at ``height`` or above; returns that height.

    :raises SyncTimeoutError: not within ``timeout`` seconds (the message lists each node's height).
    """

    def synced() -> bool:
        tips = {node.tip for node in nodes}
        return len(tips) == 1 and min(node.height for node in nodes) >= height

    try:
        await wait_until(synced, timeout=timeout, what="equal tips")
    except SyncTimeoutError as exc:
        heights = [(node.height, node.tip.hex()[:12]) for node in nodes]
        raise SyncTimeoutError(f"{exc}: heights and tips {heights}") from None
    return nodes[0].height
