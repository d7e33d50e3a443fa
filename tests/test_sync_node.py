"""Block sync on real nodes: serving pages, applying commits, and catching up end to end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from timecoin_core.amount import coins
from timecoin_core.block import Block
from timecoin_core.consensus import (
    BlockCommitted,
    Commit,
    CommitCertificate,
    ConsensusNode,
    Offence,
    Penalize,
    ProposalValue,
    SendTo,
    TimerFired,
    VoteKind,
)
from timecoin_core.consensus.bft_messages import BlockVote
from timecoin_core.consensus.sync import (
    ApplyCommit,
    SyncAction,
    SyncBlockError,
    SyncCertificateError,
    SyncCommitError,
    SyncDone,
    SyncPlanner,
    commit_size,
)
from timecoin_core.errors import InvalidArgumentError
from timecoin_core.keys import PrivateKey
from timecoin_core.testing import LocalChain
from timecoin_core.transaction import TxOut
from timecoin_core.wire.messages import Blocks, GetBlocks, GetStatus, Status
from timecoin_core.wire.registry import MESSAGE_SPECS, MessageType

BLOCKS = 90  # more than the engines' commit history (16) and the node's kept commits (64)


@pytest.fixture(scope="module")
def chain() -> LocalChain:
    local = LocalChain(4)
    a, b = local.accounts[0], local.accounts[1]
    for height in range(BLOCKS):
        if height % 4 == 0:
            a.send(b, coins("1"))
            b.send(a, coins("2"))
        local.produce_block()
    return local


def page(server: ConsensusNode, start: int, count: int = 64, max_bytes: int = 10_000_000) -> Blocks:
    return server.blocks_page(GetBlocks(start, count, max_bytes))


def fresh(chain: LocalChain) -> ConsensusNode:
    return ConsensusNode(chain.network, None)


def precommit_certificate(keys: list[PrivateKey], chain_id: int, height: int, value_id: bytes) -> CommitCertificate:
    votes = [BlockVote.create(k, chain_id, VoteKind.PRECOMMIT, height, 0, value_id) for k in keys]
    return CommitCertificate.from_votes(votes)


# -- serving -----------------------------------------------------------------------------


def test_status_says_where_the_node_is(chain: LocalChain) -> None:
    node = chain.nodes[1]
    assert node.status() == Status(node.chain.height, node.chain.tip.hash, node.status().epoch, 0)
    assert node.status().height == BLOCKS


def test_a_page_carries_each_block_with_the_certificate_its_child_records(chain: LocalChain) -> None:
    server = chain.nodes[2]
    blocks = page(server, 1)
    assert blocks.start == 1 and len(blocks.commits) == 64
    for commit in blocks.commits:
        height = commit.height
        value = ProposalValue.from_bytes(commit.value, chain.network.max_block_size)
        assert value.block == server.chain.block_at(height) and value.certificates == ()
        assert commit.certificate.value_id == value.block.hash
    # The tip's certificate is the node's own.
    (last,) = page(server, BLOCKS).commits
    assert last.certificate == server.commits[BLOCKS]


def test_pages_are_bounded_by_count_bytes_and_the_chain(chain: LocalChain) -> None:
    server = chain.nodes[1]
    assert len(page(server, 10, count=5).commits) == 5
    one = page(server, 10, max_bytes=1).commits
    assert len(one) == 1  # always the first height, even over the byte bound
    sizes = [commit_size(c) for c in page(server, 1).commits]
    bounded = page(server, 1, max_bytes=sum(sizes[:3])).commits
    assert len(bounded) == 3
    assert len(page(server, BLOCKS - 2).commits) == 3
    assert page(server, BLOCKS + 1).commits == ()
    assert page(server, 0).commits == ()  # genesis has no certificate
    assert page(server, 2**64 - 1).commits == ()
    with pytest.raises(InvalidArgumentError):
        server.blocks_page(GetStatus())  # type: ignore[arg-type]


def test_a_page_is_what_the_wire_carries(chain: LocalChain) -> None:
    server = chain.nodes[1]
    full = page(server, 1, max_bytes=2**32 - 1)
    encoded = full.to_bytes()
    assert len(encoded) <= MESSAGE_SPECS[MessageType.BLOCKS].cap
    assert Blocks.from_bytes(encoded) == full
    assert sum(commit_size(c) for c in full.commits) == len(encoded) - 8 - 1


# -- applying ----------------------------------------------------------------------------


def sync_directly(node: ConsensusNode, server: ConsensusNode, now: float) -> list[object]:
    actions: list[object] = []
    while node.chain.height < server.chain.height:
        for commit in page(server, node.chain.height + 1).commits:
            actions += node.apply_commit(commit, now)
    return actions


def test_a_fresh_node_applies_every_page_and_ends_in_the_same_state(chain: LocalChain) -> None:
    server = chain.nodes[3]
    node = fresh(chain)
    actions = sync_directly(node, server, chain.clock.now())
    assert node.chain.tip.hash == server.chain.tip.hash
    assert node.chain.utxos.commitment() == server.chain.utxos.commitment()
    assert node.chain.supply() == server.chain.supply()
    height = node.chain.height + 1
    assert node.registry.voting_set_for_height(height) == server.registry.voting_set_for_height(height)
    committed = [a for a in actions if isinstance(a, BlockCommitted)]
    assert [a.block.height for a in committed] == list(range(1, BLOCKS + 1))
    assert sum(len(a.block.transactions) for a in committed) > 0
    # The commit certificates kept are the served ones (the last 64 heights).
    assert set(node.commits) == set(range(BLOCKS - 63, BLOCKS + 1))


def test_a_synced_node_follows_consensus_afterwards(chain: LocalChain) -> None:
    node = fresh(chain)
    now = chain.clock.now()
    sync_directly(node, chain.nodes[1], now)
    # Once caught up, the engines take it from there: the next decision arrives as a
    # normal Commit (proposal value with its finality certificates) and is decided.
    with chain.isolate():
        node.handle(TimerFired(("node", "next-height")), now)
        chain.accounts[2].send(chain.accounts[3], coins("3"))
        block = chain.produce_block()
        commit = chain.nodes[1].bft.commit_for(block.height)
        assert commit is not None
        actions = node.handle(commit, chain.clock.now())
        assert any(isinstance(a, BlockCommitted) and a.block == block for a in actions)
        assert node.chain.utxos.commitment() == chain.nodes[1].chain.utxos.commitment()


def test_a_pending_transaction_confirmed_by_a_synced_block_leaves_the_pool(chain: LocalChain) -> None:
    node = fresh(chain)
    now = chain.clock.now()
    server = chain.nodes[1]
    with_tx = next(h for h in range(2, BLOCKS + 1) if (b := server.chain.block_at(h)) and b.transactions)
    for commit in page(server, 1, count=with_tx - 1).commits:
        node.apply_commit(commit, now)
    block = server.chain.block_at(with_tx)
    assert block is not None
    tx = block.transactions[0]
    node.handle(tx, now)
    assert tx.txid in node.pool
    node.apply_commit(page(server, with_tx, count=1).commits[0], now)
    assert tx.txid not in node.pool
    assert node.chain.transaction(tx.txid) is not None


def snapshot(node: ConsensusNode) -> tuple[object, ...]:
    return (node.chain.height, node.chain.tip.hash, node.chain.utxos.commitment(), len(node.pool), dict(node.commits))


def refuses(node: ConsensusNode, commit: Commit, error: type[Exception], now: float) -> SyncCommitError | None:
    before = snapshot(node)
    with pytest.raises(error) as caught:
        node.apply_commit(commit, now)
    assert snapshot(node) == before  # a refused commit changes nothing
    return caught.value if isinstance(caught.value, SyncCommitError) else None


def test_wrong_certificates_are_refused_as_invalid_certificates(chain: LocalChain) -> None:
    server = chain.nodes[1]
    node = fresh(chain)
    now = chain.clock.now()
    good = page(server, 1, count=2).commits
    node.apply_commit(good[0], now)
    honest = good[1]
    cid = chain.network.chain_id
    value_id = honest.certificate.value_id
    keys = chain.masternode_keys
    outsiders = [PrivateKey.from_seed(bytes([i]) * 32) for i in range(4)]
    other_block = good[0].certificate.value_id
    certificates = {
        "another value": precommit_certificate(keys, cid, 2, other_block),
        "too little weight": precommit_certificate(keys[:2], cid, 2, value_id),
        "strangers": precommit_certificate(outsiders, cid, 2, value_id),
        "another network": precommit_certificate(keys, cid + 1, 2, value_id),
        "a bad signature": replace(
            honest.certificate,
            precommits=tuple((v, bytes(64)) for v, _ in honest.certificate.precommits),
        ),
    }
    for name, certificate in certificates.items():
        caught = refuses(node, Commit(honest.value, certificate), SyncCertificateError, now)
        assert caught is not None and caught.offence is Offence.INVALID_CERTIFICATE, name
    node.apply_commit(honest, now)
    assert node.chain.height == 2


def forged_block(server: ConsensusNode, height: int, key: PrivateKey, change: Callable[[Block], dict[str, object]]) -> Block:
    block = server.chain.block_at(height)
    assert block is not None
    fields: dict[str, object] = {
        "height": block.height,
        "prev_hash": block.header.prev_hash,
        "timestamp": block.header.timestamp,
        "transactions": block.transactions,
        "certificate_digests": block.certificate_digests,
        "rewards": block.rewards,
        "evidence": block.evidence,
    }
    fields.update(change(block))
    return Block.create(server.network, key, **fields)  # type: ignore[arg-type]


def test_a_forged_block_with_a_real_quorum_is_refused_as_an_invalid_block(chain: LocalChain) -> None:
    # Even 2/3 of the keys signing it (which no honest network does) cannot make an
    # invalid block apply: the chain's own rules still run.
    server = chain.nodes[1]
    node = fresh(chain)
    now = chain.clock.now()
    node.apply_commit(page(server, 1, count=1).commits[0], now)
    keys = chain.masternode_keys
    cid = chain.network.chain_id
    forgeries: dict[str, Callable[[Block], dict[str, object]]] = {
        "inflated rewards": lambda b: {"rewards": tuple(TxOut(o.amount * 2, o.payload) for o in b.rewards)},
        "wrong parent": lambda b: {"prev_hash": bytes(32)},
        "no parent commit": lambda b: {"evidence": ()},
        "time going back": lambda b: {"timestamp": 1},
    }
    for name, change in forgeries.items():
        block = forged_block(server, 2, keys[0], change)
        commit = Commit(ProposalValue(block, ()).to_bytes(), precommit_certificate(keys, cid, 2, block.hash))
        caught = refuses(node, commit, SyncBlockError, now)
        assert caught is not None and caught.offence is Offence.INVALID_BLOCK, name
    junk = Commit(b"\x00junk", precommit_certificate(keys, cid, 2, bytes(32)))
    caught = refuses(node, junk, SyncBlockError, now)
    assert caught is not None and caught.offence is Offence.INVALID_BLOCK


def test_out_of_sequence_commits_are_the_callers_mistake(chain: LocalChain) -> None:
    server = chain.nodes[1]
    node = fresh(chain)
    now = chain.clock.now()
    commits = page(server, 1, count=3).commits
    refuses(node, commits[1], InvalidArgumentError, now)
    node.apply_commit(commits[0], now)
    refuses(node, commits[0], InvalidArgumentError, now)
    with pytest.raises(InvalidArgumentError):
        node.apply_commit("not a commit", now)  # type: ignore[arg-type]


# -- end to end: a planner, two honest servers and a liar --------------------------------


class Liar:
    """Claims an absurd height and serves real blocks under forged certificates."""

    def __init__(self, honest: ConsensusNode, keys: list[PrivateKey]) -> None:
        self.honest = honest
        self.keys = keys

    def status(self) -> Status:
        return Status(2**63, bytes(32), 0, 0)

    def blocks_page(self, request: GetBlocks) -> Blocks:
        real = self.honest.blocks_page(request)
        cid = self.honest.network.chain_id
        forged = tuple(
            Commit(c.value, precommit_certificate(self.keys, cid, c.height, c.certificate.value_id))
            for c in real.commits
        )
        return Blocks(request.start, forged)


def catch_up(node: ConsensusNode, servers: dict[str, object], now: float, horizon: float) -> tuple[list[Penalize], list[SyncAction]]:
    planner = SyncPlanner(node.chain.height, now)
    penalties: list[Penalize] = []
    seen: list[SyncAction] = []
    work: list[SyncAction] = []
    for peer in servers:
        work += planner.add_peer(peer, now)
    while now <= horizon:
        while work:
            action = work.pop(0)
            seen.append(action)
            if isinstance(action, SendTo):
                server = servers[str(action.peer)]
                if isinstance(action.message, GetStatus):
                    work += planner.on_status(action.peer, server.status(), now)  # type: ignore[attr-defined]
                else:
                    reply = server.blocks_page(action.message)  # type: ignore[attr-defined]
                    work += planner.on_blocks(action.peer, reply, now)
            elif isinstance(action, ApplyCommit):
                try:
                    node.apply_commit(action.commit, now)
                except SyncCommitError as exc:
                    work += planner.rejected(action.peer, action.height, exc.offence, now, str(exc))
                else:
                    work += planner.applied(node.chain.height, now)
            elif isinstance(action, Penalize):
                penalties.append(action)
        if any(isinstance(a, SyncDone) for a in seen[-5:]) and not planner.syncing:
            break
        deadline = planner.next_deadline()
        if deadline is None:
            break
        now = max(now, deadline)
        work += planner.poll(now)
    return penalties, seen


def test_a_node_far_behind_catches_up_from_two_honest_peers_and_a_liar(chain: LocalChain) -> None:
    liar_keys = [PrivateKey.from_seed(bytes([9, i]) * 16) for i in range(4)]
    servers: dict[str, object] = {
        "liar": Liar(chain.nodes[0], liar_keys),
        "honest-1": chain.nodes[1],
        "honest-2": chain.nodes[2],
    }
    node = fresh(chain)
    penalties, seen = catch_up(node, servers, chain.clock.now(), chain.clock.now() + 600)
    assert node.chain.height == BLOCKS
    assert node.chain.tip.hash == chain.nodes[1].chain.tip.hash
    assert node.chain.utxos.commitment() == chain.nodes[1].chain.utxos.commitment()
    assert [p.peer for p in penalties] == ["liar"]
    assert penalties[0].offence is Offence.INVALID_CERTIFICATE
    assert SyncDone(BLOCKS) in seen
    # Both honest peers served pages (parallel, different ranges).
    asked = {a.peer for a in seen if isinstance(a, SendTo) and isinstance(a.message, GetBlocks)}
    assert {"honest-1", "honest-2"} <= asked


def test_a_node_that_restarted_behind_catches_up_from_where_it_stopped(chain: LocalChain) -> None:
    # A node that has the first 30 blocks (say, from its store) fetches only the rest.
    node = fresh(chain)
    now = chain.clock.now()
    for commit in page(chain.nodes[1], 1, count=30).commits:
        node.apply_commit(commit, now)
    penalties, seen = catch_up(node, {"a": chain.nodes[1], "b": chain.nodes[2]}, now, now + 600)
    assert node.chain.height == BLOCKS and penalties == []
    starts = [a.message.start for a in seen if isinstance(a, SendTo) and isinstance(a.message, GetBlocks)]
    assert min(starts) == 31
