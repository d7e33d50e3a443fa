"""The unit of work handed to a verifier: one (public key, message, signature) triple."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SignatureCheck"]


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """One Ed25519 signature to check: ``signature`` over ``message`` by ``public_key``.

    Fields are not validated on construction: a key or signature of the wrong length is
    a legitimate input whose verdict is ``False``. Instances are picklable, so they can
    cross process boundaries.
    """

    public_key: bytes
    message: bytes
    signature: bytes
