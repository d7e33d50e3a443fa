"""Errors raised when a verifier or backend is configured wrongly.

A bad signature is never an error: it is the verdict ``False``. These classes cover the
caller asking for something that cannot work (an unknown backend, zero workers), and all
derive from :class:`ValueError` as well as :class:`~timecoin_core.errors.TimecoinError`.
A verifier that cannot produce verdicts at run time raises
:class:`~timecoin_core.errors.VerifierError` instead.
"""

from __future__ import annotations

from ..errors import TimecoinError

__all__ = ["BackendUnavailableError", "UnknownBackendError", "VerifierConfigError"]


class VerifierConfigError(TimecoinError, ValueError):
    """Invalid verifier arguments: unknown kind, ``workers < 1``, bad chunk size, ..."""


class UnknownBackendError(VerifierConfigError):
    """A backend name that is not one of :data:`timecoin_core.verify.BACKENDS`."""


class BackendUnavailableError(VerifierConfigError):
    """A known backend whose library is not installed (``pynacl``: install ``timecoin[nacl]``)."""
