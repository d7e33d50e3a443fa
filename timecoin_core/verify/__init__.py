"""Ed25519 signature verification: one validation policy, pluggable backends and executors.

Single signatures: :func:`verify_one`. Batches: a :class:`Verifier` from
:func:`make_verifier` (``"sync"``, ``"thread"`` or ``"process"``). Every backend under
every executor gives the same verdict on every input, because the protocol's policy
(:mod:`timecoin_core.verify.policy`, specified in ``docs/signature-policy.md``) runs in
front of the backend.
"""

from __future__ import annotations

from .backends import BACKENDS, DEFAULT_BACKEND, available_backends, verify_one
from .check import SignatureCheck
from .errors import BackendUnavailableError, UnknownBackendError, VerifierConfigError
from .executors import (
    ProcessVerifier,
    SyncVerifier,
    ThreadVerifier,
    UnguardedMainError,
    Verifier,
    VerifierKind,
    make_verifier,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "BackendUnavailableError",
    "ProcessVerifier",
    "SignatureCheck",
    "SyncVerifier",
    "ThreadVerifier",
    "UnguardedMainError",
    "UnknownBackendError",
    "Verifier",
    "VerifierConfigError",
    "VerifierKind",
    "available_backends",
    "make_verifier",
    "verify_one",
]
