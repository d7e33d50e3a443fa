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
from pathlib import Path
from typing import Final

__all__ = ["fsync_file", "place_new", "sync_directory"]

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
