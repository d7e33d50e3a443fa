"""Argument checks shared by the stores (so both reject the same bad input the same way)."""

from __future__ import annotations

from collections.abc import Sequence

from ..consensus.bft_messages import DoubleVoteEvidence
from ..consensus.finality_messages import ConflictingVotesEvidence, FinalityCertificate
from ..errors import InvalidArgumentError
from ..transaction import OutPoint, Transaction
from .records import Evidence


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
