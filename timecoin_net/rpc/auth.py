"""RPC authentication: the cookie file and bitcoind-style ``rpcauth`` password hashes.

* **Cookie.** At start the server writes ``<datadir>/.cookie`` (mode 0600) holding
  ``__cookie__:<64 random hex digits>`` and accepts exactly those credentials; the file
  is removed at exit. A local client proves it may read the datadir by reading it.
* **rpcauth.** ``user:salt$hash`` entries, where ``hash`` is
  ``HMAC-SHA256(key=salt, message=password)`` in hex (bitcoind's format, so its
  ``rpcauth.py`` works too); :func:`make_rpcauth` makes one. The server keeps no
  password.

Every comparison is constant-time (:func:`hmac.compare_digest`) and every configured
entry is checked, so timing says nothing about which user exists.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from timecoin_core.errors import InvalidArgumentError, TimecoinError

__all__ = [
    "COOKIE_FILE",
    "COOKIE_USER",
    "Authenticator",
    "CookieError",
    "basic_authorization",
    "make_rpcauth",
    "read_cookie",
]

COOKIE_USER = "__cookie__"
"""The user name of cookie credentials."""

COOKIE_FILE = ".cookie"
"""The cookie's file name inside the datadir."""


class CookieError(TimecoinError):
    """The cookie file is missing, unreadable or malformed."""


def make_rpcauth(user: str, password: str, salt: str | None = None) -> str:
    """An ``rpcauth`` entry ``user:salt$hash`` for ``user`` and ``password`` (random salt by default).

    :raises InvalidArgumentError: ``user`` is empty or holds ``:``, or an argument is not a str.
    """
    for parameter, value in (("user", user), ("password", password)):
        if not isinstance(value, str):
            raise InvalidArgumentError(parameter, f"expected a str, got {type(value).__name__}")
    if not user or ":" in user:
        raise InvalidArgumentError("user", "must be non-empty and hold no ':'")
    salt = secrets.token_hex(16) if salt is None else salt
    if not isinstance(salt, str) or not salt or "$" in salt or ":" in salt:
        raise InvalidArgumentError("salt", "must be a non-empty str without '$' or ':'")
    digest = hmac.new(salt.encode(), password.encode(), hashlib.sha256).hexdigest()
    return f"{user}:{salt}${digest}"


def _parse_rpcauth(entry: str) -> tuple[bytes, str, bytes]:
    user, sep, rest = entry.partition(":")
    salt, dollar, digest = rest.partition("$")
    if not (isinstance(entry, str) and sep and dollar and user and salt and len(digest) == 64):
        raise InvalidArgumentError("rpcauth", f"expected 'user:salt$hash' with a 64-digit hash, got {entry[:40]!r}")
    try:
        raw = bytes.fromhex(digest)
    except ValueError:
        raise InvalidArgumentError("rpcauth", f"the hash of {user!r} is not hex") from None
    return user.encode(), salt, raw


def basic_authorization(user: str, password: str) -> bytes:
    """The value of an ``Authorization`` header for HTTP Basic."""
    return b"Basic " + base64.b64encode(f"{user}:{password}".encode())


def read_cookie(datadir: str | Path) -> tuple[str, str]:
    """The ``(user, password)`` in ``<datadir>/.cookie``.

    :raises CookieError: the file is missing or not ``user:password``.
    """
    path = Path(datadir) / COOKIE_FILE
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise CookieError(f"cannot read the RPC cookie {path}: {exc}") from exc
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise CookieError(f"the RPC cookie {path} is not 'user:password'")
    return user, password


class Authenticator:
    """Checks ``Authorization`` headers against a cookie secret and ``rpcauth`` entries.

    :raises InvalidArgumentError: an ``rpcauth`` entry is malformed.
    """

    def __init__(self, *, cookie: str | None = None, rpcauth: Sequence[str] = ()) -> None:
        self._cookie = None if cookie is None else f"{COOKIE_USER}:{cookie}".encode()
        self._entries = [_parse_rpcauth(e) for e in rpcauth]

    def check(self, header: bytes | None) -> bool:
        """Whether ``header`` (the raw ``Authorization`` value) carries valid credentials."""
        if header is None:
            return False
        scheme, _, encoded = header.strip().partition(b" ")
        if scheme.lower() != b"basic":
            return False
        try:
            pair = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        user, sep, password = pair.partition(b":")
        if not sep:
            return False
        ok = False
        # Every entry is checked, whatever matched: the time taken never depends on the user.
        if self._cookie is not None:
            ok |= hmac.compare_digest(pair, self._cookie)
        for name, salt, digest in self._entries:
            candidate = hmac.new(salt.encode(), password, hashlib.sha256).digest()
            ok |= hmac.compare_digest(name, user) & hmac.compare_digest(candidate, digest)
        return ok


def write_cookie(datadir: str | Path) -> tuple[Path, str]:
    """Write a fresh cookie to ``<datadir>/.cookie`` (0600); return its path and secret."""
    directory = Path(datadir)
    secret = secrets.token_hex(32)
    path = directory / COOKIE_FILE
    temporary = directory / (COOKIE_FILE + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    # Created 0600 from the start: never a moment when another user could read it.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(f"{COOKIE_USER}:{secret}")
    os.replace(temporary, path)
    return path, secret


def remove_cookie(path: Path, secret: str) -> None:
    """Remove the cookie at ``path`` if it is still ours (another server may have replaced it)."""
    with contextlib.suppress(OSError):
        if path.read_text(encoding="ascii").strip() == f"{COOKIE_USER}:{secret}":
            path.unlink()
