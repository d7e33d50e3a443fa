"""Ed25519 backends behind one policy, and :func:`verify_one`.

A backend is a library's verify call wrapped as ``(public_key, message, signature) ->
bool``. Backends are loaded on first use, so importing this module imports neither
``cryptography`` nor ``nacl``; asking for ``"pynacl"`` is what imports PyNaCl.

Every verdict the SDK produces comes from :func:`verify_function`: the policy
(:func:`~timecoin_core.verify.policy.admissible`) and then the backend. The raw
functions (:func:`raw_verify_function`) exist for tests and benchmarks only.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import InvalidArgumentError
from .errors import BackendUnavailableError, UnknownBackendError
from .policy import admissible

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "VerifyFunction",
    "available_backends",
    "raw_verify_function",
    "verify_function",
    "verify_one",
]

VerifyFunction = Callable[[bytes, bytes, bytes], bool]
"""``(public_key, message, signature) -> verdict``."""

BACKENDS: tuple[str, ...] = ("cryptography", "pynacl")
"""Every backend name the SDK knows, installed or not."""

DEFAULT_BACKEND = "cryptography"


def _raw_cryptography() -> VerifyFunction:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    load = Ed25519PublicKey.from_public_bytes

    def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
        try:
            load(public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True

    return verify


def _raw_pynacl() -> VerifyFunction:
    try:
        from nacl.bindings import crypto_sign_BYTES, crypto_sign_open
        from nacl.exceptions import BadSignatureError
    except ImportError as exc:
        raise BackendUnavailableError(
            "backend 'pynacl' needs PyNaCl: pip install 'timecoin[nacl]'"
        ) from exc

    def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
        # crypto_sign_open reads 32 key bytes without checking the length, and its
        # combined format would silently re-split a short signature into the message.
        if len(public_key) != 32 or len(signature) != crypto_sign_BYTES:
            return False
        try:
            crypto_sign_open(signature + message, public_key)
        except BadSignatureError:
            return False
        return True

    return verify


_LOADERS: dict[str, Callable[[], VerifyFunction]] = {
    "cryptography": _raw_cryptography,
    "pynacl": _raw_pynacl,
}
_RAW: dict[str, VerifyFunction] = {}
_CHECKED: dict[str, VerifyFunction] = {}


def raw_verify_function(backend: str) -> VerifyFunction:
    """The backend's own verify call with no policy in front (tests and benchmarks only).

    Returns ``False`` rather than raising for any ``bytes`` input. Raw backends disagree
    with each other on crafted signatures; never use one to decide validity.

    :raises UnknownBackendError: ``backend`` is not in :data:`BACKENDS`.
    :raises BackendUnavailableError: the backend's library is not installed.
    """
    fn = _RAW.get(backend)
    if fn is None:
        loader = _LOADERS.get(backend)
        if loader is None:
            raise UnknownBackendError(
                f"unknown signature backend {backend!r}; known: {', '.join(BACKENDS)}"
            )
        fn = _RAW[backend] = loader()
    return fn


def _as_bytes(value: object, parameter: str) -> bytes:
    # bytes(int) would make a zero-filled string, so go through the buffer protocol.
    try:
        return bytes(memoryview(value))  # type: ignore[arg-type]
    except TypeError:
        raise InvalidArgumentError(
            parameter, f"signature check fields must be bytes-like, not {type(value).__name__}"
        ) from None


def verify_function(backend: str) -> VerifyFunction:
    """The protocol's verdict function for ``backend``: policy first, then the backend.

    The returned function never raises for ``bytes`` of any length. Other bytes-like
    objects are copied to ``bytes``; anything else raises :class:`TypeError`.

    :raises UnknownBackendError: ``backend`` is not in :data:`BACKENDS`.
    :raises BackendUnavailableError: the backend's library is not installed.
    """
    fn = _CHECKED.get(backend)
    if fn is not None:
        return fn
    raw = raw_verify_function(backend)

    def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
        if type(public_key) is not bytes or type(signature) is not bytes:
            public_key, signature = _as_bytes(public_key, "public_key"), _as_bytes(signature, "signature")
        if type(message) is not bytes:
            message = _as_bytes(message, "message")
        return admissible(public_key, signature) and raw(public_key, message, signature)

    _CHECKED[backend] = verify
    return verify


def verify_one(
    public_key: bytes, message: bytes, signature: bytes, backend: str = DEFAULT_BACKEND
) -> bool:
    """True when ``signature`` is a valid signature of ``message`` by ``public_key``.

    Applies the protocol's signature policy (see ``docs/signature-policy.md``) and then
    ``backend``'s cofactorless Ed25519 verification, so every backend gives the same
    verdict. Returns ``False``, never raises, for keys and signatures of any length.

    :raises UnknownBackendError: ``backend`` is not in :data:`BACKENDS`.
    :raises BackendUnavailableError: the backend's library is not installed.
    """
    fn = _CHECKED.get(backend)
    if fn is None:
        fn = verify_function(backend)
    return fn(public_key, message, signature)


def available_backends() -> tuple[str, ...]:
    """The backends that can be used here, in :data:`BACKENDS` order (default first)."""
    names = []
    for name in BACKENDS:
        try:
            raw_verify_function(name)
        except BackendUnavailableError:
            continue
        names.append(name)
    return tuple(names)
