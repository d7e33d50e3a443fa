"""The simulator's byzantine proposer: it searches for invalid blocks instead of replaying one.

Theory of operation
-------------------
A byzantine masternode with the ``mutate`` behaviour builds its proposals honestly
(through its own :class:`~timecoin_core.consensus.node.ConsensusNode`) and then, with
the seed's randomness, rewrites them with one :class:`Mutation`. Every mutated block is
re-signed and its roots recomputed, so it passes the cheap structural checks and reaches
the rules that must refuse it. Nothing here is a fixed script: each proposal draws a
mutation, and each mutation draws its targets (which transaction, which certificate,
which peers).

The adversary colludes with the simulator's clients: it holds their keys, so it can
sign a transaction that double-spends a coin whose first spend is already final — the
shape of the most dangerous attack on instant finality, a committed block that
reverts a final transaction. It keeps every certificate it has seen, from any height,
to replay them.

A mutation that cannot apply (no final transaction to double-spend, no certificate to
replay) falls back to another, so a byzantine leader always tries something.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum

from ..block import Block
from ..builder import TransactionBuilder
from ..consensus.bft_messages import MAX_VALUE_SIZE, BlockVote, DoubleVoteEvidence, Proposal
from ..consensus.finality_messages import CertificateEntry, FinalityCertificate, VoteBatch
from ..consensus.node import ConsensusNode
from ..consensus.proposal import ProposalValue
from ..consensus.records import encode_record
from ..errors import TimecoinError
from ..keys import PrivateKey
from ..transaction import Transaction, TxOut

__all__ = ["Adversary", "Mutation"]


class Mutation(Enum):
    """One way a byzantine proposer rewrites the value it proposes."""

    DOUBLE_SPEND_FINAL = "double-spend-final"
    """Replace a final transaction with a conflicting one nobody voted for; no digests, the
    final one's certificate as the only certificate."""
    DOUBLE_SPEND_FINAL_WITH_DIGEST = "double-spend-final-with-digest"
    """As above, keeping the final transaction's certificate digest in the block."""
    DROP_DIGESTS = "drop-digests"
    DROP_ONE_DIGEST = "drop-one-digest"
    REORDER_DIGESTS = "reorder-digests"
    DUPLICATE_DIGEST = "duplicate-digest"
    SWAP_CERTIFICATES = "swap-certificates"
    DROP_CERTIFICATES = "drop-certificates"
    INCLUDE_NON_FINAL = "include-non-final"
    """Add a pending transaction that no quorum finalized, with a certificate of another."""
    REPLAY_CERTIFICATE = "replay-certificate"
    """Pair a transaction with a certificate seen earlier for another transaction."""
    THIN_CERTIFICATE = "thin-certificate"
    """Drop entries from a certificate until it is below the quorum."""
    FORGED_CERTIFICATE = "forged-certificate"
    """A certificate signed only by the adversary, for another chain id or epoch."""
    INFLATE_REWARDS = "inflate-rewards"
    REWARDS_TO_SELF = "rewards-to-self"
    DROP_REWARD = "drop-reward"
    SPLIT_REWARD = "split-reward"
    TRUNCATED_VALUE = "truncated-value"
    OVERSIZE_VALUE = "oversize-value"
    FALSE_EVIDENCE = "false-evidence"
    """Evidence against an honest voter: one real signed vote and a forged twin."""
    EQUIVOCATE_VALID = "equivocate-valid"
    """Two valid blocks, each sent to half of the peers."""


@dataclass
class Adversary:
    """What the byzantine side knows and how it draws its attacks.

    ``clients`` maps an address payload to the colluding client key that owns it;
    ``chain_id`` is the attacked network's.
    """

    rng: random.Random
    chain_id: int
    clients: dict[bytes, PrivateKey]
    certificates: dict[bytes, FinalityCertificate] = field(default_factory=dict)
    """Every certificate the adversary has seen, by txid (for replays)."""
    honest_votes: list[BlockVote] = field(default_factory=list)
    """Real block votes of honest voters (for false evidence)."""
    used: dict[Mutation, int] = field(default_factory=dict)

    def observe(self, message: object) -> None:
        """Remember what a byzantine node can see on the network."""
        if isinstance(message, FinalityCertificate):
            self.certificates.setdefault(message.txid, message)
        elif isinstance(message, Proposal):
            try:
                value = ProposalValue.from_bytes(message.value, MAX_VALUE_SIZE)
            except TimecoinError:
                return
            for certificate in value.certificates:
                self.certificates.setdefault(certificate.txid, certificate)
        elif isinstance(message, BlockVote) and len(self.honest_votes) < 64:
            self.honest_votes.append(message)

    def mutate(
        self, node: ConsensusNode, key: PrivateKey, proposal: Proposal, peers: Sequence[int]
    ) -> list[tuple[list[int], Proposal]]:
        """The proposals to send instead of ``proposal``, each with the peers that get it."""
        if proposal.proposer != key.public_key.data:
            return [(list(peers), proposal)]  # relaying someone else's proposal
        try:
            value = ProposalValue.from_bytes(proposal.value, node.network.max_block_size)
        except TimecoinError:
            return [(list(peers), proposal)]
        # The attacks on finality itself are drawn more often than the rest.
        order = sorted(Mutation, key=lambda m: self.rng.random() / _WEIGHTS.get(m, 1))
        for mutation in order:
            result = _MUTATIONS[mutation](self, node, key, value)
            if result is None:
                continue
            self.used[mutation] = self.used.get(mutation, 0) + 1
            if mutation is Mutation.EQUIVOCATE_VALID:
                shuffled = list(peers)
                self.rng.shuffle(shuffled)
                half = len(shuffled) // 2
                other = result if isinstance(result, bytes) else value.to_bytes()
                return [
                    (shuffled[:half], _repropose(key, self.chain_id, proposal, value.to_bytes(), value.block.hash)),
                    (shuffled[half:], _repropose(key, self.chain_id, proposal, other, _value_id(other, node))),
                ]
            if isinstance(result, bytes):
                return [(list(peers), _repropose(key, self.chain_id, proposal, result, _value_id(result, node)))]
            return [(list(peers), _repropose(key, self.chain_id, proposal, result.to_bytes(), result.block.hash))]
        return [(list(peers), proposal)]

    # -- the transactions the adversary can write ---------------------------------------

    def double_spend(self, node: ConsensusNode, tx: Transaction) -> Transaction | None:
        """A transaction spending ``tx``'s inputs to the adversary, or None if it cannot sign them."""
        builder = TransactionBuilder(node.network)
        total = 0
        for txin in tx.inputs:
            coin = node.pool.utxos.coin(txin.outpoint)
            if coin is None:
                return None
            owner = self.clients.get(coin.output.payload)
            if owner is None:
                return None
            builder.spend(txin.outpoint, coin.output, owner)
            total += coin.output.amount
        fee = 20_000
        if total <= fee + node.network.dust_limit:
            return None
        thief = next(iter(self.clients.values()))
        builder.pay(thief.address(node.network), total - fee)
        return builder.memo(self.rng.randbytes(8)).build()


Rewrite = Callable[[Adversary, ConsensusNode, PrivateKey, ProposalValue], "ProposalValue | bytes | None"]


def _value_id(value: bytes, node: ConsensusNode) -> bytes:
    try:
        return ProposalValue.from_bytes(value, node.network.max_block_size).block.hash
    except TimecoinError:
        return bytes(32)


def _repropose(key: PrivateKey, chain_id: int, proposal: Proposal, value: bytes, value_id: bytes) -> Proposal:
    return Proposal.create(key, chain_id, proposal.height, proposal.round, proposal.pol_round, value_id, value)


def _rebuild(
    node: ConsensusNode,
    key: PrivateKey,
    block: Block,
    *,
    transactions: Sequence[Transaction] | None = None,
    digests: Sequence[bytes] | None = None,
    rewards: Sequence[TxOut] | None = None,
    evidence: Sequence[bytes] | None = None,
    timestamp: int | None = None,
) -> Block:
    txs = list(block.transactions if transactions is None else transactions)
    if rewards is None:
        # Exact rewards for the new transactions, so only the intended rule is broken.
        try:
            rewards = node.expected_rewards(txs, key.public_key.data)
        except TimecoinError:
            rewards = block.rewards
    return Block.create(
        node.network,
        key,
        height=block.height,
        prev_hash=block.header.prev_hash,
        timestamp=block.header.timestamp if timestamp is None else timestamp,
        transactions=txs,
        certificate_digests=list(block.certificate_digests if digests is None else digests),
        rewards=list(rewards),
        evidence=list(block.evidence if evidence is None else evidence),
    )


def _descendants(transactions: Sequence[Transaction], root: bytes) -> set[bytes]:
    gone = {root}
    for tx in transactions:
        if any(i.outpoint.txid in gone for i in tx.inputs):
            gone.add(tx.txid)
    return gone


def _double_spend_final(keep_digest: bool) -> Rewrite:
    def rewrite(adv: Adversary, node: ConsensusNode, key: PrivateKey, value: ProposalValue) -> ProposalValue | None:
        # A final transaction this node knows (in its block or waiting for one).
        candidates = [tx for tx in value.block.transactions] + [
            entry.tx for entry in node.pool if entry.final and entry.tx.txid in node.certificates
        ]
        adv.rng.shuffle(candidates)
        for final in candidates:
            rival = adv.double_spend(node, final)
            if rival is None:
                continue
            gone = _descendants(value.block.transactions, final.txid)
            kept = [(tx, c) for tx, c in zip(value.block.transactions, value.certificates, strict=False) if tx.txid not in gone]
            certificate = node.certificates.get(final.txid) or adv.certificates.get(final.txid)
            if certificate is None:
                continue
            txs = [tx for tx, _ in kept] + [rival]
            certificates = [c for _, c in kept] + [certificate]
            digests = [c.digest() for c in certificates] if keep_digest else [c.digest() for _, c in kept]
            block = _rebuild(node, key, value.block, transactions=txs, digests=digests)
            return ProposalValue(block, tuple(certificates))
        return None

    return rewrite


def _digests(change: Callable[[random.Random, list[bytes]], list[bytes] | None]) -> Rewrite:
    def rewrite(adv: Adversary, node: ConsensusNode, key: PrivateKey, value: ProposalValue) -> ProposalValue | None:
        digests = change(adv.rng, list(value.block.certificate_digests))
        if digests is None:
            return None
        return ProposalValue(_rebuild(node, key, value.block, digests=digests), value.certificates)

    return rewrite


def _drop_all(rng: random.Random, d: list[bytes]) -> list[bytes] | None:
    return [] if d else None


def _drop_one(rng: random.Random, d: list[bytes]) -> list[bytes] | None:
    if not d:
        return None
    del d[rng.randrange(len(d))]
    return d


def _reorder(rng: random.Random, d: list[bytes]) -> list[bytes] | None:
    if len(d) < 2:
        return None
    i, j = rng.sample(range(len(d)), 2)
    d[i], d[j] = d[j], d[i]
    return d


def _duplicate(rng: random.Random, d: list[bytes]) -> list[bytes] | None:
    if not d:
        return None
    d.insert(rng.randrange(len(d) + 1), rng.choice(d))
    return d


def _swap_certificates(adv: Adversary, node: ConsensusNode, key: PrivateKey, value: ProposalValue) -> ProposalValue | None:
    certificates = list(value.certificates)
    if len(certificates) < 2:
        return None
    i, j = adv.rng.sample(range(len(certificates)), 2)
    certificates[i], certificates[j] = certificates[j], certificates[i]
    return ProposalValue(value.block, tuple(certificates))


def _drop_certificates(adv: Adversary, node: ConsensusNode, key: PrivateKey, value: ProposalValue) -> ProposalValue | None:
    if not value.certificates:
        return None
    return ProposalValue(value.block, ())


def _include_non_final(adv: Adversary, node: ConsensusNode, key: PrivateKey, value: ProposalValue) -> ProposalValue | None:
    pending = [entry.tx for entry in node.pool if not entry.final and entry.tx.txid not in value.block.txids]
    if not pending:
        return None
    tx = adv.rng.choice(pending)
    if any(i.outpoint.txid in value.block.txids for i in tx.inputs):
        return None
    pool = list(adv.certificates.values()) + list(value.certificates)
    borrowed = adv.rng.choice(pool) if pool else None
    txs = [*value.block.transactions, tx]
    certificates = [*value.certificates, borrowed] if borrowed is not None else list(value.certificates)
    digests = [c.digest() for c in certificates]
    if adv.rng.random() < 0.5:
        digests = digests[: len(value.certificates)]
    return ProposalValue(_rebuild(node, key, value.block, transactions=txs, digests=digests), tuple(certificates))


def _replay_certificate(adv: Adversary, node: ConsensusNode, key: PrivateKey, value: ProposalValue) -> ProposalValue | None:
    if not value.certificates or not adv.certificates:
        return None
    i = adv.rng.randrange(len(value.certificates))
    others = [c for c in adv.certificates.values() if c.txid != value.certificates[i].txid]
    if not others:
        return None
    certificates = list(value.certificates)
    certificates[i] = adv.rng.choice(others)
    digests = [c.digest() for c in certificates]
    return ProposalValue(_rebuild(node, key, value.block, digests=digests), tuple(certificates))


def _thin_certificate(adv: Adversary, node: ConsensusNode, key: PrivateKey, value: ProposalValue) -> ProposalValue | None:
    candidates = [i for i, c in enumerate(value.certificates) if len(c.entries) > 1]
    if not candidates:
        return None
    i = adv.rng.choice(candidates)
    c = value.certificates[i]
    thin = FinalityCertificate(c.txid, c.epoch, c.entries[:1])
    certificates = list(value.certificates)
    certificates[i] = thin
    digests = [x.digest() for x in certificates]
    return ProposalValue(_rebuild(node, key, value.block, digests=digests), tuple(certificates))


def _forged_certificate(adv: Adversary, node: ConsensusNode, key: PrivateKey, value: ProposalValue) -> ProposalValue | None:
    if not value.certificates:
        return None
    i = adv.rng.randrange(len(value.certificates))
    c = value.certificates[i]
    chain_id = adv.chain_id + 1 if adv.rng.random() < 0.5 else adv.chain_id
    epoch = c.epoch + adv.rng.choice((0, 1)) if chain_id != adv.chain_id else c.epoch + 1
    batch = VoteBatch.create(key, chain_id, epoch, [c.txid])
    forged = FinalityCertificate(c.txid, epoch, (CertificateEntry.from_batch(batch, c.txid),))
    certificates = list(value.certificates)
    certificates[i] = forged
    digests = [x.digest() for x in certificates]
    return ProposalValue(_rebuild(node, key, value.block, digests=digests), tuple(certificates))


def _inflate(adv: Adversary, node: ConsensusNode, key: PrivateKey, value: ProposalValue) -> ProposalValue | None:
    rewards = [TxOut(out.amount * 2, out.payload) for out in value.block.rewards]
    if not rewards:
        return None
    return ProposalValue(_rebuild(node, key, value.block, rewards=rewards), value.certificates)


def _to_self(adv: Adversary, node: ConsensusNode, key: PrivateKey, value: ProposalValue) -> ProposalValue | None:
    total = sum(out.amount for out in value.block.rewards)
    if total == 0 or len(value.block.rewards) < 2:
        return None
    rewards = [TxOut(total, key.public_key.payload)]
    return ProposalValue(_rebuild(node, key, value.block, rewards=rewards), value.certificates)


def _drop_reward(adv: Adversary, node: ConsensusNode, key: PrivateKey, value: ProposalValue) -> ProposalValue | None:
    rewards = list(value.block.rewards)
    if len(rewards) < 2:
        return None
    victim = rewards.pop(adv.rng.randrange(len(rewards) - 1))
    last = rewards[-1]
    rewards[-1] = TxOut(last.amount + victim.amount, last.payload)
    return ProposalValue(_rebuild(node, key, value.block, rewards=rewards), value.certificates)


def _split_reward(adv: Adversary, node: ConsensusNode, key: PrivateKey, value: ProposalValue) -> ProposalValue | None:
    rewards = list(value.block.rewards)
    if not rewards or rewards[-1].amount < 2:
        return None
    last = rewards.pop()
    half = last.amount // 2
    rewards += [TxOut(half, last.payload), TxOut(last.amount - half, key.public_key.payload)]
    return ProposalValue(_rebuild(node, key, value.block, rewards=rewards), value.certificates)


def _truncated(adv: Adversary, node: ConsensusNode, key: PrivateKey, value: ProposalValue) -> bytes | None:
    raw = value.to_bytes()
    return raw[: adv.rng.randrange(len(raw))]


def _oversize(adv: Adversary, node: ConsensusNode, key: PrivateKey, value: ProposalValue) -> bytes | None:
    return value.to_bytes() + adv.rng.randbytes(adv.rng.randrange(1, 64))


def _false_evidence(adv: Adversary, node: ConsensusNode, key: PrivateKey, value: ProposalValue) -> ProposalValue | None:
    honest = [v for v in adv.honest_votes if v.voter != key.public_key.data and v.value_id is not None]
    if not honest:
        return None
    real = adv.rng.choice(honest)
    forged = BlockVote(real.kind, real.height, real.round, adv.rng.randbytes(32), real.voter, adv.rng.randbytes(64))
    try:
        evidence = DoubleVoteEvidence.of(real, forged)
    except (TimecoinError, ValueError, TypeError):
        return None
    records = [*value.block.evidence, encode_record(evidence)]
    return ProposalValue(_rebuild(node, key, value.block, evidence=records), value.certificates)


def _equivocate_valid(adv: Adversary, node: ConsensusNode, key: PrivateKey, value: ProposalValue) -> bytes | None:
    block = _rebuild(node, key, value.block, timestamp=value.block.header.timestamp + 1)
    return ProposalValue(block, value.certificates).to_bytes()


_MUTATIONS: dict[Mutation, Rewrite] = {
    Mutation.DOUBLE_SPEND_FINAL: _double_spend_final(keep_digest=False),
    Mutation.DOUBLE_SPEND_FINAL_WITH_DIGEST: _double_spend_final(keep_digest=True),
    Mutation.DROP_DIGESTS: _digests(_drop_all),
    Mutation.DROP_ONE_DIGEST: _digests(_drop_one),
    Mutation.REORDER_DIGESTS: _digests(_reorder),
    Mutation.DUPLICATE_DIGEST: _digests(_duplicate),
    Mutation.SWAP_CERTIFICATES: _swap_certificates,
    Mutation.DROP_CERTIFICATES: _drop_certificates,
    Mutation.INCLUDE_NON_FINAL: _include_non_final,
    Mutation.REPLAY_CERTIFICATE: _replay_certificate,
    Mutation.THIN_CERTIFICATE: _thin_certificate,
    Mutation.FORGED_CERTIFICATE: _forged_certificate,
    Mutation.INFLATE_REWARDS: _inflate,
    Mutation.REWARDS_TO_SELF: _to_self,
    Mutation.DROP_REWARD: _drop_reward,
    Mutation.SPLIT_REWARD: _split_reward,
    Mutation.TRUNCATED_VALUE: _truncated,
    Mutation.OVERSIZE_VALUE: _oversize,
    Mutation.FALSE_EVIDENCE: _false_evidence,
    Mutation.EQUIVOCATE_VALID: _equivocate_valid,
}

assert set(_MUTATIONS) == set(Mutation)

_WEIGHTS = {Mutation.DOUBLE_SPEND_FINAL: 4, Mutation.DOUBLE_SPEND_FINAL_WITH_DIGEST: 2, Mutation.INCLUDE_NON_FINAL: 2}
