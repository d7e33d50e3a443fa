"""A deterministic world: real consensus nodes over a simulated network in virtual time.

Everything random comes from one ``random.Random(seed)``, every event carries a
sequence number that breaks time ties in insertion order, and nodes are the real
:class:`~timecoin_core.consensus.node.ConsensusNode` — so a seed number alone replays
a run exactly, failures included.

Faults (when ``SimConfig.faults``): random message delay (which reorders), loss and
duplication; one partition that splits the nodes in two halves and heals; one honest
node that crashes (receives nothing, its timers stop) and restarts from its durable
state only — with ``SimConfig.long_outage``, after staying down longer than the
engines' commit history, so it can only come back through block sync; double-spend floods (a client sends two conflicting transactions to disjoint
halves of the network); and byzantine masternodes, each with one behaviour:

* ``equivocate``: every block vote it sends has a conflicting twin sent to the other
  half, and it signs accept votes for every transaction it sees, conflicts included;
* ``silent``: it sends nothing (a silent leader and a silent voter);
* ``invalid-proposal``: its proposals carry a block with inflated rewards;
* ``mutate``: its proposals are rewritten by the :class:`~timecoin_core.sim.adversary.Adversary`
  (double spends of final transactions, certificate and digest mutations, replays,
  wrong rewards, truncated values, false evidence, equivocating valid blocks), in
  collusion with the clients whose keys it holds;
* ``withhold``: it sends its votes to a random subset of peers only, late.

With the adversary, colluding clients also send byzantine registrations and co-signed
swaps raced by the co-signer (see docs/consensus.md).

Byzantine weight always stays below one third of the total voting weight.

Block sync (``SimConfig.sync``): every node runs a
:class:`~timecoin_core.consensus.sync.SyncPlanner`; ``GetStatus``/``Status`` and
``GetBlocks``/``Blocks`` travel through the same network model (and wire) as every
other message, and applied commits go through ``ConsensusNode.apply_commit``. With the
adversary, byzantine nodes lie to it: they claim height ``2**63`` and answer pages with
nothing, or with real blocks under forged commit certificates.
"""

from __future__ import annotations

import heapq
import random
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, cast

from ..amount import coins
from ..block import Block
from ..builder import TransactionBuilder
from ..chain import ChainState
from ..consensus.bft import BlockVoteSigned
from ..consensus.bft_messages import (
    BlockVote,
    Commit,
    CommitCertificate,
    DoubleVoteEvidence,
    Proposal,
)
from ..consensus.driver import Driver
from ..consensus.finality_messages import ConflictingVotesEvidence, FinalityCertificate, VoteBatch
from ..consensus.locked_value import LockedValue
from ..consensus.node import (
    BlockCommitted,
    ConsensusNode,
    NodeAction,
    NodeConfig,
    NodeEvent,
    ProposalValue,
    TxDropped,
    TxFinal,
)
from ..consensus.registry import Registry, registration_memo
from ..consensus.sansio import Broadcast, Penalize, SendTo, SetTimer
from ..consensus.sync import (
    ApplyCommit,
    SyncAction,
    SyncCommitError,
    SyncDone,
    SyncPlanner,
)
from ..errors import TimecoinError
from ..keys import PrivateKey
from ..network import DEVNET, GenesisMasternode, GenesisOutput, Network, Tier
from ..transaction import OutPoint, Transaction, TxOut
from ..verify import SignatureCheck, SyncVerifier
from ..wire import Message, WireMesh
from ..wire.messages import Blocks, GetBlocks, GetStatus, Status
from .adversary import Adversary

__all__ = ["Behaviour", "SimConfig", "SimConfigError", "World"]

_RETRY_AFTER = 5.0
"""Virtual seconds a client waits for finality before sending its transaction again."""


class Behaviour(Enum):
    """What a byzantine masternode does."""

    EQUIVOCATE = "equivocate"
    SILENT = "silent"
    INVALID_PROPOSAL = "invalid-proposal"
    MUTATE = "mutate"
    WITHHOLD = "withhold"


class SimConfigError(TimecoinError, ValueError):
    """A :class:`SimConfig` refused when built. Also a ``ValueError``, as it was before it was typed."""


@dataclass(frozen=True)
class SimConfig:
    """One simulated scenario; validated on construction.

    ``duration``: virtual seconds during which clients submit transactions and faults
    happen; then ``settle`` seconds of a healthy network (messages delayed but never
    lost, duplicated or partitioned; no new transactions), at the end of which every
    liveness invariant must hold.
    """

    nodes: int = 4
    byzantine: int = 0
    duration: float = 30.0
    settle: float = 40.0
    tx_rate: float = 2.0
    faults: bool = True
    min_delay: float = 0.005
    max_delay: float = 0.25
    loss: float = 0.05
    duplicate: float = 0.03
    double_spend_share: float = 0.15
    clients: int = 4
    block_interval: float = 1.0
    behaviours: tuple[str, ...] = ()
    """Behaviours byzantine masternodes draw from (names of :class:`Behaviour`); empty: all."""
    honest_faults: bool = True
    """With the adversary: one honest voter consistently slower than the rest and one
    honest node whose clock runs two minutes behind."""
    wire: bool = True
    """Carry every node-to-node message as bytes through real peer sessions (a
    :class:`~timecoin_core.wire.WireMesh`): the codec, the record layer, the header
    checks and the token buckets run on every message. The network model stays above
    the wire (loss and duplicates drop or repeat messages before they are sent; each
    link's bytes arrive in order, as on a stream)."""
    adversary: bool = True
    """The searching adversary (``mutate`` and ``withhold`` behaviours, byzantine
    registrations). False replays a seed exactly as the simulator did before it existed
    (byzantine nodes draw from ``equivocate``, ``silent`` and ``invalid-proposal`` only)."""
    sync: bool = True
    """Every node runs the block-sync planner (status on a timer, pages through the network)."""
    long_outage: bool = False
    """With faults: the crashed honest node stays down for at least ``outage_blocks``
    block intervals, longer than the engines' commit history (16), so only block sync
    brings it back to the tip — but is back by half the settle time at the latest (a
    short run gets a shorter outage). Off by default: with a silent byzantine node the
    outage also stops the chain (no quorum), the round timeouts grow meanwhile, and the
    campaign's settle time no longer covers the recovery (seed 712 ends one block short);
    the sync tests turn it on."""
    outage_blocks: int = 24
    """Least length of a long outage, in block intervals."""

    def __post_init__(self) -> None:
        if self.nodes < 1 or self.byzantine < 0 or self.byzantine >= self.nodes:
            raise SimConfigError("need at least one node and fewer byzantine nodes than nodes")
        if 3 * self.byzantine >= self.nodes:
            raise SimConfigError("byzantine weight must stay below one third (equal weights: 3*b < n)")
        if self.duration <= 0 or self.settle <= 0 or self.tx_rate < 0:
            raise SimConfigError("duration and settle must be positive, tx_rate non-negative")
        if not 0 <= self.loss < 1 or not 0 <= self.duplicate < 1 or not 0 < self.min_delay <= self.max_delay:
            raise SimConfigError("bad delay, loss or duplication parameters")
        if self.clients < 2:
            raise SimConfigError("need at least two clients")
        if self.outage_blocks < 0:
            raise SimConfigError("outage_blocks must be non-negative")
        known = {b.value for b in Behaviour}
        unknown = [b for b in self.behaviours if b not in known]
        if unknown:
            raise SimConfigError(f"unknown behaviours {unknown}; known: {sorted(known)}")


@dataclass
class _Client:
    key: PrivateKey
    coins: list[tuple[OutPoint, TxOut]]


@dataclass
class Record:
    """What the world observed, for the invariant checks and the summary."""

    submitted: dict[bytes, float] = field(default_factory=dict)
    """txid -> virtual time a client submitted it."""
    transactions: dict[bytes, Transaction] = field(default_factory=dict)
    conflicting: set[bytes] = field(default_factory=set)
    """txids that are one side of a double spend."""
    final_at: dict[int, dict[bytes, float]] = field(default_factory=dict)
    """node -> txid -> time it became final there."""
    committed: dict[int, dict[int, bytes]] = field(default_factory=dict)
    """node -> height -> block hash."""
    dropped: dict[int, dict[bytes, str]] = field(default_factory=dict)
    registrations: dict[bytes, list[bytes]] = field(default_factory=dict)
    """operator key -> txids of the registrations of it that clients sent."""
    invalid: dict[bytes, str] = field(default_factory=dict)
    """txid -> why: transactions the adversary sent that no honest node may accept."""
    unproven: list[tuple[int, int, bytes]] = field(default_factory=list)
    """(node, height, txid): a transaction an honest node committed that was final at no
    honest node and came with no certificate that verifies."""
    heights_at_settle: list[int] = field(default_factory=list)
    """Honest nodes' heights when the network turned healthy."""
    swaps: list[tuple[bytes, bytes]] = field(default_factory=list)
    """(swap, rival): co-signed swaps raced by the co-signer's own double spend."""
    penalties: list[tuple[int, int, str]] = field(default_factory=list)
    """(by, peer, offence): every :class:`~timecoin_core.consensus.sansio.Penalize` a node issued."""
    synced: dict[int, int] = field(default_factory=dict)
    """node -> commits it applied through block sync."""
    sync_done: dict[int, list[int]] = field(default_factory=dict)
    """node -> heights at which its planner reported ``SyncDone``."""
    events: int = 0
    cpu_seconds: float = 0.0


class World:
    """Nodes, clients, a network and a clock for one seed."""

    T0 = float(DEVNET.genesis_timestamp)

    def __init__(self, seed: int, config: SimConfig) -> None:
        self.seed = seed
        self.config = config
        self.rng = random.Random(seed)
        self.record = Record()
        self._queue: list[tuple[float, int, str, Any]] = []
        self._seq = 0
        self._wakes: dict[int, tuple[float, int]] = {}
        """node -> (time, generation) of the one wake-up scheduled for its driver's timers."""
        self._sync_wakes: dict[int, tuple[float, int]] = {}
        """The same for each node's sync planner."""
        self._sync_work: dict[int, deque[SyncAction]] = {}
        self._sync_busy: set[int] = set()
        self._offline: set[int] = set()
        self._partition: tuple[frozenset[int], frozenset[int]] | None = None
        self._heights_at_settle: list[int] = []
        self.now = self.T0
        self.keys = [PrivateKey.from_seed(self.rng.randbytes(32)) for _ in range(config.nodes)]
        owner = PrivateKey.from_seed(self.rng.randbytes(32))
        client_keys = [PrivateKey.from_seed(self.rng.randbytes(32)) for _ in range(config.clients)]
        per_client = int(config.tx_rate * config.duration * (1 + config.double_spend_share)) // config.clients + 8
        outputs = [GenesisOutput(owner.public_key.payload, Tier.BRONZE.collateral) for _ in self.keys]
        for key in client_keys:
            outputs += [GenesisOutput(key.public_key.payload, coins("10")) for _ in range(per_client)]
        masternodes = tuple(GenesisMasternode(k.public_key.data, i) for i, k in enumerate(self.keys))
        # A low registration floor so that colluding clients can afford registrations.
        self.network: Network = replace(DEVNET, min_collateral=coins("5")).with_genesis(tuple(outputs), masternodes)
        self.network = _with_interval(self.network, config.block_interval)
        node_config = NodeConfig()
        self.drivers = [Driver(ConsensusNode(self.network, key, config=node_config)) for key in self.keys]
        self.planners = [SyncPlanner(0, self.now) for _ in self.keys]
        # Lies told to planners come from their own stream, like the adversary's.
        self._sync_rng = random.Random(f"timecoin-sim-sync-{seed}")
        genesis_txid = self.nodes[0].chain.genesis.reward_txid
        self.clients: list[_Client] = []
        position = len(self.keys)
        for key in client_keys:
            mine = [(OutPoint(genesis_txid, position + k), TxOut(coins("10"), key.public_key.payload)) for k in range(per_client)]
            position += per_client
            self.clients.append(_Client(key, mine))
        order = self.rng.sample(range(config.nodes), config.nodes)
        pool = [Behaviour(b) for b in config.behaviours] or (list(Behaviour) if config.adversary else _CLASSIC)
        self.byzantine: dict[int, Behaviour] = {i: self.rng.choice(pool) for i in order[: config.byzantine]}
        self.honest = [i for i in range(config.nodes) if i not in self.byzantine]
        # The adversary draws from its own stream, so turning it off replays a seed's
        # original schedule draw for draw.
        self._adversary_rng = random.Random(f"timecoin-sim-adversary-{seed}")
        self.adversary = Adversary(
            random.Random(self._adversary_rng.randbytes(16)),
            self.network.chain_id,
            {key.public_key.payload: key for key in client_keys},
        )
        self._values: dict[bytes, ProposalValue] = {}
        self._signed: dict[int, list[BlockVote]] = {i: [] for i in range(config.nodes)}
        # Per node, as a store keeps them: per height the locked value of the highest round.
        self._locked: dict[int, dict[int, LockedValue]] = {i: {} for i in range(config.nodes)}
        self.mesh = WireMesh(self.network, self.keys, now=self.now, seed=seed.to_bytes(8, "little")) if config.wire else None
        self._link_clock: dict[tuple[int, int], float] = {}
        # One honest voter is consistently slower than the rest (its messages take up
        # to three times as long): it takes part in every height and must never be
        # deactivated as "absent".
        self._slow: dict[int, float] = {}
        # And one honest node's clock runs two minutes behind: it must still follow the
        # chain (commits override its clock) and learn its skew from proposals.
        self._clock_offset: dict[int, float] = {}
        if config.adversary and config.honest_faults and config.faults and len(self.honest) > 1:
            self._slow[self._adversary_rng.choice(self.honest)] = 3.0
            self._clock_offset[self._adversary_rng.choice(self.honest)] = -120.0
        for i in range(config.nodes):
            self.record.final_at[i] = {}
            self.record.committed[i] = {}
            self.record.dropped[i] = {}
            self.record.synced[i] = 0
            self.record.sync_done[i] = []

    @property
    def nodes(self) -> list[ConsensusNode]:
        """The nodes, by index (a restarted node replaces its predecessor)."""
        return [driver.node for driver in self.drivers]

    # -- scheduling ----------------------------------------------------------------------

    def _push(self, at: float, kind: str, data: Any) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (at, self._seq, kind, data))

    def _schedule(self) -> None:
        cfg = self.config
        end = self.T0 + cfg.duration
        t = self.T0
        while cfg.tx_rate > 0:
            t += self.rng.expovariate(cfg.tx_rate)
            if t >= end:
                break
            self._push(t, "client", None)
        if cfg.faults and cfg.byzantine and cfg.adversary:
            # Byzantine registrations: front-running honest operator keys, floors
            # undercut, valid Free registrations and duplicates of them.
            t = self.T0
            while True:
                t += self._adversary_rng.expovariate(0.2)
                if t >= end:
                    break
                self._push(t, "register", None)
            # Co-signed swaps raced by the co-signer: the victim's coin may freeze for
            # good; every honest node must at least say so (a contest, not "pending").
            t = self.T0
            while True:
                t += self._adversary_rng.expovariate(0.1)
                if t >= end:
                    break
                self._push(t, "swap", None)
        if cfg.faults:
            start = self.T0 + self.rng.uniform(0.15, 0.4) * cfg.duration
            heal = start + self.rng.uniform(0.1, 0.3) * cfg.duration
            members = self.rng.sample(range(cfg.nodes), cfg.nodes)
            half = cfg.nodes // 2
            self._push(start, "partition", (frozenset(members[:half]), frozenset(members[half:])))
            self._push(heal, "heal", None)
            if self.honest and cfg.nodes > 1:
                victim = self.rng.choice(self.honest)
                down = self.T0 + self.rng.uniform(0.5, 0.7) * cfg.duration
                length = self.rng.uniform(1.0, 0.2 * cfg.duration)
                if cfg.long_outage:
                    # Back by half the settle time at the latest, so it must catch up
                    # while the network is healthy (short runs get shorter outages).
                    latest = self.T0 + cfg.duration + cfg.settle / 2 - down
                    length = max(length, min(cfg.outage_blocks * cfg.block_interval, latest))
                self._push(down, "crash", victim)
                self._push(down + length, "restart", victim)

    # -- running -------------------------------------------------------------------------

    def run(self) -> Record:
        """Run the scenario to its end and return what was observed."""
        started = time.process_time()
        for i, driver in enumerate(self.drivers):
            self._apply(i, driver.start(self.now, wall=self._clock(i)))
        if self.config.sync:
            for i in range(self.config.nodes):
                self._start_sync(i)
        self._schedule()
        self._push(self.T0 + self.config.duration, "settle", None)
        end = self.T0 + self.config.duration + self.config.settle
        while self._queue and self._queue[0][0] <= end:
            at, _, kind, data = heapq.heappop(self._queue)
            self.now = at
            self.record.events += 1
            self._dispatch(kind, data)
        self.now = end
        self.record.cpu_seconds = time.process_time() - started
        self.record.heights_at_settle = self._heights_at_settle
        return self.record

    def _dispatch(self, kind: str, data: Any) -> None:
        if kind == "deliver":
            sender, target, message = data
            if target in self.byzantine:
                self.adversary.observe(message)
            if target not in self._offline:
                self._handle(target, message, sender)
        elif kind == "bytes":
            sender, target, payload, generation = data
            assert self.mesh is not None
            messages, reply = self.mesh.deliver(sender, target, payload, self.now, generation)
            if reply:
                self._route(target, sender, reply, self.now + self.config.min_delay)
            for message in messages:
                if target in self.byzantine:
                    self.adversary.observe(message)
                if target not in self._offline:
                    self._handle(target, cast(NodeEvent, message), sender)
        elif kind == "wake":
            target, generation = data
            if self._wakes.get(target, (0.0, -1))[1] != generation:
                return
            del self._wakes[target]
            if target in self._offline:
                return  # its timers died with it; the restart sets new ones
            self._apply(target, self.drivers[target].fire_due(self.now, wall=self._clock(target)))
        elif kind == "sync-wake":
            target, generation = data
            if self._sync_wakes.get(target, (0.0, -1))[1] != generation:
                return
            del self._sync_wakes[target]
            if target not in self._offline:
                self._sync(target, self.planners[target].poll(self.now))
        elif kind == "client":
            self._client_step()
        elif kind == "retry":
            self._retry(data)
        elif kind == "register":
            self._byzantine_registration()
        elif kind == "swap":
            self._raced_swap()
        elif kind == "partition":
            self._partition = data
        elif kind == "heal":
            self._partition = None
        elif kind == "settle":
            self._heights_at_settle = [self.nodes[i].chain.height for i in self.honest]
        elif kind == "crash":
            self._offline.add(data)
        elif kind == "restart":
            self._offline.discard(data)
            self._restart(data)

    def _restart(self, index: int) -> None:
        # A crash loses everything that is not durable: the pool's pending
        # transactions, others' votes, the BFT round in progress. What a real shell
        # persists before acting on it — blocks, its own finality votes and signed block
        # votes with the values its precommits locked on, final transactions, evidence,
        # commits — is all the new node gets.
        old = self.nodes[index]
        state = _Durable(
            chain=old.chain.copy(),
            registry=old.registry.copy(),
            voted_outpoints=old.finality.voted_outpoints(),
            finals=[(e.tx, old.certificates[e.txid]) for e in old.pool if e.final and e.txid in old.certificates],
            evidence=list(old.evidence.values()),
            commits=dict(old.commits),
            signed_votes=list(self._signed[index]),
            locked_values=[self._locked[index][h] for h in sorted(self._locked[index])],
        )
        if self.mesh is not None:
            # A restarted process has new connections: what was in flight to or from
            # its old self is gone (replies to its old requests included).
            for peer in range(self.config.nodes):
                if peer != index:
                    self.mesh.reconnect(index, peer, self.now)
        node = ConsensusNode.restore(self.network, self.keys[index], state, self.now, config=old.config)
        self._apply(index, self.drivers[index].restart(node, self.now, wall=self._clock(index)))
        if self.config.sync:
            # The planner's state is not durable: a new one, from the restored height.
            self._start_sync(index)

    def _handle(self, index: int, event: NodeEvent, origin: int | None) -> None:
        if isinstance(event, GetStatus | Status | GetBlocks | Blocks):
            if self.config.sync and origin is not None:
                self._on_sync_message(index, event, origin)
            return
        driver = self.drivers[index]
        node = driver.node
        behaviour = self.byzantine.get(index)
        extra: list[NodeAction] = []
        if behaviour is Behaviour.EQUIVOCATE and isinstance(event, Transaction):
            extra.append(
                Broadcast(VoteBatch.create(self.keys[index], self.network.chain_id, node.finality.epoch, [event.txid]))
            )
        self._apply(index, [*driver.handle(event, self.now, wall=self._clock(index), origin=origin), *extra])

    def _clock(self, index: int) -> float:
        # A node's wall clock (its timers run on the world's monotonic time).
        return self.now + self._clock_offset.get(index, 0.0)

    def _apply(self, index: int, actions: list[NodeAction]) -> None:
        behaviour = self.byzantine.get(index)
        for action in actions:
            if isinstance(action, Broadcast):
                self._broadcast(index, action, behaviour)
            elif isinstance(action, SendTo):
                if behaviour is not Behaviour.SILENT:
                    assert isinstance(action.peer, int)
                    self._send(index, action.peer, action.message)
            elif isinstance(action, Penalize):
                assert isinstance(action.peer, int)
                self.record.penalties.append((index, action.peer, action.offence.value))
            elif isinstance(action, TxFinal):
                self.record.final_at[index].setdefault(action.txid, self.now)
            elif isinstance(action, TxDropped):
                self.record.dropped[index][action.txid] = action.reason
            elif isinstance(action, BlockVoteSigned):
                self._signed[index].append(action.vote)
                locked = action.locked  # recorded in the same durable write (record_signed_vote)
                kept = self._locked[index].get(locked.height) if locked is not None else None
                if locked is not None and (kept is None or kept.round <= locked.round):
                    self._locked[index][locked.height] = locked
            elif isinstance(action, BlockCommitted):
                self.record.committed[index][action.block.height] = action.block.hash
                if index not in self.byzantine:
                    self._check_proven(index, action.block)
        self._arm(index)
        if self.config.sync and self.planners[index].height < self.drivers[index].node.chain.height:
            self._sync(index, self.planners[index].set_height(self.drivers[index].node.chain.height, self.now))

    # -- block sync ----------------------------------------------------------------------

    def _start_sync(self, index: int) -> None:
        planner = SyncPlanner(self.drivers[index].node.chain.height, self.now)
        self.planners[index] = planner
        self._sync_wakes.pop(index, None)
        self._sync_work[index] = deque()
        actions: list[SyncAction] = []
        # Peers connect in some order, and the planner tries them in that order.
        peers = [p for p in range(self.config.nodes) if p != index]
        for peer in self._sync_rng.sample(peers, len(peers)):
            actions += planner.add_peer(peer, self.now)
        self._sync(index, actions)

    def _on_sync_message(self, index: int, message: GetStatus | Status | GetBlocks | Blocks, origin: int) -> None:
        node = self.drivers[index].node
        behaviour = self.byzantine.get(index)
        if isinstance(message, GetStatus | GetBlocks):
            if behaviour is Behaviour.SILENT:
                return
            liar = behaviour is not None and self.config.adversary
            reply: Status | Blocks
            if isinstance(message, GetStatus):
                status = node.status()
                reply = Status(2**63, status.tip, status.epoch, status.final_cursor) if liar else status
            else:
                reply = node.blocks_page(message)
                if liar:
                    reply = self._lie(message, reply)
            self._send(index, origin, reply)
        elif isinstance(message, Status):
            self._sync(index, self.planners[index].on_status(origin, message, self.now))
        else:
            self._sync(index, self.planners[index].on_blocks(origin, message, self.now))

    def _lie(self, request: GetBlocks, page: Blocks) -> Blocks:
        # A byzantine server claims everything: above its tip it cannot deliver (an
        # empty page); below, it forges the certificates of real blocks (one signature
        # flipped, so the quorum looks right) or, now and then, says it has nothing.
        if not page.commits or self._sync_rng.random() < 0.2:
            return Blocks(request.start, ())
        forged = []
        for commit in page.commits:
            certificate = commit.certificate
            voter, signature = certificate.precommits[0]
            flipped = ((voter, bytes([signature[0] ^ 1]) + signature[1:]), *certificate.precommits[1:])
            forged.append(Commit(commit.value, replace(certificate, precommits=flipped)))
        return Blocks(page.start, tuple(forged))

    def _sync(self, index: int, actions: list[SyncAction]) -> None:
        # Applying a commit produces node actions, which may move the planner's height,
        # which produces planner actions: one queue per node keeps that iterative.
        work = self._sync_work.setdefault(index, deque())
        work.extend(actions)
        if index in self._sync_busy:
            return
        self._sync_busy.add(index)
        try:
            while work:
                self._sync_action(index, work.popleft(), work)
        finally:
            self._sync_busy.discard(index)
        self._arm_sync(index)

    def _sync_action(self, index: int, action: SyncAction, work: deque[SyncAction]) -> None:
        planner = self.planners[index]
        if isinstance(action, SendTo):
            if index not in self._offline and self.byzantine.get(index) is not Behaviour.SILENT:
                assert isinstance(action.peer, int)
                self._send(index, action.peer, action.message)
        elif isinstance(action, Penalize):
            assert isinstance(action.peer, int)
            self.record.penalties.append((index, action.peer, action.offence.value))
        elif isinstance(action, ApplyCommit):
            driver = self.drivers[index]
            node = driver.node
            if action.height != node.chain.height + 1:
                work.extend(planner.set_height(node.chain.height, self.now))
                return
            try:
                applied = node.apply_commit(action.commit, self.now, wall=self._clock(index))
            except SyncCommitError as exc:
                work.extend(planner.rejected(action.peer, action.height, exc.offence, self.now, str(exc)))
                return
            self.record.synced[index] += 1
            for timer in applied:
                if isinstance(timer, SetTimer):
                    driver.schedule(timer)
            self._apply(index, [a for a in applied if not isinstance(a, SetTimer)])
            work.extend(planner.applied(node.chain.height, self.now))
        elif isinstance(action, SyncDone):
            self.record.sync_done[index].append(action.height)

    def _arm_sync(self, index: int) -> None:
        deadline = self.planners[index].next_deadline()
        if deadline is None:
            return
        scheduled = self._sync_wakes.get(index)
        if scheduled is not None and scheduled[0] <= deadline:
            return
        generation = (scheduled[1] if scheduled is not None else 0) + 1
        self._sync_wakes[index] = (deadline, generation)
        self._push(max(deadline, self.now), "sync-wake", (index, generation))

    def _arm(self, index: int) -> None:
        # One pending wake-up per node, at its driver's earliest timer: a generation
        # number retires a wake-up that a nearer deadline overtook.
        deadline = self.drivers[index].next_deadline()
        if deadline is None:
            return
        scheduled = self._wakes.get(index)
        if scheduled is not None and scheduled[0] <= deadline:
            return
        generation = (scheduled[1] if scheduled is not None else 0) + 1
        self._wakes[index] = (deadline, generation)
        self._push(max(deadline, self.now), "wake", (index, generation))

    def _check_proven(self, index: int, block: Block) -> None:
        # Every committed transaction must be final at some honest node or come with a
        # certificate that verifies: anything else is a block that bypassed finality.
        value = self._values.get(block.hash)
        node = self.nodes[index]
        for tx in block.transactions:
            if any(tx.txid in self.record.final_at[i] for i in self.honest):
                continue
            certificate = None
            if value is not None:
                certificate = next((c for c in value.certificates if c.txid == tx.txid), None)
            if certificate is not None:
                try:
                    voting_set = node.registry.voting_set(certificate.epoch)
                except TimecoinError:
                    voting_set = None
                if voting_set is not None and certificate.verify(voting_set, self.network.chain_id, _verify_all):
                    continue
            self.record.unproven.append((index, block.height, tx.txid))

    def _broadcast(self, sender: int, action: Broadcast, behaviour: Behaviour | None) -> None:
        message = action.message
        if behaviour is Behaviour.SILENT:
            return
        others = [j for j in range(self.config.nodes) if j != sender and j != action.exclude]
        if isinstance(message, Proposal):
            self._remember(message.value)
        if behaviour is Behaviour.MUTATE and isinstance(message, Proposal):
            for targets, proposal in self.adversary.mutate(self.nodes[sender], self.keys[sender], message, others):
                self._remember(proposal.value)
                for j in targets:
                    self._send(sender, j, proposal)
            return
        if behaviour is Behaviour.WITHHOLD and isinstance(message, BlockVote | VoteBatch):
            rng = self._adversary_rng
            chosen = [j for j in others if rng.random() < 0.5]
            for j in chosen:
                self._send(sender, j, message, extra_delay=rng.uniform(0.0, 1.0))
            return
        if behaviour is Behaviour.EQUIVOCATE and isinstance(message, BlockVote):
            twin = BlockVote.create(
                self.keys[sender], self.network.chain_id, message.kind, message.height, message.round,
                self.rng.randbytes(32),
            )
            self.rng.shuffle(others)
            half = len(others) // 2
            for j in others[:half]:
                self._send(sender, j, message)
            for j in others[half:]:
                self._send(sender, j, twin)
            return
        if (
            behaviour is Behaviour.INVALID_PROPOSAL
            and isinstance(message, Proposal)
            and message.proposer == self.keys[sender].public_key.data
        ):
            message = self._corrupt(sender, message)
        for j in others:
            self._send(sender, j, message)

    def _corrupt(self, sender: int, proposal: Proposal) -> Proposal:
        node = self.nodes[sender]
        try:
            value = ProposalValue.from_bytes(proposal.value, self.network.max_block_size)
        except TimecoinError:
            return proposal
        block = value.block
        inflated = [TxOut(out.amount * 2, out.payload) for out in block.rewards]
        bad = Block.create(
            self.network, self.keys[sender], height=block.height, prev_hash=block.header.prev_hash,
            timestamp=block.header.timestamp, transactions=block.transactions,
            certificate_digests=block.certificate_digests, rewards=inflated, evidence=block.evidence,
        )
        bad_value = ProposalValue(bad, value.certificates).to_bytes()
        return Proposal.create(
            self.keys[sender], node.network.chain_id, proposal.height, proposal.round,
            proposal.pol_round, bad.hash, bad_value,
        )

    def _remember(self, value: bytes) -> None:
        try:
            decoded = ProposalValue.from_bytes(value, self.network.max_block_size)
        except TimecoinError:
            return
        self._values[decoded.block.hash] = decoded

    def _send(
        self, sender: int, target: int, message: object, reliable: bool = False, extra_delay: float = 0.0
    ) -> None:
        cfg = self.config
        if self._partition is not None and not reliable:
            a, _ = self._partition
            if (sender in a) != (target in a):
                return
        copies = 1
        if cfg.faults and not reliable and self.now < self.T0 + cfg.duration:
            if self.rng.random() < cfg.loss:
                return
            # A request and its reply are never duplicated: a relay may send a message
            # twice, but a client asks once and a server answers once (a duplicated
            # request would draw a second page, which the client rightly calls unsolicited).
            if self.rng.random() < cfg.duplicate and not isinstance(message, Blocks | GetBlocks):
                copies = 2
        for _ in range(copies):
            delay = self.rng.uniform(cfg.min_delay, cfg.max_delay) if cfg.faults else cfg.min_delay
            delay *= self._slow.get(sender, 1.0)
            at = self.now + delay + extra_delay
            if self.mesh is None:
                self._push(at, "deliver", (sender, target, message))
            else:
                self._route(sender, target, self.mesh.send(sender, target, cast(Message, message), self.now), at)

    def _route(self, sender: int, target: int, payload: bytes, at: float) -> None:
        # A link is a stream: its bytes arrive in the order they were sent.
        at = max(at, self._link_clock.get((sender, target), at))
        self._link_clock[(sender, target)] = at
        assert self.mesh is not None
        self._push(at, "bytes", (sender, target, payload, self.mesh.generation(sender, target)))

    # -- clients -------------------------------------------------------------------------

    def _client_step(self) -> None:
        cfg = self.config
        client = self.rng.choice(self.clients)
        if len(client.coins) < 2:
            return
        outpoint, output = client.coins.pop()
        payee = self.rng.choice([c for c in self.clients if c is not client])
        amount = self.rng.randint(coins("1"), coins("9"))
        tx = self._pay(client, outpoint, output, payee, amount)
        double = cfg.faults and self.rng.random() < cfg.double_spend_share
        online = [i for i in range(cfg.nodes) if i not in self._offline]
        if not online:
            return
        if double:
            rival = self._pay(client, outpoint, output, payee, amount - 1)
            self.record.conflicting.update((tx.txid, rival.txid))
            self.record.transactions[rival.txid] = rival
            self.record.submitted[rival.txid] = self.now
            order = self.rng.sample(range(cfg.nodes), cfg.nodes)
            half = cfg.nodes // 2
            for i in order[:half]:
                self._deliver_from_client(i, tx)
            for i in order[half:]:
                self._deliver_from_client(i, rival)
        else:
            for i in self.rng.sample(online, min(2, len(online))):
                self._deliver_from_client(i, tx)
            self._push(self.now + _RETRY_AFTER, "retry", tx)
        self.record.transactions[tx.txid] = tx
        self.record.submitted[tx.txid] = self.now

    def _byzantine_registration(self) -> None:
        rng = self._adversary_rng
        client = rng.choice(self.clients)
        if len(client.coins) < 2:
            return
        outpoint, output = client.coins.pop()
        kind = rng.choice(["front-run", "below-floor", "register", "register"])
        # A client registers its own key (it can prove possession), often more than once.
        operator = client.key.public_key.data
        collateral = self.network.min_collateral
        if kind == "front-run":
            operator = self.keys[rng.choice(self.honest)].public_key.data
        elif kind == "below-floor":
            collateral = self.network.min_collateral - 1
        builder = (
            TransactionBuilder(self.network)
            .spend(outpoint, output, client.key)
            .pay(client.key.address(self.network), collateral)
            .pay(client.key.address(self.network), output.amount - collateral - 20_000)
            .memo(registration_memo(operator))
        )
        tx = builder.build()
        if kind == "register":
            # Registrations of one key race each other like double spends: at most one
            # may win, and a loser may stay pending for good (so no liveness claim).
            self.record.transactions[tx.txid] = tx
            self.record.submitted[tx.txid] = self.now
            self.record.conflicting.add(tx.txid)
            self.record.registrations.setdefault(operator, []).append(tx.txid)
        else:
            self.record.invalid[tx.txid] = kind
        online = [i for i in range(self.config.nodes) if i not in self._offline]
        for i in rng.sample(online, min(2, len(online))):
            self._deliver_from_client(i, tx)

    def _raced_swap(self) -> None:
        rng = self._adversary_rng
        attacker, victim = rng.sample(self.clients, 2)
        if len(attacker.coins) < 2 or len(victim.coins) < 2:
            return
        (a, a_out), (v, v_out) = attacker.coins.pop(), victim.coins.pop()
        network = self.network
        swap = (
            TransactionBuilder(network)
            .spend(a, a_out, attacker.key)
            .spend(v, v_out, victim.key)
            .pay(victim.key.address(network), a_out.amount - 20_000)
            .pay(attacker.key.address(network), v_out.amount)
            .build()
        )
        rival = (
            TransactionBuilder(network)
            .spend(a, a_out, attacker.key)
            .pay(attacker.key.address(network), a_out.amount - 10_000)
            .build()
        )
        for tx in (swap, rival):
            self.record.transactions[tx.txid] = tx
            self.record.submitted[tx.txid] = self.now
            self.record.conflicting.add(tx.txid)
        self.record.swaps.append((swap.txid, rival.txid))
        online = [i for i in range(self.config.nodes) if i not in self._offline]
        rng.shuffle(online)
        half = len(online) // 2
        for i in online[:half]:
            self._deliver_from_client(i, swap)
        for i in online[half:]:
            self._deliver_from_client(i, rival)

    def _retry(self, tx: Transaction) -> None:
        # A client whose transaction went to a node that crashed or is byzantine sends
        # it again, as a wallet would, until some honest node reports it final.
        txid = tx.txid
        if any(txid in self.record.final_at[i] for i in self.honest):
            return
        online = [i for i in range(self.config.nodes) if i not in self._offline]
        for i in self.rng.sample(online, min(2, len(online))):
            self._deliver_from_client(i, tx)
        self._push(self.now + _RETRY_AFTER, "retry", tx)

    def _deliver_from_client(self, target: int, tx: Transaction) -> None:
        self._push(self.now + self.config.min_delay, "deliver", (None, target, tx))

    def _pay(self, client: _Client, outpoint: OutPoint, output: TxOut, payee: _Client, amount: int) -> Transaction:
        return (
            TransactionBuilder(self.network)
            .spend(outpoint, output, client.key)
            .pay(payee.key.address(self.network), amount)
            .pay(client.key.address(self.network), output.amount - amount - 10_000)
            .build()
        )


@dataclass
class _Durable:
    """What a crashed node's store holds (``ConsensusNode.restore``'s ``RestoredState``)."""

    chain: ChainState
    registry: Registry
    voted_outpoints: dict[OutPoint, bytes]
    finals: list[tuple[Transaction, FinalityCertificate]]
    evidence: list[DoubleVoteEvidence | ConflictingVotesEvidence]
    commits: dict[int, CommitCertificate]
    signed_votes: list[BlockVote]
    locked_values: list[LockedValue]


_CLASSIC = [Behaviour.EQUIVOCATE, Behaviour.SILENT, Behaviour.INVALID_PROPOSAL]


def _verify_all(checks: Sequence[SignatureCheck]) -> list[bool]:
    return SyncVerifier().verify_many(checks)


def _with_interval(network: Network, interval: float) -> Network:
    return replace(network, block_interval=interval)
