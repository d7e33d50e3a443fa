"""Argument checks shared by the stores (so both reject the same bad input the same way)."""

from __future__ import annotations

from collections.abc import Sequence

from ..block import Block
from ..consensus.bft_messages import BlockVote, DoubleVoteEvidence, VoteKind
from ..consensus.finality_messages import ConflictingVotesEvidence, FinalityCertificate
from ..consensus.locked_value import LockedValue
from ..errors import InvalidArgumentError
from ..hashing import Tag, tagged_hash
from ..transaction import OutPoint, Transaction
from .records import Evidence, SignedVote


def check_vote(txid: object, outpoints: Sequence[OutPoint]) -> tuple[OutPoint, ...]:
    """The outpoints of a valid ``record_vote`` call, else :class:`ValueError`/:class:`TypeError`."""
    if type(txid) is not bytes or len(txid) != 32:
        raise InvalidArgumentError("txid", "txid must be 32 bytes")
    ops = tuple(outpoints)
    if not ops:
        raise InvalidArgumentError("outpoints", "a vote names at least one outpoint")
    if not all(isinstance(op, OutPoint) for op in ops):
        raise InvalidArgumentError("outpoints", "outpoints must be OutPoint values")
    return ops


def check_final(tx: object, certificate: object) -> None:
    """Reject a ``record_final`` call whose certificate is not for the transaction."""
    if not isinstance(tx, Transaction) or not isinstance(certificate, FinalityCertificate):
        raise InvalidArgumentError("tx" if not isinstance(tx, Transaction) else "certificate", "record_final takes a Transaction and its FinalityCertificate")
    if certificate.txid != tx.txid:
        raise InvalidArgumentError("certificate", "the certificate is for another transaction")


def check_evidence(evidence: object) -> Evidence:
    """``evidence`` if it is a kind of evidence, else :class:`TypeError`."""
    if not isinstance(evidence, DoubleVoteEvidence | ConflictingVotesEvidence):
        raise InvalidArgumentError("evidence", "evidence is DoubleVoteEvidence or ConflictingVotesEvidence")
    return evidence


def check_locked(vote: SignedVote, locked: object) -> LockedValue | None:
    """``locked`` if it is None or the value the precommit ``vote`` locks on, else :class:`ValueError`."""
    if locked is None:
        return None
    if not isinstance(locked, LockedValue):
        raise InvalidArgumentError("locked", "locked must be a LockedValue or None")
    if (
        not isinstance(vote, BlockVote)
        or vote.kind is not VoteKind.PRECOMMIT
        or (vote.height, vote.round, vote.value_id) != (locked.height, locked.round, locked.value_id)
    ):
        raise InvalidArgumentError("locked", "a locked value is recorded with the precommit of its height, round and value")
    return locked


def check_proofs(block: Block, proofs: Sequence[FinalityCertificate] | None) -> dict[bytes, bytes]:
    """txid -> encoded certificate for ``commit_block(..., proofs=)``: one per transaction,
    in order, each the certificate the block commits to; else :class:`InvalidArgumentError`."""
    if proofs is None:
        return {}
    if isinstance(proofs, str | bytes) or not isinstance(proofs, Sequence):
        raise InvalidArgumentError("proofs", "proofs are a sequence of FinalityCertificate")
    items = tuple(proofs)
    txs = block.transactions
    if len(items) != len(txs) or not all(isinstance(c, FinalityCertificate) for c in items):
        raise InvalidArgumentError("proofs", "proofs are one FinalityCertificate per transaction of the block")
    out: dict[bytes, bytes] = {}
    for position, (tx, certificate) in enumerate(zip(txs, items, strict=True)):
        if certificate.txid != tx.txid or certificate.digest() != block.certificate_digests[position]:
            raise InvalidArgumentError("proofs", f"proof {position} is not the certificate the block commits to")
        out[tx.txid] = certificate.to_bytes()
    return out


def committed_certificate(block: Block, position: int, raw: bytes | None) -> bytes | None:
    """``raw`` (an encoded finality certificate) if it is the one ``block`` commits to at ``position``.

    A node's own certificate of a transaction can differ from the proposer's (other
    voters, other batches); the store keeps with a confirmed transaction only the one
    its block names, so the stored certificate always matches the block's digest.
    """
    digests = block.certificate_digests
    if raw is None or position >= len(digests):
        return None
    return raw if tagged_hash(Tag.FINALITY_CERTIFICATE, raw) == digests[position] else None
