"""The value a block proposal carries: the block and its transactions' finality certificates.

The block stores only the certificates' digests; the certificates travel beside it in
the proposal (and in a ``Commit``), so every validator can check that each
transaction really is final before it votes for the block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..block import Block
from ..codec import Reader, Writer
from .finality_messages import MAX_CERTIFICATE_SIZE, FinalityCertificate

__all__ = ["MAX_PROPOSAL_CERTIFICATES", "ProposalValue"]

MAX_PROPOSAL_CERTIFICATES: Final = 100_000
"""Most certificates one proposal value may carry."""


@dataclass(frozen=True, slots=True)
class ProposalValue:
    """What a block proposal carries: the block and its transactions' finality certificates."""

    block: Block
    certificates: tuple[FinalityCertificate, ...]

    def to_bytes(self) -> bytes:
        """``block:varbytes | n:varint | certificate:varbytes * n``."""
        w = Writer().var_bytes(self.block.to_bytes()).varint(len(self.certificates))
        for certificate in self.certificates:
            w.var_bytes(certificate.to_bytes())
        return bytes(w)

    @classmethod
    def from_bytes(cls, data: bytes, max_block_size: int) -> ProposalValue:
        """Decode; :class:`DecodeError` for anything that is not a canonical encoding."""
        r = Reader(data)
        block = Block.from_bytes(r.var_bytes(max_block_size, "block"), max_size=max_block_size)
        n = r.varint(MAX_PROPOSAL_CERTIFICATES, "certificate count")
        certificates = tuple(
            FinalityCertificate.from_bytes(r.var_bytes(MAX_CERTIFICATE_SIZE, "certificate")) for _ in range(n)
        )
        r.end()
        return cls(block, certificates)
