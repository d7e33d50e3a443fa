"""A short slice of ``make fuzz``: every decoder and a session's ``receive_data`` under the
seeded structure-aware mutator, so the invariants run in every ``make test``."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from timecoin_core.wire import MessageType

# The fuzzer lives with the benchmarks (make fuzz); plain ``pytest`` does not put the
# repository root on sys.path the way ``python -m pytest`` does.
ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks.fuzz_wire import fuzz_decoder, fuzz_session, main  # noqa: E402


@pytest.mark.parametrize("type_", list(MessageType), ids=lambda t: t.name)
def test_decoder_slice(type_: MessageType) -> None:
    stats = fuzz_decoder(type_, 3000, random.Random(f"slice:{type_.name}"))
    assert stats.inputs == 3000
    assert stats.failures == []
    assert len(stats.outcomes) > 1


def test_session_slice() -> None:
    stats = fuzz_session(3000, random.Random("slice:session"))
    assert stats.inputs == 3000 and stats.failures == []
    assert stats.accepted > 0 and {"DECRYPT_FAILED", "MALFORMED_MESSAGE"} <= stats.outcomes


def test_the_runner_reports_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--iterations", "200", "--targets", "PING,session"]) == 0
    out = capsys.readouterr().out
    assert "PING" in out and "session" in out and "0 target(s) failed" in out
