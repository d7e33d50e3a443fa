"""Fuzz the wire: every message decoder and a session's ``receive_data``.

Usage: ``python benchmarks/fuzz_wire.py [--iterations N] [--seed S] [--targets a,b]
[--engine mutator|atheris]`` (``make fuzz`` runs every target for 1,000,000 inputs).

The default engine is a seeded, structure-aware mutator, so a run is reproducible
from its seed:

* decoder targets (one per message type) start from a valid payload of the type and
  mutate it with operations that understand the codec: bit flips, "interesting"
  bytes and little-endian integers, minimal, non-minimal and huge varints, deleted,
  duplicated and spliced ranges. An input whose outcome (the error's code and reason,
  or a successful decode) is new joins the corpus, so mutations go deeper than the
  first length check. Invariants: only ``ProtocolError`` with the peer to blame, and
  anything that decodes re-encodes to exactly the same bytes;
* the ``session`` target is a scripted peer that knows the session keys: it seals
  frames whose headers (type, flags, reserved byte, both lengths) and payloads (taken
  from the decoder corpus, sometimes compressed, sometimes zlib bombs) are mutated,
  so the header checks, inflation and decoders run behind a real record layer; a
  share of inputs instead flips ciphertext bits or mutates the handshake itself.
  Invariant: ``receive_data`` never raises, and a closed session stays closed.

``--engine atheris`` runs the same targets under atheris/libFuzzer (coverage-guided)
when ``pip install atheris`` works; it takes raw bytes, one target per process.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import re
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timecoin_core.keys import PrivateKey
from timecoin_core.network import DEVNET
from timecoin_core.wire import (
    MESSAGE_SPECS,
    Closed,
    HandshakeComplete,
    MessageReceived,
    MessageType,
    PeerSession,
    ProtocolError,
    RecordCipher,
    SessionState,
    decode_message,
    derive_keys,
    encode_message,
    identity_message,
)
from timecoin_core.wire.frames import COMPRESSED, pack_header
from timecoin_core.wire.messages import Hello
from timecoin_core.wire.session import _genesis_hash
from timecoin_core.wire.testing import sample_messages

__all__ = ["FuzzStats", "Mutator", "SessionFuzzer", "fuzz_decoder", "fuzz_session", "main"]

_U8 = (0, 1, 0x7F, 0x80, 0xFC, 0xFD, 0xFE, 0xFF)
_UINT = (0, 1, 0xFC, 0xFD, 0xFF, 0x100, 0xFFFF, 0x10000, 2**31, 2**32 - 1, 2**63, 2**64 - 1)
_VARINTS = (
    b"\x00", b"\x01", b"\xfc", b"\xfd\xfd\x00", b"\xfd\x01\x00", b"\xfd\xff\xff",
    b"\xfe\x00\x00\x01\x00", b"\xfe\xff\xff\xff\xff", b"\xfe\x01\x00\x00\x00",
    b"\xff\x00\x00\x00\x00\x01\x00\x00\x00", b"\xff\xff\xff\xff\xff\xff\xff\xff\xff",
)
_DIGITS = re.compile(r"\d+")


@dataclass
class FuzzStats:
    """What one target's run did: inputs, outcomes seen, corpus size, failures."""

    target: str
    inputs: int = 0
    accepted: int = 0
    outcomes: set[str] = field(default_factory=set)
    corpus: int = 0
    failures: list[tuple[bytes, str]] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        """One progress line."""
        rate = self.inputs / self.seconds if self.seconds else 0.0
        return (
            f"{self.target:<28} {self.inputs:>10,} inputs  {self.accepted:>9,} accepted  "
            f"{len(self.outcomes):>4} outcomes  corpus {self.corpus:>5}  "
            f"{rate:>9,.0f}/s  failures {len(self.failures)}"
        )


class Mutator:
    """Seeded, codec-aware byte mutations over a growing corpus."""

    def __init__(self, rng: random.Random, corpus: list[bytes], limit: int = 2000) -> None:
        self.rng = rng
        self.corpus = list(corpus)
        self.limit = limit

    def add(self, data: bytes) -> None:
        """Keep ``data`` as a seed for later mutations (a bounded corpus, oldest kept)."""
        if len(self.corpus) < self.limit:
            self.corpus.append(data)
        else:
            self.corpus[self.rng.randrange(self.limit)] = data

    def pick(self) -> bytes:
        """A corpus entry."""
        return self.corpus[self.rng.randrange(len(self.corpus))]

    def mutate(self, data: bytes) -> bytes:
        """``data`` after one to eight random codec-aware edits."""
        rng = self.rng
        out = bytearray(data)
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4, 8))):
            op = rng.randrange(11)
            n = len(out)
            at = rng.randrange(n + 1)
            if op == 0 and n:
                out[rng.randrange(n)] ^= 1 << rng.randrange(8)
            elif op == 1 and n:
                out[rng.randrange(n)] = rng.choice(_U8)
            elif op == 2:
                width = rng.choice((2, 4, 8))
                value = rng.choice(_UINT) & ((1 << (8 * width)) - 1)
                out[at : at + width] = value.to_bytes(width, "little")
            elif op == 3:
                varint = rng.choice(_VARINTS)
                if rng.random() < 0.5:
                    out[at:at] = varint
                else:
                    out[at : at + len(varint)] = varint
            elif op == 4 and n:
                del out[at : at + rng.randint(1, 64)]
            elif op == 5:
                del out[at:]
            elif op == 6:
                out += rng.randbytes(rng.randint(1, 32))
            elif op == 7 and n:
                start = rng.randrange(n)
                piece = out[start : start + rng.randint(1, 128)]
                out[at:at] = piece * rng.randint(1, 4)
            elif op == 8:
                other = self.pick()
                cut = rng.randrange(len(other) + 1)
                out[at:] = other[cut:]
            elif op == 9 and n:
                width = rng.randint(1, 16)
                out[at : at + width] = rng.randbytes(width)
            elif op == 10 and n >= 2:
                i, j = sorted(rng.sample(range(n), 2))
                out[i], out[j] = out[j], out[i]
        return bytes(out)


def _outcome(exc: ProtocolError) -> str:
    return f"{exc.code.name}:{_DIGITS.sub('#', exc.detail)[:80]}"


def fuzz_decoder(
    type_: MessageType, iterations: int, rng: random.Random,
    progress: Callable[[FuzzStats], None] | None = None, every: int = 200_000,
) -> FuzzStats:
    """Run ``decode_message(type_, ...)`` on ``iterations`` mutated inputs."""
    seed_payload = encode_message(sample_messages()[type_])[1]
    mutator = Mutator(rng, [seed_payload])
    stats = FuzzStats(type_.name)
    started = time.process_time()
    for i in range(1, iterations + 1):
        data = mutator.mutate(mutator.pick())
        try:
            message = decode_message(type_, data)
        except ProtocolError as exc:
            key = _outcome(exc)
            if exc.blame.value != "peer":
                stats.failures.append((data, f"local blame: {exc!r}"))
        except Exception as exc:  # the invariant under test: nothing else escapes
            stats.failures.append((data, repr(exc)))
            continue
        else:
            stats.accepted += 1
            key = f"ok:{len(data) // 64}"
            if encode_message(message) != (type_, data):
                stats.failures.append((data, "decoded but re-encodes differently"))
        if key not in stats.outcomes:
            stats.outcomes.add(key)
            mutator.add(data)
        stats.inputs = i
        if progress is not None and i % every == 0:
            stats.seconds = time.process_time() - started
            stats.corpus = len(mutator.corpus)
            progress(stats)
    stats.seconds = time.process_time() - started
    stats.corpus = len(mutator.corpus)
    return stats


class SessionFuzzer:
    """A scripted peer holding the session keys of a fixed handshake with a fresh target."""

    IDENTITY = PrivateKey.from_seed(b"\x0a" * 32)
    PEER = PrivateKey.from_seed(b"\x0b" * 32)
    EPHEMERAL = b"\x1a" * 32
    PEER_EPHEMERAL = b"\x1b" * 32

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

        probe = self._target()
        target_opening = probe.data_to_send()
        peer_eph = X25519PrivateKey.from_private_bytes(self.PEER_EPHEMERAL)
        self.peer_opening = DEVNET.magic + peer_eph.public_key().public_bytes_raw()
        keys = derive_keys(peer_eph, target_opening[4:], target_opening + self.peer_opening)
        self.key = keys.responder_to_initiator
        hello = Hello(1, DEVNET.chain_id, _genesis_hash(DEVNET), 0, 0, bytes(32), "fuzz", 0,
                      self.PEER.public_key.data, self.PEER.sign(identity_message(DEVNET.chain_id, keys.session_id)))
        sealer = RecordCipher(self.key)
        type_id, payload = encode_message(hello)
        self.hello_records = sealer.seal(pack_header(type_id, 0, len(payload), len(payload))) + sealer.seal(payload)
        self.handshake = self.peer_opening + self.hello_records

    def _target(self) -> PeerSession:
        return PeerSession(DEVNET, self.IDENTITY, initiator=True, now=0.0, ephemeral=self.EPHEMERAL)

    def fresh(self) -> tuple[PeerSession, RecordCipher]:
        """A READY target and the cipher that seals the peer's next record."""
        target = self._target()
        events = target.receive_data(self.handshake, 0.0)
        assert isinstance(events[0], HandshakeComplete), events
        return target, RecordCipher(self.key, counter=2)


def fuzz_session(
    iterations: int, rng: random.Random,
    progress: Callable[[FuzzStats], None] | None = None, every: int = 100_000,
) -> FuzzStats:
    """Feed ``iterations`` structure-aware inputs to sessions' ``receive_data``."""
    fuzzer = SessionFuzzer()
    samples = {t: encode_message(m)[1] for t, m in sample_messages().items()}
    types = [t for t in samples if t is not MessageType.HELLO]
    mutator = Mutator(rng, list(samples.values()))
    stats = FuzzStats("session")
    target, sealer = fuzzer.fresh()
    now = 0.0
    bomb = zlib.compress(bytes(1 << 22), 9)
    started = time.process_time()
    for i in range(1, iterations + 1):
        now += 0.5
        roll = rng.random()
        if roll < 0.03:
            # The handshake itself, mutated: a fresh target every time.
            target = fuzzer._target()
            data = mutator.mutate(fuzzer.handshake)
            now = 0.0
        else:
            frames = []
            for _ in range(rng.choice((1, 1, 1, 2, 3))):
                type_ = rng.choice(types)
                type_id = int(type_) if rng.random() < 0.97 else rng.randrange(0x10000)
                payload = samples[type_] if rng.random() < 0.3 else mutator.mutate(samples[type_])
                flags, body, raw_length = 0, payload, len(payload)
                r = rng.random()
                if r < 0.1:
                    body, flags = zlib.compress(payload), COMPRESSED
                elif r < 0.12:
                    body, flags, raw_length = bomb, COMPRESSED, MESSAGE_SPECS.get(type_, MESSAGE_SPECS[MessageType.TX]).cap
                length = len(body)
                if rng.random() < 0.05:
                    length = rng.choice(_UINT) & 0xFFFFFFFF
                if rng.random() < 0.05:
                    raw_length = rng.choice(_UINT) & 0xFFFFFFFF
                if rng.random() < 0.03:
                    flags = rng.randrange(256)
                header = bytearray(pack_header(type_id, flags, length, raw_length))
                if rng.random() < 0.02:
                    header[3] = rng.randrange(1, 256)
                frames.append(sealer.seal(bytes(header)) + sealer.seal(body))
            data = b"".join(frames)
            if rng.random() < 0.03:
                data = mutator.mutate(data)
        try:
            events = []
            if rng.random() < 0.2 and len(data) > 1:
                cut = rng.randrange(1, len(data))
                events += target.receive_data(data[:cut], now)
                events += target.receive_data(data[cut:], now)
            else:
                events += target.receive_data(data, now)
            target.data_to_send()
            for event in events:
                if isinstance(event, MessageReceived):
                    stats.accepted += 1
                elif isinstance(event, Closed):
                    stats.outcomes.add(event.code.name)
                elif not isinstance(event, HandshakeComplete):
                    stats.failures.append((data, f"unexpected event {event!r}"))
        except Exception as exc:  # the invariant under test: receive_data never raises
            stats.failures.append((data, repr(exc)))
        if roll < 0.03 or target.state is not SessionState.READY:
            target, sealer = fuzzer.fresh()
            now = 0.0
        stats.inputs = i
        if progress is not None and i % every == 0:
            stats.seconds = time.process_time() - started
            stats.corpus = len(mutator.corpus)
            progress(stats)
    stats.seconds = time.process_time() - started
    stats.corpus = len(mutator.corpus)
    return stats


def _atheris(target: str) -> None:  # pragma: no cover - needs atheris
    import importlib

    atheris = importlib.import_module("atheris")

    if target == "session":
        fuzzer = SessionFuzzer()

        def one(data: bytes) -> None:
            session = fuzzer._target()
            session.receive_data(fuzzer.peer_opening + data, 0.0)
    else:
        type_ = MessageType[target]

        def one(data: bytes) -> None:
            with contextlib.suppress(ProtocolError):
                decode_message(type_, data)

    atheris.instrument_all()
    atheris.Setup([sys.argv[0], *sys.argv[sys.argv.index("--") + 1 :]] if "--" in sys.argv else sys.argv[:1], one)
    atheris.Fuzz()


def main(argv: list[str]) -> int:
    """Run the targets; exit 1 if any invariant failed (failing inputs are written out)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--targets", default="all", help="comma-separated type names and/or 'session'")
    parser.add_argument("--engine", choices=("mutator", "atheris"), default="mutator")
    parser.add_argument("--out", default=".fuzz-failures")
    args, _ = parser.parse_known_args(argv)
    names = [t.name for t in MessageType] + ["session"]
    wanted = names if args.targets == "all" else args.targets.split(",")
    unknown = set(wanted) - set(names)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; known: {names}")
    if args.engine == "atheris":
        if len(wanted) != 1:
            parser.error("atheris runs one target per process: pass --targets NAME")
        _atheris(wanted[0])
        return 0
    failed = 0
    total = 0
    print(f"fuzz_wire: seed {args.seed}, {args.iterations:,} inputs per target", flush=True)
    for name in wanted:
        rng = random.Random(f"{args.seed}:{name}")

        def show(stats: FuzzStats) -> None:
            print("  .. " + stats.line(), flush=True)

        if name == "session":
            stats = fuzz_session(args.iterations, rng, show)
        else:
            stats = fuzz_decoder(MessageType[name], args.iterations, rng, show)
        print(stats.line(), flush=True)
        total += stats.inputs
        if stats.failures:
            failed += 1
            out = Path(args.out)
            out.mkdir(exist_ok=True)
            for k, (data, why) in enumerate(stats.failures[:20]):
                (out / f"{name}-{k}.bin").write_bytes(data)
                print(f"   FAIL {name}-{k}: {why}")
    print(f"fuzz_wire: {total:,} inputs, {failed} target(s) failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
