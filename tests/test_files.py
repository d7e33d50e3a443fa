"""The atomic file placement the store and the keystore share."""

from __future__ import annotations

from pathlib import Path

from timecoin_core._files import fsync_file, place_new, sync_directory


def test_place_new_moves_into_a_free_name_and_never_over_an_existing_one(tmp_path: Path) -> None:
    first, second, target = tmp_path / "a.tmp", tmp_path / "b.tmp", tmp_path / "target"
    first.write_bytes(b"first")
    second.write_bytes(b"second")
    fsync_file(first)
    assert place_new(first, target) is True
    assert target.read_bytes() == b"first" and not first.exists()
    assert place_new(second, target) is False  # something is there: nothing moves
    assert target.read_bytes() == b"first" and not second.exists()
    sync_directory(tmp_path)
