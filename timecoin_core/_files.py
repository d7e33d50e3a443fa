"""Putting a file in place atomically and durably: the one helper the store and the keystore share.

A file is written under a temporary name in the target's directory, fsynced, then
moved into place — replacing what is there, or only if nothing is (a hard link fails
atomically when the name exists) — and the directory is fsynced so the new name
survives a crash. A reader sees the old file or the whole new one, never a mix.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path
from typing import Final

__all__ = ["fsync_file", "place_new", "read_bounded", "sync_directory", "write_file"]

_CREATE: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def fsync_file(path: str | Path) -> None:
    """Flush a file written through another handle (a database connection, say) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def place_new(temporary: str | Path, path: str | Path) -> bool:
    """Move ``temporary`` to ``path`` only if nothing is there; False (and nothing moved) if something is.

    ``temporary`` is gone afterwards either way. On filesystems without hard links the
    name is claimed first with an exclusive create, then replaced: a crash in between
    leaves an empty file, never a mix.
    """
    try:
        os.link(temporary, path)
    except FileExistsError:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        return False
    except OSError:
        try:
            os.close(os.open(path, _CREATE, 0o600))
        except FileExistsError:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            return False
        os.replace(temporary, path)
        return True
    os.unlink(temporary)
    return True


def sync_directory(directory: str | Path) -> None:
    """fsync a directory so that names created or replaced in it survive a crash (POSIX only)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some filesystems cannot fsync a directory; the rename is then as durable as it gets.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
    finally:
        os.close(fd)


def write_file(path: str | Path, data: bytes, *, replace: bool, mode: int = 0o600) -> bool:
    """Put ``data`` at ``path`` all at once, durable when this returns.

    The temporary file is created with ``mode`` (never readable by others first, then
    narrowed), written, fsynced and moved into place: over what is there with
    ``replace``, else only if nothing is (False, and nothing written, if something
    is). The temporary file never outlives a failure.
    """
    target = Path(path)
    directory = target.parent
    temporary = directory / f".{target.name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(temporary, _CREATE, mode)
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, mode)  # os.open's mode went through the umask: set it exactly
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(temporary, target)
        elif not place_new(temporary, target):
            return False
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    sync_directory(directory)
    return True


def read_bounded(path: str | Path, limit: int) -> bytes | None:
    """The bytes of the file at ``path``, or None when it holds more than ``limit`` bytes.

    Reads at most ``limit + 1`` bytes, so a huge file costs no more than that.
    """
    with open(path, "rb") as file:
        raw = file.read(limit + 1)
    return None if len(raw) > limit else raw
