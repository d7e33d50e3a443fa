"""The wire: what the secure session costs on top of encoding, and block-page throughput.

* a 303-byte transaction and a 142-byte block vote, sent through a ready
  :class:`~timecoin_core.wire.SessionPair` (encode, queue, seal header and payload,
  open both, check the header and the rate buckets, decode) against
  ``encode_message`` + ``decode_message`` alone, measured in the same run. Goal: the
  session adds at most 30%, i.e. the session rate is >= 1/1.3 = 0.77x the reference;
* the floor of any design with a sealed header record: encoding plus four
  ChaCha20-Poly1305 calls (seal and open of two records), no session logic;
* an 8 MiB ``Blocks`` page (one commit whose value is ~27,000 transactions, so zlib
  is tried and gives up, as on real blocks) in MB/s through the session, against
  encoding and decoding the same page without it.

* a 4-node simulator campaign (100 tx/s for 20 virtual s, no faults) whose every
  node-to-node message crosses a :class:`~timecoin_core.wire.WireMesh` as bytes,
  in CPU per final transaction against the same seed with message objects (goal:
  <= 1.3x). Without faults the two runs make the same decisions, so the final
  transaction counts must match exactly.

All figures are per CPU second of this process (``time.process_time``), so they hold
on a shared machine.
"""

from __future__ import annotations

import os
from dataclasses import replace

from timecoin_core.consensus.bft_messages import Commit, CommitCertificate
from timecoin_core.network import DEVNET
from timecoin_core.sim import SimConfig
from timecoin_core.sim.world import World
from timecoin_core.transaction import OutPoint, Transaction, TxIn, TxOut
from timecoin_core.wire import (
    HEADER_SIZE,
    Blocks,
    GetBlocks,
    Message,
    MessageReceived,
    MessageType,
    RecordCipher,
    SessionPair,
    decode_message,
    encode_message,
    sample_messages,
)

from ._table import Row, Table, best_time

COUNT = 20_000
PAGES = 4
PAGE_BYTES = 8 * 1024 * 1024
TARGET = 1 / 1.3


def _ready_pair() -> SessionPair:
    pair = SessionPair.create(DEVNET)
    pair.handshake()
    pair.take_events()
    return pair


def _plain(message: Message, count: int) -> float:
    def loop() -> None:
        for _ in range(count):
            type_id, payload = encode_message(message)
            decode_message(type_id, payload)

    return best_time(loop, cpu=True)


def _through_session(message: Message, count: int, step: float) -> float:
    pair = _ready_pair()
    sender, receiver = pair.initiator, pair.responder
    received = 0

    def loop() -> None:
        nonlocal received
        now = pair.now
        for _ in range(count):
            # Time moves on so the message stays within its type's token bucket.
            now += step
            sender.send(message)
            for event in receiver.receive_data(sender.data_to_send(), now):
                received += isinstance(event, MessageReceived)
        pair.now = now

    seconds = best_time(loop, cpu=True)
    assert received == 3 * count, received
    return seconds


def _aead_floor(payload_size: int, count: int) -> float:
    """Seconds for the record layer alone: seal and open a header and a payload record."""
    sealer, opener = RecordCipher(bytes(32)), RecordCipher(bytes(32))
    header, payload = bytes(HEADER_SIZE), bytes(payload_size)

    def loop() -> None:
        for _ in range(count):
            opener.open(sealer.seal(header))
            opener.open(sealer.seal(payload))

    return best_time(loop, cpu=True)


def _block_page() -> Blocks:
    txs = []
    size = 0
    i = 0
    while size < PAGE_BYTES - 400:
        tx = Transaction(
            [TxIn(OutPoint(os.urandom(32), i % 4), os.urandom(32), os.urandom(64))],
            [TxOut(1_000 + i, os.urandom(20)), TxOut(50_000, os.urandom(20))],
        )
        encoded = tx.to_bytes()
        txs.append(encoded)
        size += len(encoded)
        i += 1
    value = b"".join(txs)
    certificate = CommitCertificate(
        1, 0, os.urandom(32), tuple(sorted((os.urandom(32), os.urandom(64)) for _ in range(4)))
    )
    return Blocks(1, (Commit(value, certificate),))


def _page_through_session(page: Blocks) -> float:
    pair = _ready_pair()
    sender, receiver = pair.initiator, pair.responder

    def loop() -> None:
        for _ in range(PAGES):
            pair.now += 1.0
            receiver.send(GetBlocks(1, 1, PAGE_BYTES + 1024))
            sender.receive_data(receiver.data_to_send(), pair.now)
            # A fresh object each time: a session reuses the frame of the message it
            # encoded last (one broadcast to many peers), which would flatter this row.
            sender.send(Blocks(page.start, page.commits))
            events = receiver.receive_data(sender.data_to_send(), pair.now)
            assert isinstance(events[0], MessageReceived)

    return best_time(loop, repeat=2, cpu=True)


def _campaign(world: World) -> tuple[int, float]:
    record = world.run()
    finalized = {txid for i in world.honest for txid in record.final_at[i]}
    return len(finalized), record.cpu_seconds


def run() -> list[Table]:
    """The session's cost per message and its block-page throughput."""
    samples = sample_messages(DEVNET.chain_id)
    table = Table("Wire: the secure session against plain encoding (one core, CPU time)")
    for label, type_, step in (
        ("303-byte transaction", MessageType.TX, 0.05),
        ("142-byte block vote", MessageType.BLOCK_VOTE, 0.05),
    ):
        message = samples[type_]
        plain = COUNT / _plain(message, COUNT)
        table.add(Row(f"{label}: encode + decode (reference)", plain, None, "msg/s"))
        secured = COUNT / _through_session(message, COUNT, step)
        floor = COUNT / (1 / plain * COUNT + _aead_floor(len(encode_message(message)[1]), COUNT))
        table.add(
            Row(f"{label}: encode + decode + 4 AEAD calls (floor)", floor, plain, "msg/s")
        )
        table.add(
            Row(
                f"{label}: send, seal, open, check, decode",
                secured,
                plain,
                "msg/s",
                ">= 0.77x (adds <= 30%)",
                secured >= TARGET * plain,
            )
        )
    page = _block_page()
    size = len(encode_message(page)[1])

    def plain_page() -> None:
        for _ in range(PAGES):
            type_id, payload = encode_message(page)
            decode_message(type_id, payload)

    plain_mb = PAGES * size / best_time(plain_page, repeat=2, cpu=True) / 1e6
    table.add(Row(f"{size / 2**20:.1f} MiB block page: encode + decode (reference)", plain_mb, None, "MB/s"))
    secured_mb = PAGES * size / _page_through_session(page) / 1e6
    table.add(
        Row(
            f"{size / 2**20:.1f} MiB block page through the session",
            secured_mb,
            plain_mb,
            "MB/s",
        )
    )
    config = SimConfig(nodes=4, byzantine=0, faults=False, duration=20.0, settle=10.0, tx_rate=100.0)
    # Best of two runs each, alternated: one campaign is a few seconds of CPU, and on
    # a shared machine single runs vary by a fifth.
    plain_runs, wire_runs = [], []
    for _ in range(2):
        plain_runs.append(_campaign(World(0, replace(config, wire=False))))
        wire_world = World(0, replace(config, wire=True))
        wire_runs.append(_campaign(wire_world))
    plain_final, plain_cpu = min(plain_runs, key=lambda r: r[1])
    wire_final, wire_cpu = min(wire_runs, key=lambda r: r[1])
    assert wire_final == plain_final, (wire_final, plain_final)
    assert wire_world.mesh is not None and wire_world.mesh.closed == [], wire_world.mesh
    plain_us = plain_cpu / max(plain_final, 1) * 1e6
    wire_us = wire_cpu / max(wire_final, 1) * 1e6
    sim = Table("Wire: 4-node simulator campaign on real bytes (100 tx/s, 20 virtual s, no faults)")
    sim.add(Row("final transactions (both runs)", wire_final, None, "tx"))
    sim.add(Row("CPU per final tx, message objects (reference)", plain_us, None, "us"))
    sim.add(Row("CPU per final tx, every message through a WireMesh", wire_us, plain_us, "us", "<= 1.3x", wire_us <= 1.3 * plain_us))
    counters = wire_world.mesh.counters()  # the simulator's own mesh (SimConfig.wire)
    sim.add(Row("frames sealed and opened", sum(v for k, v in counters.items() if k.startswith("rx.")), None, "frames"))
    sim.add(Row("frames dropped by rate limits", sum(v for k, v in counters.items() if k.startswith("drop.")), None, "frames", "0", not any(k.startswith("drop.") for k in counters)))
    return [table, sim]
