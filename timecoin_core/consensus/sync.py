"""Block sync: how a node that fell behind fetches committed blocks from its peers (sans-IO).

Theory of operation
-------------------
The BFT engine only remembers its last few decisions (``BlockEngine`` ``commit_history``),
so a node that was away longer than that cannot catch up from consensus messages. The
:class:`SyncPlanner` fetches what it missed as *commits* — each a committed block with its
commit certificate — from the peers that have them, and hands them to the shell to apply
in height order (``ConsensusNode.apply_commit`` checks each certificate against that
height's voting set first).

The planner is a pure state machine, like the engines: it never does I/O and never reads
a clock. The shell tells it what happened — :meth:`~SyncPlanner.add_peer`,
:meth:`~SyncPlanner.remove_peer`, :meth:`~SyncPlanner.on_status`,
:meth:`~SyncPlanner.on_blocks`, :meth:`~SyncPlanner.set_height` when the local chain
grew, :meth:`~SyncPlanner.applied` / :meth:`~SyncPlanner.rejected` for each commit it was
handed, and :meth:`~SyncPlanner.poll` when :meth:`~SyncPlanner.next_deadline` passes —
and carries out the actions it gets back, in order:

* :class:`~timecoin_core.consensus.sansio.SendTo` a ``GetStatus`` or ``GetBlocks`` request;
* :class:`~timecoin_core.consensus.sansio.Penalize` a peer for an unsolicited or oversized
  page, or for a commit that failed to apply (the offence the shell reported);
* :class:`ApplyCommit`: the commit at ``height + 1``, one at a time — the next comes
  after the shell reported the outcome of this one;
* :class:`SyncProgress` and :class:`SyncDone` notifications.

Rules (NETWORK.md "Gossip and sync"):

* **Claims are hints.** A peer's ``Status.height`` only says where it *might* be. Heights
  are requested from peers whose claim covers them, in pages of at most
  :data:`~timecoin_core.wire.messages.MAX_BLOCKS_PER_PAGE` heights and ``page_bytes``
  bytes, only inside a window of ``window`` heights above the local height. A peer that
  answers a request inside its claim with an empty page *cannot deliver what it claimed*:
  it is not penalized (a claim costs nothing to make, and an honest node can be
  mistaken), but its claim is capped at what it proved for ``ceiling_ttl`` seconds
  (doubling on every repeat), so it loses its place in the plan. A peer claiming
  ``2**63`` therefore costs one empty page now and then, never the end of sync.
* **Stalls move on.** A request unanswered after ``request_timeout`` is re-issued to
  another peer where one has the heights; a peer that times out ``max_timeouts`` times in
  a row is capped like one that could not deliver (slow, not punished). A late answer to
  an expired request is still used, never penalized.
* **Parallel and bounded.** Up to ``requests_per_peer`` requests in flight per peer (no
  faster than one per ``min_request_interval``, under the wire's token bucket), different
  ranges to different peers, lowest missing heights first. Commits that arrive ahead of
  the next height wait in a buffer bounded by the window (heights) and by
  ``max_buffer_bytes`` (a request is only sent if its ``page_bytes`` fit beside what is
  buffered and in flight; a page may exceed its request's bytes only by carrying one
  single block, so the buffer stays under ``max_buffer_bytes`` plus one block per request
  in flight).
* **Peers' mistakes have names.** A page nobody asked for is ``UNSOLICITED``; more heights
  or bytes than asked is ``OVER_LIMIT``; a commit the node refused is whatever
  :meth:`~SyncPlanner.rejected` says (``INVALID_BLOCK``, ``INVALID_CERTIFICATE``). A
  penalized peer is dropped from the plan (its buffered commits with it) and ignored
  until it is added again.
* **Deterministic.** No randomness and no hash-order iteration: peers are tried in the
  order they were added, so the same inputs give the same actions.

Sync starts whenever some peer's credible claim is above the local height (gaps the
engines close by themselves are closed twice at worst: a commit for a height the chain
already has is simply dropped). :class:`SyncDone` is reported when no credible claim is
above the local height and nothing is in flight, after at least one height was missing.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Final

from ..codec import varint_size
from ..errors import InvalidArgumentError, TimecoinError
from ..wire.messages import MAX_BLOCKS_PER_PAGE, Blocks, GetBlocks, GetStatus, Status
from .bft_messages import Commit
from .sansio import Offence, Penalize, SendTo

__all__ = [
    "ApplyCommit",
    "SyncAction",
    "SyncBlockError",
    "SyncCertificateError",
    "SyncCommitError",
    "SyncConfig",
    "SyncDone",
    "SyncPlanner",
    "SyncProgress",
    "commit_size",
]

PeerId = Hashable

_MAX_BANNED: Final = 1024
"""Penalized peers remembered (oldest forgotten first): bounded under connection churn."""

_MAX_LATE: Final = 64
"""Expired requests remembered per peer, so that their late answers are not unsolicited."""


class SyncCommitError(TimecoinError, ValueError):
    """A synced commit the node refused; :attr:`offence` is what its sender did.

    Raised by ``ConsensusNode.apply_commit``; the shell hands :attr:`offence` to
    :meth:`SyncPlanner.rejected`, which penalizes the peer that sent the commit.
    """

    code = "bad-sync-commit"
    offence: Offence = Offence.INVALID_BLOCK


class SyncCertificateError(SyncCommitError):
    """The commit certificate does not prove the value: wrong value, wrong signers, too
    little weight or a signature that does not verify against the height's voting set."""

    code = "bad-sync-certificate"
    offence = Offence.INVALID_CERTIFICATE


class SyncBlockError(SyncCommitError):
    """The committed value is not a valid block on the local chain (undecodable, or
    refused by the chain's rules); ``error`` is the block error when there is one."""

    code = "bad-sync-block"
    offence = Offence.INVALID_BLOCK

    def __init__(self, message: str, error: TimecoinError | None = None) -> None:
        super().__init__(message)
        self.error = error


def commit_size(commit: Commit) -> int:
    """The bytes ``commit`` takes in a ``Blocks`` page (its length prefix included).

    Computed from the sizes of its parts, without encoding it: what a server counts
    against ``GetBlocks.max_bytes`` and what the planner checks a page against.
    """
    precommits = len(commit.certificate.precommits)
    value = len(commit.value)
    size = 8 + 4 + 32 + varint_size(precommits) + 96 * precommits + varint_size(value) + value
    return varint_size(size) + size


@dataclass(frozen=True)
class SyncConfig:
    """Tunables of a :class:`SyncPlanner`, validated on construction.

    Defaults follow NETWORK.md: pages of 64 heights, up to 8 peers with 2 requests in
    flight each, a window of 256 heights, 10 s to answer, ``Status`` every 10 s.
    """

    page_blocks: int = MAX_BLOCKS_PER_PAGE
    """Most heights one request asks for (1..64)."""
    page_bytes: int = 2 * 1024 * 1024
    """``GetBlocks.max_bytes`` of each request."""
    max_peers: int = 8
    """Most peers with requests in flight at once."""
    requests_per_peer: int = 2
    """Most requests in flight to one peer."""
    min_request_interval: float = 0.25
    """Least time between two requests to one peer (the wire allows 4 ``GetBlocks``/s)."""
    window: int = 256
    """Heights above the local height that may be requested or buffered."""
    max_buffer_bytes: int = 64 * 1024 * 1024
    """Bytes of buffered commits plus ``page_bytes`` per request in flight."""
    request_timeout: float = 10.0
    """Seconds before an unanswered request goes to another peer."""
    max_timeouts: int = 3
    """Consecutive timeouts after which a peer's claim is capped like an empty answer's."""
    ceiling_ttl: float = 60.0
    """Seconds a peer that could not deliver its claim stays capped (doubles on repeats, up to 1 h)."""
    status_interval: float = 10.0
    """Seconds between two ``GetStatus`` to one peer."""
    progress_interval: float = 1.0
    """Least seconds between two :class:`SyncProgress` reports."""

    def __post_init__(self) -> None:
        for name, valid, rule in (
            ("page_blocks", type(self.page_blocks) is int and 1 <= self.page_blocks <= MAX_BLOCKS_PER_PAGE,
             f"an int in 1..{MAX_BLOCKS_PER_PAGE}"),
            ("page_bytes", type(self.page_bytes) is int and 1 <= self.page_bytes <= 0xFFFFFFFF, "an int in 1..2**32-1"),
            ("max_peers", type(self.max_peers) is int and self.max_peers >= 1, "a positive int"),
            ("requests_per_peer", type(self.requests_per_peer) is int and self.requests_per_peer >= 1,
             "a positive int"),
            ("min_request_interval", self.min_request_interval >= 0, "non-negative"),
            ("window", type(self.window) is int and self.window >= self.page_blocks, "an int >= page_blocks"),
            ("max_buffer_bytes", type(self.max_buffer_bytes) is int and self.max_buffer_bytes >= self.page_bytes,
             "an int >= page_bytes"),
            ("request_timeout", self.request_timeout > 0, "positive"),
            ("max_timeouts", type(self.max_timeouts) is int and self.max_timeouts >= 1, "a positive int"),
            ("ceiling_ttl", self.ceiling_ttl > 0, "positive"),
            ("status_interval", self.status_interval > 0, "positive"),
            ("progress_interval", self.progress_interval > 0, "positive"),
        ):
            if not valid:
                raise InvalidArgumentError(name, f"must be {rule}, got {getattr(self, name)!r}")


@dataclass(frozen=True, slots=True)
class ApplyCommit:
    """Apply ``commit`` (at the planner's height + 1), then report :meth:`SyncPlanner.applied`
    or :meth:`SyncPlanner.rejected` with ``peer``, the peer that sent it."""

    peer: PeerId
    commit: Commit

    @property
    def height(self) -> int:
        """The height ``commit`` is for."""
        return self.commit.height


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """Sync is under way: local ``height``, best credible ``target``, ``peers`` serving it,
    ``in_flight`` requests and ``buffered`` commits waiting for their turn."""

    height: int
    target: int
    peers: int
    in_flight: int
    buffered: int


@dataclass(frozen=True, slots=True)
class SyncDone:
    """No peer credibly claims a height above ``height`` any more, and nothing is in flight."""

    height: int


SyncAction = SendTo | Penalize | ApplyCommit | SyncProgress | SyncDone
"""What the planner's methods return."""


@dataclass(slots=True)
class _Request:
    peer: PeerId
    start: int
    count: int
    max_bytes: int
    deadline: float


@dataclass(slots=True)
class _Peer:
    order: int
    claimed: int = 0
    ceiling: int | None = None
    ceiling_until: float = 0.0
    ceiling_ttl: float = 0.0
    timeouts: int = 0
    next_send: float = 0.0
    status_due: float = 0.0
    requests: dict[int, _Request] = field(default_factory=dict)
    late: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=_MAX_LATE))


class SyncPlanner:
    """Plans block sync for one node (see the module docstring).

    ``height`` is the local chain's height when the planner is made; ``now`` the shell's
    monotonic time.
    """

    def __init__(self, height: int, now: float, config: SyncConfig | None = None) -> None:
        if type(height) is not int or height < 0:
            raise InvalidArgumentError("height", "height must be a non-negative int")
        self.config = config if config is not None else SyncConfig()
        self._height = height
        self._now = now
        self._peers: dict[PeerId, _Peer] = {}
        self._order = 0
        self._banned: OrderedDict[PeerId, None] = OrderedDict()
        self._buffer: dict[int, tuple[PeerId, Commit, int]] = {}
        self._buffered_bytes = 0
        self._inflight: dict[int, _Request] = {}
        self._avoid: dict[int, PeerId] = {}
        self._handed: int | None = None
        self._syncing = False
        self._progress_at = float("-inf")

    # -- reading -------------------------------------------------------------------------

    @property
    def height(self) -> int:
        """The local height the planner knows of."""
        return self._height

    @property
    def target(self) -> int:
        """The highest credible claim of any peer (at least :attr:`height`)."""
        return max([self._height, *(self._credible(p) for p in self._peers.values())])

    @property
    def syncing(self) -> bool:
        """True while some peer credibly claims a height above the local one."""
        return self.target > self._height

    @property
    def peers(self) -> int:
        """Peers in the plan."""
        return len(self._peers)

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet answered or expired."""
        return sum(len(p.requests) for p in self._peers.values())

    @property
    def buffered(self) -> int:
        """Commits received and waiting to be applied."""
        return len(self._buffer)

    @property
    def buffered_bytes(self) -> int:
        """Bytes of the commits waiting to be applied (as :func:`commit_size` counts them)."""
        return self._buffered_bytes

    def claim(self, peer: PeerId) -> int | None:
        """What ``peer`` is believed to have (its claim, capped if it failed to deliver), or ``None``."""
        state = self._peers.get(peer)
        return None if state is None else self._credible(state)

    # -- inputs --------------------------------------------------------------------------

    def add_peer(self, peer: PeerId, now: float) -> list[SyncAction]:
        """``peer`` connected: ask for its status. Adding a known peer changes nothing."""
        self._tick(now)
        if peer in self._peers:
            return []
        self._banned.pop(peer, None)
        self._order += 1
        self._peers[peer] = _Peer(self._order, status_due=now + self.config.status_interval)
        return [SendTo(peer, GetStatus())]

    def remove_peer(self, peer: PeerId, now: float) -> list[SyncAction]:
        """``peer`` left: its requests go to others; what it sent and is buffered stays."""
        self._tick(now)
        state = self._peers.pop(peer, None)
        if state is not None:
            self._forget_requests(state)
        return self._step(now)

    def on_status(self, peer: PeerId, status: Status, now: float) -> list[SyncAction]:
        """``peer`` says where it is (asked or not: a ``Status`` also comes at handshake).

        An unknown peer is added by its first status; a penalized one is ignored.
        """
        self._tick(now)
        out: list[SyncAction] = []
        if peer in self._banned:
            return out
        state = self._peers.get(peer)
        if state is None:
            out += self.add_peer(peer, now)
            state = self._peers[peer]
        state.claimed = status.height
        return out + self._step(now)

    def on_blocks(self, peer: PeerId, blocks: Blocks, now: float) -> list[SyncAction]:
        """``peer`` answered a ``GetBlocks`` (or says it did)."""
        self._tick(now)
        if peer in self._banned:
            return []
        state = self._peers.get(peer)
        if state is None:
            return self._penalize(peer, Offence.UNSOLICITED, f"a page from height {blocks.start} from an unknown peer")
        commits = blocks.commits
        request = state.requests.get(blocks.start)
        # Answers to expired requests may still come, possibly after a newer request
        # for the same start was sent: a page is matched with the outstanding request
        # for its start with the fewest heights that still fit it (best fit: if some
        # assignment of pages to requests fits, this one does too).
        late = [e for e in state.late if e[0] == blocks.start]
        fits = [e for e in late if e[1] >= len(commits)]
        best_late = min(fits, key=lambda e: e[1], default=None)
        if request is not None and len(commits) <= request.count and (
            best_late is None or request.count <= best_late[1]
        ):
            del state.requests[blocks.start]
            self._release(request)
            count, max_bytes = request.count, request.max_bytes
        elif best_late is not None:
            state.late.remove(best_late)
            count, max_bytes = best_late[1], self.config.page_bytes
        elif request is not None or late:
            count = request.count if request is not None else max(e[1] for e in late)
            return self._penalize(peer, Offence.OVER_LIMIT, f"{len(commits)} heights for a request of {count}")
        else:
            return self._penalize(peer, Offence.UNSOLICITED, f"no request from height {blocks.start}")
        sizes = [commit_size(c) for c in commits]
        if len(commits) > 1 and sum(sizes) > max_bytes:
            return self._penalize(peer, Offence.OVER_LIMIT, f"{sum(sizes)} bytes for a request of {max_bytes}")
        if not commits:
            if blocks.start <= self._credible(state) and blocks.start > self._height:
                self._cap(state, blocks.start - 1, now)
        else:
            state.timeouts = 0
            if state.ceiling is not None and blocks.start + len(commits) - 1 > state.ceiling:
                state.ceiling = None
            for commit, size in zip(commits, sizes, strict=True):
                height = commit.height
                if self._height < height <= self._height + self.config.window and height not in self._buffer:
                    self._buffer[height] = (peer, commit, size)
                    self._buffered_bytes += size
        return self._step(now)

    def set_height(self, height: int, now: float) -> list[SyncAction]:
        """The local chain is at ``height`` now (consensus moved it, or a commit was applied)."""
        self._tick(now)
        if type(height) is not int or height < 0:
            raise InvalidArgumentError("height", "height must be a non-negative int")
        if height > self._height:
            old, self._height = self._height, height
            if self._handed is not None and self._handed <= height:
                self._handed = None
            # Usually one height at a time: look at the heights passed, not the buffer.
            passed = range(old + 1, height + 1) if height - old <= self.config.window else None
            for stale in passed if passed is not None else [h for h in self._buffer if h <= height]:
                entry = self._buffer.pop(stale, None)
                if entry is not None:
                    self._buffered_bytes -= entry[2]
            for stale in passed if passed is not None else [h for h in self._avoid if h <= height]:
                self._avoid.pop(stale, None)
        return self._step(now)

    def applied(self, height: int, now: float) -> list[SyncAction]:
        """The commit handed out for ``height`` was applied (same as :meth:`set_height`)."""
        return self.set_height(height, now)

    def rejected(self, peer: PeerId, height: int, offence: Offence, now: float, detail: str = "") -> list[SyncAction]:
        """The commit ``peer`` sent for ``height`` did not apply, for ``offence``.

        The peer is penalized and dropped with everything it sent; the height is fetched
        again from someone else.
        """
        self._tick(now)
        if self._handed == height:
            self._handed = None
        entry = self._buffer.get(height)
        if entry is not None and entry[0] == peer:
            self._buffered_bytes -= self._buffer.pop(height)[2]
        return self._penalize(peer, offence, detail or f"commit for height {height}")

    def next_deadline(self) -> float | None:
        """When :meth:`poll` next has something to do (``None``: nothing until an input)."""
        deadlines = [r.deadline for r in self._inflight.values()]
        for state in self._peers.values():
            deadlines.append(state.status_due)
            if state.ceiling is not None:
                deadlines.append(state.ceiling_until)
            if state.next_send > self._now and len(state.requests) < self.config.requests_per_peer:
                deadlines.append(state.next_send)
        return min(deadlines, default=None)

    def poll(self, now: float) -> list[SyncAction]:
        """Time is ``now``: expire requests, send due ``GetStatus``, lift expired caps, plan."""
        self._tick(now)
        out: list[SyncAction] = []
        for peer, state in self._peers.items():
            for start, request in list(state.requests.items()):
                if request.deadline <= now:
                    del state.requests[start]
                    self._release(request)
                    state.late.append((start, request.count))
                    state.timeouts += 1
                    for height in range(start, start + request.count):
                        self._avoid[height] = peer
                    if state.timeouts >= self.config.max_timeouts:
                        self._cap(state, start - 1, now)
            if state.ceiling is not None and state.ceiling_until <= now:
                state.ceiling = None
            if state.status_due <= now:
                state.status_due = now + self.config.status_interval
                out.append(SendTo(peer, GetStatus()))
        return out + self._step(now)

    # -- planning ------------------------------------------------------------------------

    def _tick(self, now: float) -> None:
        self._now = max(self._now, now)

    def _credible(self, state: _Peer) -> int:
        claim = state.claimed
        if state.ceiling is not None:
            claim = min(claim, state.ceiling)
        return claim

    def _cap(self, state: _Peer, ceiling: int, now: float) -> None:
        # Doubling: a peer that keeps claiming what it cannot deliver is asked ever more rarely.
        state.ceiling_ttl = min(3600.0, 2 * state.ceiling_ttl) if state.ceiling_ttl else self.config.ceiling_ttl
        state.ceiling = max(ceiling, 0)
        state.ceiling_until = now + state.ceiling_ttl
        state.timeouts = 0

    def _release(self, request: _Request) -> None:
        for height in range(request.start, request.start + request.count):
            if self._inflight.get(height) is request:
                del self._inflight[height]

    def _forget_requests(self, state: _Peer) -> None:
        for request in state.requests.values():
            self._release(request)
        state.requests.clear()

    def _penalize(self, peer: PeerId, offence: Offence, detail: str) -> list[SyncAction]:
        state = self._peers.pop(peer, None)
        if state is not None:
            self._forget_requests(state)
        for height in [h for h, entry in self._buffer.items() if entry[0] == peer]:
            self._buffered_bytes -= self._buffer.pop(height)[2]
            if self._handed == height:
                self._handed = None
        self._banned[peer] = None
        while len(self._banned) > _MAX_BANNED:
            self._banned.popitem(last=False)
        return [Penalize(peer, offence, detail), *self._step(self._now)]

    def _step(self, now: float) -> list[SyncAction]:
        out: list[SyncAction] = []
        self._request(now, out)
        nxt = self._height + 1
        if self._handed is None and nxt in self._buffer:
            peer, commit, _ = self._buffer[nxt]
            self._handed = nxt
            out.append(ApplyCommit(peer, commit))
        target = self.target
        if target > self._height:
            if not self._syncing or now - self._progress_at >= self.config.progress_interval:
                self._syncing = True
                self._progress_at = now
                serving = sum(1 for p in self._peers.values() if self._credible(p) > self._height)
                out.append(SyncProgress(self._height, target, serving, self.in_flight, len(self._buffer)))
        elif self._syncing and not self._inflight and self._handed is None:
            # What is still buffered lies above every credible claim (its sender has
            # since been capped): it cannot be applied before someone serves the gap.
            self._buffer.clear()
            self._buffered_bytes = 0
            self._syncing = False
            out.append(SyncDone(self._height))
        return out

    def _request(self, now: float, out: list[SyncAction]) -> None:
        cfg = self.config
        top = min(self._height + cfg.window, self.target)
        if top <= self._height:
            return
        reserved = sum(r.max_bytes for p in self._peers.values() for r in p.requests.values())
        busy = sum(1 for p in self._peers.values() if p.requests)
        # Only peers that may take a request now are candidates; with none there is
        # nothing to plan (this runs after every applied commit: it must be cheap).
        free = [
            p
            for p, s in self._peers.items()
            if s.next_send <= now
            and len(s.requests) < cfg.requests_per_peer
            and (s.requests or busy < cfg.max_peers)
        ]
        height = self._height + 1
        while free:
            top = min(top, max(self._credible(self._peers[p]) for p in free))
            while height <= top and (height in self._buffer or height in self._inflight):
                height += 1
            if height > top:
                return
            if self._buffered_bytes + reserved + cfg.page_bytes > cfg.max_buffer_bytes:
                return
            peer = self._choose(height, free)
            if peer is None:
                height += 1
                continue
            state = self._peers[peer]
            last = min(top, self._credible(state), height + cfg.page_blocks - 1)
            count = 1
            while height + count <= last and height + count not in self._buffer and height + count not in self._inflight:
                count += 1
            request = _Request(peer, height, count, cfg.page_bytes, now + cfg.request_timeout)
            if not state.requests:
                busy += 1
            state.requests[height] = request
            state.next_send = now + cfg.min_request_interval
            reserved += request.max_bytes
            for h in range(height, height + count):
                self._inflight[h] = request
                self._avoid.pop(h, None)
            out.append(SendTo(peer, GetBlocks(height, count, request.max_bytes)))
            height += count
            free = [
                p
                for p in free
                if self._peers[p].next_send <= now
                and len(self._peers[p].requests) < cfg.requests_per_peer
                and (self._peers[p].requests or busy < cfg.max_peers)
            ]

    def _choose(self, height: int, free: list[PeerId]) -> PeerId | None:
        avoid = self._avoid.get(height)
        # A height whose request timed out goes to another peer whenever another has it,
        # even if that means waiting for a free slot there.
        if avoid is not None and not any(
            p != avoid and self._credible(s) >= height for p, s in self._peers.items()
        ):
            avoid = None
        best: tuple[int, int, int] | None = None
        chosen: PeerId | None = None
        for peer in free:
            state = self._peers[peer]
            if peer == avoid or self._credible(state) < height:
                continue
            rank = (state.timeouts, len(state.requests), state.order)
            if best is None or rank < best:
                best, chosen = rank, peer
        return chosen
