"""The signed values of instant finality: vote batches, certificates and equivocation evidence.

Theory of operation. A masternode votes by signing ``(epoch, root)`` where ``root`` is
the Merkle root of a sorted list of txids (:class:`VoteBatch`): one Ed25519 signature
covers every transaction it accepted within a short window. The signed message is
:func:`~timecoin_core.consensus.sansio.signing_message` with kind ``b"accept"`` and
payload ``epoch:u64 | root:32`` (:func:`accept_payload`), so an accept vote can never
be replayed on another chain or as another kind of consensus message.

A :class:`FinalityCertificate` (TimeProof) for one txid carries, per voter, the root of
the batch it signed, the txid's inclusion proof in that batch and the signature.
Anyone holding the epoch's :class:`~timecoin_core.consensus.voting.VotingSet` checks it
in one call: distinct voters of the set, valid proofs, >= 2/3 of the total weight, and
all signatures in one batched verification.

A :class:`ConflictingVotesEvidence` proves that one key signed accept votes for two
different transactions spending one outpoint. Txids are opaque hashes, so the evidence
carries each transaction's *base* encoding (the transaction without witnesses, whose
tagged hash is the txid): a verifier recomputes both txids and reads the outpoints
from the bytes themselves, trusting nothing else.

Encodings (all integers little-endian, varints minimal, every length bounded)::

    batch       = voter:32 | epoch:u64 | n:varint(1..MAX_VOTE_BATCH_TXIDS)
                  | txid:32 * n (strictly ascending) | signature:64
    proof       = count:varint | index:varint | sibling:32 * k  (k fixed by index, count)
    entry       = voter:32 | root:32 | proof | signature:64
    certificate = txid:32 | epoch:u64 | n:varint(1..MAX_CERTIFICATE_ENTRIES)
                  | entry * n (voters strictly ascending)
    vote        = epoch:u64 | root:32 | proof | signature:64 | tx_base:varbytes
    evidence    = offender:32 | vote | vote   (first txid < second txid)
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from ..codec import Reader, Writer
from ..errors import DecodeError, InvalidArgumentError
from ..hashing import Tag, tagged_hash
from ..keys import PrivateKey
from ..transaction import MAX_TX_INPUTS, MAX_TX_SIZE, OutPoint, Transaction
from ..verify import SignatureCheck
from .merkle_proof import MerkleProof, MerkleTree, read_proof, verify_merkle_proof, write_proof
from .sansio import CheckSignatures, sign, signing_message
from .voting import VotingSet, quorum_reached

__all__ = [
    "ACCEPT_KIND",
    "MAX_CERTIFICATE_ENTRIES",
    "MAX_CERTIFICATE_SIZE",
    "MAX_EVIDENCE_SIZE",
    "MAX_VOTE_BATCH_SIZE",
    "MAX_VOTE_BATCH_TXIDS",
    "AcceptVote",
    "CertificateEntry",
    "ConflictingVotesEvidence",
    "FinalityCertificate",
    "VoteBatch",
    "accept_payload",
    "parse_tx_base",
    "transaction_base",
    "verify_certificates",
]

ACCEPT_KIND: Final = b"accept"
"""The consensus-signature kind of accept votes."""

MAX_VOTE_BATCH_TXIDS: Final = 4096
"""Most txids one batch may carry (a 131 KiB message)."""

MAX_CERTIFICATE_ENTRIES: Final = 4096
"""Most voters one certificate may carry."""

# count and index varints (3 bytes each up to 4096) and at most 12 siblings.
_MAX_PROOF_SIZE: Final = 3 + 3 + 32 * 12

MAX_VOTE_BATCH_SIZE: Final = 32 + 8 + 3 + 32 * MAX_VOTE_BATCH_TXIDS + 64
"""Largest encoded :class:`VoteBatch` (131,179 bytes): a frame limit for the wire."""

MAX_CERTIFICATE_SIZE: Final = (
    32 + 8 + 3 + MAX_CERTIFICATE_ENTRIES * (32 + 32 + _MAX_PROOF_SIZE + 64)
)
"""Largest encoded :class:`FinalityCertificate` (about 2.1 MB; real ones are a few hundred
bytes per voter of the quorum)."""

MAX_EVIDENCE_SIZE: Final = 32 + 2 * (8 + 32 + _MAX_PROOF_SIZE + 64 + 5 + MAX_TX_SIZE)
"""Largest encoded :class:`ConflictingVotesEvidence` (two transaction bases at most)."""

_MAX_U64: Final = 2**64 - 1


def accept_payload(epoch: int, root: bytes) -> bytes:
    """The payload an accept signature covers: ``epoch:u64 | root:32``."""
    return bytes(Writer().u64(epoch).raw(root))


def _accept_message(chain_id: int, epoch: int, root: bytes) -> bytes:
    return signing_message(chain_id, ACCEPT_KIND, accept_payload(epoch, root))


def _check_hash(value: object, parameter: str, what: str | None = None) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidArgumentError(parameter, f"{what or parameter} must be 32 bytes")


def _check_signature(value: object) -> None:
    if type(value) is not bytes or len(value) != 64:
        raise InvalidArgumentError("signature", "signature must be 64 bytes")


def _check_epoch(value: object) -> None:
    if type(value) is not int or not 0 <= value <= _MAX_U64:
        raise InvalidArgumentError("epoch", "epoch must be a u64")


def _check_proof(proof: object) -> None:
    if not isinstance(proof, MerkleProof):
        raise InvalidArgumentError("proof", "proof must be a MerkleProof")
    if proof.count > MAX_VOTE_BATCH_TXIDS:
        raise InvalidArgumentError("proof", f"proof for a batch larger than {MAX_VOTE_BATCH_TXIDS} txids")


# -- vote batches ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VoteBatch:
    """One masternode's accept votes for several transactions under one signature.

    ``txids`` are strictly ascending (sorted, distinct), 1 to
    :data:`MAX_VOTE_BATCH_TXIDS` of them. ``signature`` covers
    ``(epoch, root)`` where ``root`` is the Merkle root of ``txids``; the constructor
    checks shapes, never the signature (that is the receiver's batched work).
    """

    voter: bytes
    epoch: int
    txids: tuple[bytes, ...]
    signature: bytes
    _tree: MerkleTree | None = field(init=False, compare=False, repr=False, default=None)

    def __post_init__(self) -> None:
        _check_hash(self.voter, "voter", "voter key")
        _check_epoch(self.epoch)
        _check_signature(self.signature)
        txids = self.txids
        if type(txids) is not tuple or not 1 <= len(txids) <= MAX_VOTE_BATCH_TXIDS:
            raise InvalidArgumentError("txids", f"a batch holds a tuple of 1..{MAX_VOTE_BATCH_TXIDS} txids")
        for txid in txids:
            _check_hash(txid, "txid")
        if any(txids[i] >= txids[i + 1] for i in range(len(txids) - 1)):
            raise InvalidArgumentError("txids", "batch txids must be strictly ascending")

    def _merkle(self) -> MerkleTree:
        # Built on first use, never while decoding: a batch from a non-voter or for a
        # wrong epoch is refused before anyone hashes its txids. Kept once built: a
        # receiver cuts a proof from it for every vote it counts.
        tree = self._tree
        if tree is None:
            tree = MerkleTree(self.txids)
            object.__setattr__(self, "_tree", tree)
        return tree

    @property
    def root(self) -> bytes:
        """The Merkle root of ``txids`` (what the signature covers)."""
        return self._merkle().root

    @classmethod
    def create(
        cls, key: PrivateKey, chain_id: int, epoch: int, txids: Iterable[bytes]
    ) -> VoteBatch:
        """Sign accept votes for ``txids`` (sorted and deduplicated here) in ``epoch``."""
        ordered = tuple(sorted(set(txids)))
        if not ordered:
            raise InvalidArgumentError("txids", "a batch needs at least one txid")
        root = MerkleTree(ordered).root
        signature = sign(key, chain_id, ACCEPT_KIND, accept_payload(epoch, root))
        return cls(key.public_key.data, epoch, ordered, signature)

    def signing_message(self, chain_id: int) -> bytes:
        """The 32-byte message the signature covers on chain ``chain_id``."""
        return _accept_message(chain_id, self.epoch, self.root)

    def signature_check(self, chain_id: int) -> SignatureCheck:
        """The check that decides whether this batch is authentic on chain ``chain_id``."""
        return SignatureCheck(self.voter, self.signing_message(chain_id), self.signature)

    def index_of(self, txid: bytes) -> int | None:
        """Position of ``txid`` in ``txids``, or ``None``."""
        position = bisect_left(self.txids, txid)
        if position < len(self.txids) and self.txids[position] == txid:
            return position
        return None

    def entry(self, index: int) -> CertificateEntry:
        """The certificate entry proving this batch's vote for ``txids[index]``."""
        entry = object.__new__(CertificateEntry)
        # Fields of an already validated batch and its own tree: no re-validation.
        object.__setattr__(entry, "voter", self.voter)
        object.__setattr__(entry, "root", self.root)
        object.__setattr__(entry, "proof", self._merkle().proof(index))
        object.__setattr__(entry, "signature", self.signature)
        return entry

    def to_bytes(self) -> bytes:
        """The canonical encoding."""
        w = Writer().raw(self.voter).u64(self.epoch).varint(len(self.txids))
        for txid in self.txids:
            w.raw(txid)
        return bytes(w.raw(self.signature))

    @classmethod
    def from_bytes(cls, data: bytes) -> VoteBatch:
        """Decode a canonical encoding; anything else raises :class:`DecodeError`."""
        r = Reader(data)
        voter = r.raw(32, "voter key")
        epoch = r.u64("epoch")
        start = r.pos
        n = r.varint(MAX_VOTE_BATCH_TXIDS, "batch size")
        if n == 0:
            raise DecodeError("empty vote batch", start)
        txids = tuple(r.raw(32, "txid") for _ in range(n))
        if any(txids[i] >= txids[i + 1] for i in range(n - 1)):
            raise DecodeError("batch txids not strictly ascending", start)
        signature = r.raw(64, "signature")
        r.end()
        return cls(voter, epoch, txids, signature)


# -- certificates ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CertificateEntry:
    """One voter's share of a certificate: its batch root, the txid's proof, its signature."""

    voter: bytes
    root: bytes
    proof: MerkleProof
    signature: bytes

    def __post_init__(self) -> None:
        _check_hash(self.voter, "voter", "voter key")
        _check_hash(self.root, "root", "batch root")
        _check_proof(self.proof)
        _check_signature(self.signature)

    @classmethod
    def from_batch(cls, batch: VoteBatch, txid: bytes) -> CertificateEntry:
        """The entry proving that ``batch`` votes for ``txid``."""
        index = batch.index_of(txid)
        if index is None:
            raise InvalidArgumentError("txid", "txid is not in the batch")
        return batch.entry(index)

    def _write(self, w: Writer) -> None:
        w.raw(self.voter).raw(self.root)
        write_proof(w, self.proof)
        w.raw(self.signature)

    @classmethod
    def _read(cls, r: Reader) -> CertificateEntry:
        voter = r.raw(32, "voter key")
        root = r.raw(32, "batch root")
        proof = read_proof(r, MAX_VOTE_BATCH_TXIDS)
        signature = r.raw(64, "signature")
        return cls(voter, root, proof, signature)


@dataclass(frozen=True, slots=True)
class FinalityCertificate:
    """Proof that ``txid`` is final: accept votes of epoch ``epoch`` with >= 2/3 of its weight.

    The constructor checks shapes only. :meth:`verify` decides validity; among its
    rules, entries must be in strictly ascending voter order (so voters are distinct
    and the encoding is canonical), and :meth:`from_bytes` rejects any other order.
    """

    txid: bytes
    epoch: int
    entries: tuple[CertificateEntry, ...]

    def __post_init__(self) -> None:
        _check_hash(self.txid, "txid")
        _check_epoch(self.epoch)
        entries = self.entries
        if type(entries) is not tuple or not 1 <= len(entries) <= MAX_CERTIFICATE_ENTRIES:
            raise InvalidArgumentError("entries", f"a certificate holds a tuple of 1..{MAX_CERTIFICATE_ENTRIES} entries")
        if not all(isinstance(e, CertificateEntry) for e in entries):
            raise InvalidArgumentError("entries", "certificate entries must be CertificateEntry")

    @property
    def voters(self) -> tuple[bytes, ...]:
        """The voters' keys, in entry order."""
        return tuple(e.voter for e in self.entries)

    def digest(self) -> bytes:
        """``tagged_hash(FINALITY_CERTIFICATE, to_bytes())``: what blocks commit to."""
        return tagged_hash(Tag.FINALITY_CERTIFICATE, self.to_bytes())

    def weight(self, voting_set: VotingSet) -> int:
        """Total weight of the distinct voters of ``voting_set`` among the entries."""
        return voting_set.weight_of(self.voters)

    def signature_checks(self, chain_id: int) -> list[SignatureCheck]:
        """One signature check per entry."""
        return [
            SignatureCheck(e.voter, _accept_message(chain_id, self.epoch, e.root), e.signature)
            for e in self.entries
        ]

    def check_structure(self, voting_set: VotingSet) -> bool:
        """Every rule of :meth:`verify` except the signatures (cheap; no curve arithmetic).

        The epoch is ``voting_set``'s; voters are strictly ascending, each of positive
        weight; every proof leads from ``txid`` to its entry's root; the voters carry
        >= 2/3 of the total weight.
        """
        if self.epoch != voting_set.epoch:
            return False
        weight = 0
        previous = b""
        for entry in self.entries:
            if entry.voter <= previous:
                return False
            previous = entry.voter
            voter_weight = voting_set.weight(entry.voter)
            if voter_weight == 0 or not verify_merkle_proof(self.txid, entry.proof, entry.root):
                return False
            weight += voter_weight
        return quorum_reached(weight, voting_set.total)

    def verify(
        self, voting_set: VotingSet, chain_id: int, check_signatures: CheckSignatures
    ) -> bool:
        """True when this certificate proves finality under ``voting_set`` on ``chain_id``.

        Structure first (:meth:`check_structure`), then every signature in one call to
        ``check_signatures``. Never raises for an invalid certificate.
        """
        return verify_certificates(
            [self], {voting_set.epoch: voting_set}, chain_id, check_signatures
        )[0]

    def to_bytes(self) -> bytes:
        """The canonical encoding."""
        w = Writer().raw(self.txid).u64(self.epoch).varint(len(self.entries))
        for entry in self.entries:
            entry._write(w)
        return bytes(w)

    @classmethod
    def from_bytes(cls, data: bytes) -> FinalityCertificate:
        """Decode a canonical encoding; anything else raises :class:`DecodeError`."""
        r = Reader(data)
        txid = r.raw(32, "txid")
        epoch = r.u64("epoch")
        start = r.pos
        n = r.varint(MAX_CERTIFICATE_ENTRIES, "certificate size")
        if n == 0:
            raise DecodeError("certificate without entries", start)
        entries = []
        previous = b""
        for _ in range(n):
            at = r.pos
            entry = CertificateEntry._read(r)
            if entry.voter <= previous:
                raise DecodeError("certificate voters not strictly ascending", at)
            previous = entry.voter
            entries.append(entry)
        r.end()
        return cls(txid, epoch, tuple(entries))


def verify_certificates(
    certificates: Sequence[FinalityCertificate],
    voting_sets: Mapping[int, VotingSet],
    chain_id: int,
    check_signatures: CheckSignatures,
) -> list[bool]:
    """The verdict on each certificate, with one ``check_signatures`` call for all of them.

    ``voting_sets`` maps epochs to their voting sets (a certificate of another epoch
    is invalid). Certificates of one block mostly share the same few signed batches,
    so each distinct (voter, epoch, root, signature) is checked once: a block of
    1,000 transactions finalized by 4 masternodes in one window costs 4 checks, not
    3,000.
    """
    structural = []
    index: dict[tuple[bytes, int, bytes, bytes], int] = {}
    checks: list[SignatureCheck] = []
    for certificate in certificates:
        voting_set = voting_sets.get(certificate.epoch)
        ok = voting_set is not None and certificate.check_structure(voting_set)
        positions = []
        if ok:
            for entry in certificate.entries:
                key = (entry.voter, certificate.epoch, entry.root, entry.signature)
                position = index.get(key)
                if position is None:
                    position = index[key] = len(checks)
                    message = _accept_message(chain_id, certificate.epoch, entry.root)
                    checks.append(SignatureCheck(entry.voter, message, entry.signature))
                positions.append(position)
        structural.append((ok, positions))
    verdicts = check_signatures(checks) if checks else []
    if len(verdicts) != len(checks):
        raise InvalidArgumentError("check_signatures", "check_signatures returned the wrong number of verdicts")
    return [ok and all(verdicts[p] for p in positions) for ok, positions in structural]


# -- equivocation evidence -------------------------------------------------------------


def transaction_base(tx: Transaction) -> bytes:
    """The encoding of ``tx`` without witnesses: the preimage of its txid."""
    return tx.to_bytes()[: tx.base_size]


def parse_tx_base(base: bytes) -> tuple[bytes, tuple[OutPoint, ...]]:
    """The txid and the spent outpoints of a transaction's base encoding.

    Raises :class:`DecodeError` unless ``base`` is exactly the witness-free encoding of
    a well-formed transaction.
    """
    r = Reader(base)
    r.u32("version")
    n_in = r.varint(MAX_TX_INPUTS, "input count")
    # The witness section has a fixed size per input, so zero witnesses complete the
    # base into a full encoding the transaction decoder can check byte for byte.
    tx = Transaction.from_bytes(base + bytes(96 * n_in))
    if tx.base_size != len(base):
        raise DecodeError("transaction base has trailing bytes", tx.base_size)
    return tx.txid, tuple(i.outpoint for i in tx.inputs)


@dataclass(frozen=True, slots=True)
class AcceptVote:
    """One accept vote, self-contained: a signed batch's (epoch, root, signature), the
    inclusion proof of a txid in that root, and the transaction's base encoding
    (which fixes the txid and the outpoints it spends)."""

    epoch: int
    root: bytes
    proof: MerkleProof
    signature: bytes
    tx_base: bytes
    txid: bytes = field(init=False, compare=False, repr=False)
    outpoints: tuple[OutPoint, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_epoch(self.epoch)
        _check_hash(self.root, "root", "batch root")
        _check_proof(self.proof)
        _check_signature(self.signature)
        if type(self.tx_base) is not bytes or len(self.tx_base) > MAX_TX_SIZE:
            raise InvalidArgumentError("tx_base", f"tx_base must be bytes of at most {MAX_TX_SIZE}")
        txid, outpoints = parse_tx_base(self.tx_base)
        object.__setattr__(self, "txid", txid)
        object.__setattr__(self, "outpoints", outpoints)

    @classmethod
    def from_batch(cls, batch: VoteBatch, tx: Transaction) -> AcceptVote:
        """The vote of ``batch`` for ``tx`` (which must be in the batch)."""
        entry = CertificateEntry.from_batch(batch, tx.txid)
        return cls(batch.epoch, batch.root, entry.proof, batch.signature, transaction_base(tx))

    def signature_check(self, voter: bytes, chain_id: int) -> SignatureCheck:
        """The check that ``voter`` signed this vote's batch on ``chain_id``."""
        return SignatureCheck(
            voter, _accept_message(chain_id, self.epoch, self.root), self.signature
        )

    def _write(self, w: Writer) -> None:
        w.u64(self.epoch).raw(self.root)
        write_proof(w, self.proof)
        w.raw(self.signature).var_bytes(self.tx_base)

    @classmethod
    def _read(cls, r: Reader) -> AcceptVote:
        epoch = r.u64("epoch")
        root = r.raw(32, "batch root")
        proof = read_proof(r, MAX_VOTE_BATCH_TXIDS)
        signature = r.raw(64, "signature")
        tx_base = r.var_bytes(MAX_TX_SIZE, "transaction base")
        return cls(epoch, root, proof, signature, tx_base)


@dataclass(frozen=True, slots=True)
class ConflictingVotesEvidence:
    """Proof that ``offender`` signed accept votes for two transactions spending one outpoint.

    Honest masternodes never do that, in any epoch, so this is slashable misbehaviour.
    ``first.txid < second.txid`` (the canonical order; :meth:`of` sorts). Whether the
    offender was a voter of the votes' epochs is for the consumer to check against its
    registry; :meth:`verify` proves the signatures and the conflict.
    """

    offender: bytes
    first: AcceptVote
    second: AcceptVote

    def __post_init__(self) -> None:
        _check_hash(self.offender, "offender", "offender key")
        if not isinstance(self.first, AcceptVote) or not isinstance(self.second, AcceptVote):
            raise InvalidArgumentError("first" if not isinstance(self.first, AcceptVote) else "second", "evidence holds two AcceptVote values")
        if not self.first.txid < self.second.txid:
            raise InvalidArgumentError("second", "evidence votes must be for distinct txids in ascending order")

    @classmethod
    def of(cls, offender: bytes, a: AcceptVote, b: AcceptVote) -> ConflictingVotesEvidence:
        """Evidence from two votes in either order."""
        return cls(offender, a, b) if a.txid < b.txid else cls(offender, b, a)

    @property
    def txids(self) -> tuple[bytes, bytes]:
        """The two conflicting txids, ascending."""
        return self.first.txid, self.second.txid

    @property
    def outpoints(self) -> tuple[OutPoint, ...]:
        """The outpoints both transactions spend, ascending (empty: no conflict)."""
        return tuple(sorted(set(self.first.outpoints) & set(self.second.outpoints)))

    def verify(self, chain_id: int, check_signatures: CheckSignatures) -> bool:
        """True when the two votes conflict, their proofs hold and ``offender`` signed both."""
        if not self.outpoints:
            return False
        for vote in (self.first, self.second):
            if not verify_merkle_proof(vote.txid, vote.proof, vote.root):
                return False
        checks = [self.first.signature_check(self.offender, chain_id)]
        second = self.second.signature_check(self.offender, chain_id)
        if second != checks[0]:
            checks.append(second)
        verdicts = check_signatures(checks)
        return len(verdicts) == len(checks) and all(verdicts)

    def digest(self) -> bytes:
        """``tagged_hash(CONFLICTING_VOTES_EVIDENCE, to_bytes())``."""
        return tagged_hash(Tag.CONFLICTING_VOTES_EVIDENCE, self.to_bytes())

    def to_bytes(self) -> bytes:
        """The canonical encoding."""
        w = Writer().raw(self.offender)
        self.first._write(w)
        self.second._write(w)
        return bytes(w)

    @classmethod
    def from_bytes(cls, data: bytes) -> ConflictingVotesEvidence:
        """Decode a canonical encoding; anything else raises :class:`DecodeError`."""
        r = Reader(data)
        offender = r.raw(32, "offender key")
        first = AcceptVote._read(r)
        at = r.pos
        second = AcceptVote._read(r)
        r.end()
        if not first.txid < second.txid:
            raise DecodeError("evidence votes not in ascending txid order", at)
        return cls(offender, first, second)
