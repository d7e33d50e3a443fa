"""WireMesh: N nodes fully meshed through real sessions, deterministic from a seed."""

from __future__ import annotations

from timecoin_core.keys import PrivateKey
from timecoin_core.network import DEVNET
from timecoin_core.wire import MessageType, SessionState, WireMesh, sample_messages

KEYS = [PrivateKey.from_seed(bytes([0x30 + i]) * 32) for i in range(4)]
SAMPLES = sample_messages(DEVNET.chain_id)


def test_every_link_is_ready_and_carries_messages_both_ways() -> None:
    mesh = WireMesh(DEVNET, KEYS, now=0.0)
    for i in range(4):
        for j in range(4):
            if i != j:
                assert mesh.session(i, j).state is SessionState.READY
                assert mesh.session(i, j).peer_identity == KEYS[j].public_key
    vote = SAMPLES[MessageType.BLOCK_VOTE]
    data = mesh.send(2, 0, vote)
    messages, reply = mesh.deliver(2, 0, data, 0.1)
    assert messages == [vote] and reply == b""
    assert mesh.closed == []


def test_the_same_seed_gives_the_same_bytes() -> None:
    tx = SAMPLES[MessageType.TX]
    a = WireMesh(DEVNET, KEYS[:2], now=0.0, seed=b"s")
    b = WireMesh(DEVNET, KEYS[:2], now=0.0, seed=b"s")
    c = WireMesh(DEVNET, KEYS[:2], now=0.0, seed=b"t")
    assert a.send(0, 1, tx) == b.send(0, 1, tx) != c.send(0, 1, tx)


def test_ticks_ping_and_replies_flow_back() -> None:
    mesh = WireMesh(DEVNET, KEYS[:2], now=0.0)
    assert mesh.next_deadline() == 30.0
    pings = mesh.tick(30.0)
    assert {(s, t) for s, t, _ in pings} == {(0, 1), (1, 0)}
    # Each link's bytes go in the order they were produced: both pings, then both pongs.
    replies = []
    for sender, target, data in pings:
        messages, reply = mesh.deliver(sender, target, data, 30.1)
        assert messages == [] and reply
        replies.append((target, sender, reply))
    for sender, target, data in replies:
        assert mesh.deliver(sender, target, data, 30.2) == ([], b"")
    assert mesh.counters()["rx.PONG"] == 2
    assert mesh.session(0, 1).ping_rtt is not None
    assert mesh.closed == []


def test_out_of_order_link_bytes_break_the_link_as_tcp_never_would() -> None:
    mesh = WireMesh(DEVNET, KEYS[:2], now=0.0)
    first = mesh.send(0, 1, SAMPLES[MessageType.TX])
    second = mesh.send(0, 1, SAMPLES[MessageType.BLOCK_VOTE])
    mesh.deliver(0, 1, second, 1.0)
    assert [c.code.name for _, _, c in mesh.closed] == ["DECRYPT_FAILED"]
    assert first


def test_a_broadcast_is_encoded_once_and_every_peer_decodes_it() -> None:
    mesh = WireMesh(DEVNET, KEYS, now=0.0)
    proposal = SAMPLES[MessageType.PROPOSAL]
    commit = SAMPLES[MessageType.COMMIT]
    for message in (proposal, commit, proposal):
        for target in (1, 2, 3):
            data = mesh.send(0, target, message)
            assert mesh.deliver(0, target, data, 1.0) == ([message], b"")
    assert mesh.counters()["compressed.PROPOSAL"] == 6


def test_a_closed_link_is_dialled_again_and_its_old_bytes_are_dropped() -> None:
    mesh = WireMesh(DEVNET, KEYS[:2], now=0.0)
    vote = SAMPLES[MessageType.BLOCK_VOTE]
    stale = mesh.send(0, 1, vote)
    assert mesh.generation(0, 1) == 0
    mesh.session(1, 0).close()  # say, node 0 tripped node 1's rate limit
    fresh = mesh.send(0, 1, vote, now=1.0)
    assert mesh.generation(1, 0) == 1 and mesh.reconnects == 1
    assert mesh.session(0, 1).state is SessionState.READY is mesh.session(1, 0).state
    # Bytes of the old connection still in flight are dropped; the new ones arrive.
    assert mesh.deliver(0, 1, stale, 1.1, generation=0) == ([], b"")
    messages, _ = mesh.deliver(0, 1, fresh, 1.2, generation=1)
    assert messages == [vote]
