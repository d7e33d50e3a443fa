"""Connection policy (slots, netgroups, attempts, eviction, discouragement, backoff, sweep)
and gossip bookkeeping (dedupe, relay targets, inventory requests), as pure code."""

from __future__ import annotations

import random

import pytest

from timecoin_core.wire import (
    Admission,
    Blame,
    CloseAction,
    ConnectionPolicy,
    DialBackoff,
    ErrorCode,
    InventoryTracker,
    PeerRecord,
    PolicyConfig,
    ProtocolError,
    RateVerdict,
    RelayFilter,
    SeenSet,
    TokenBucket,
    netgroup,
    select_eviction,
)


def policy(**changes: object) -> ConnectionPolicy:
    return ConnectionPolicy(PolicyConfig(**changes), rng=random.Random(7), now=0.0)  # type: ignore[arg-type]


def fill_inbound(p: ConnectionPolicy, count: int, now: float = 0.0) -> list[PeerRecord]:
    peers = []
    for i in range(count):
        # Spread over /16s so the per-netgroup limit does not bite.
        peer = PeerRecord(i, f"10.{i}.0.1", inbound=True, connected_at=float(i), ping_rtt=0.1 + i / 1000)
        p.connected(peer, now)
        peers.append(peer)
    return peers


def test_netgroups() -> None:
    assert netgroup("192.0.2.77") == "192.0.0.0/16"
    assert netgroup("::ffff:192.0.2.77") == "192.0.0.0/16"
    assert netgroup("2001:db8:1:2::1") == "2001:db8::/32"


def test_token_bucket_drops_then_disconnects_and_refills() -> None:
    bucket = TokenBucket(1.0, 5, now=0.0)
    assert [bucket.take(1, 0.0) for _ in range(5)] == [RateVerdict.PASS] * 5
    assert [bucket.take(1, 0.0) for _ in range(10)] == [RateVerdict.DROP] * 10
    assert bucket.take(1, 0.0) is RateVerdict.DISCONNECT
    again = TokenBucket(1.0, 5, now=0.0)
    for _ in range(5):
        again.take(1, 0.0)
    assert again.take(1, 1.0) is RateVerdict.PASS
    assert again.take(1, 100.0) is RateVerdict.PASS and again.level == 4


def test_inbound_slots_and_per_netgroup_limit() -> None:
    p = policy(max_inbound=64, max_per_netgroup=8)
    for i in range(8):
        verdict, _ = p.admit_inbound("192.0.2.1", float(i))
        assert verdict is Admission.ACCEPT
        p.connected(PeerRecord(i, f"192.0.{i}.1", inbound=True, connected_at=float(i)), float(i))
    assert p.admit_inbound("192.0.200.1", 9.0)[0] is Admission.REFUSE_NETGROUP
    assert p.admit_inbound("198.51.100.1", 9.0)[0] is Admission.ACCEPT


def test_connection_attempts_are_rate_limited() -> None:
    p = policy(attempts_per_second=10.0, attempt_burst=20.0)
    verdicts = [p.admit_inbound(f"10.{i}.0.1", 0.0)[0] for i in range(25)]
    assert verdicts.count(Admission.ACCEPT) == 20
    assert verdicts[20:] == [Admission.REFUSE_RATE] * 5
    assert p.admit_inbound("10.99.0.1", 1.0)[0] is Admission.ACCEPT
    assert p.counters["admission.refuse_rate"] == 5


def test_with_inbound_full_one_more_peer_evicts_exactly_one_unprotected_peer() -> None:
    p = policy(max_inbound=64)
    peers = fill_inbound(p, 64)
    # Protected categories: masternodes, 4 lowest pings, 4 most recent novel tx, 4 most
    # recent consensus messages, then half the rest by uptime.
    for peer in peers[60:]:
        peer.masternode = True
    for i, peer in enumerate(peers[10:14]):
        peer.last_novel_tx = 100.0 + i
    for i, peer in enumerate(peers[20:24]):
        peer.last_consensus = 100.0 + i
    verdict, victim = p.admit_inbound("203.0.113.9", 200.0)
    assert verdict is Admission.ACCEPT_EVICTING and victim is not None
    protected = {0, 1, 2, 3} | set(range(10, 14)) | set(range(20, 24)) | set(range(60, 64))
    assert victim.peer_id not in protected
    # Of the 48 unprotected, the 24 oldest by uptime are protected too: the victim is young.
    assert victim.peer_id >= 4 + 24
    assert select_eviction(peers, p.config) is victim
    assert p.on_close(victim.peer_id, None, 200.0) is CloseAction.NONE
    assert p.inbound_count() == 63


def test_eviction_prefers_discouraged_then_the_youngest_of_the_largest_netgroup() -> None:
    config = PolicyConfig(protect_by_ping=0, protect_by_tx=0, protect_by_consensus=0)
    peers = [
        PeerRecord(1, "10.1.0.1", inbound=True, connected_at=1.0),
        PeerRecord(2, "10.1.0.2", inbound=True, connected_at=2.0),
        PeerRecord(3, "10.2.0.1", inbound=True, connected_at=3.0),
        PeerRecord(4, "10.3.0.1", inbound=True, connected_at=10.0),
        PeerRecord(5, "10.1.0.3", inbound=True, connected_at=11.0),
        PeerRecord(6, "10.1.0.4", inbound=True, connected_at=12.0),
        PeerRecord(7, "10.9.0.1", inbound=False, connected_at=13.0),
    ]
    # Half of six candidates (the three oldest) are protected by uptime: 4, 5, 6 remain.
    victim = select_eviction(peers, config)
    assert victim is not None and victim.peer_id == 6
    peers[3].discouraged = True
    victim = select_eviction(peers, config)
    assert victim is not None and victim.peer_id == 4
    assert select_eviction([p for p in peers if not p.inbound], config) is None


def test_offences_discourage_for_a_day_faults_do_not_and_masternodes_back_off() -> None:
    p = policy()
    offence = ProtocolError(ErrorCode.MALFORMED_MESSAGE)
    p.connected(PeerRecord(1, "10.0.0.1", inbound=True, connected_at=0.0), 0.0)
    assert p.on_close(1, offence, 10.0) is CloseAction.DISCOURAGE
    assert p.is_discouraged("10.0.0.1", 10.0 + 24 * 3600 - 1)
    assert not p.is_discouraged("10.0.0.1", 10.0 + 24 * 3600)
    p.connected(PeerRecord(2, "10.0.0.2", inbound=True, connected_at=0.0), 0.0)
    assert p.on_close(2, ProtocolError(ErrorCode.PONG_TIMEOUT), 10.0) is CloseAction.NONE
    assert not p.is_discouraged("10.0.0.2", 10.0)
    local = ProtocolError(ErrorCode.MALFORMED_MESSAGE, blame=Blame.LOCAL)
    p.connected(PeerRecord(3, "10.0.0.3", inbound=True, connected_at=0.0), 0.0)
    assert p.on_close(3, local, 10.0) is CloseAction.NONE
    mn = PeerRecord(4, "10.0.0.4", inbound=False, connected_at=0.0, masternode=True, ready=True)
    p.connected(mn, 0.0)
    assert p.on_close(4, offence, 10.0, address="10.0.0.4:24100") is CloseAction.BACKOFF
    assert not p.is_discouraged("10.0.0.4", 10.0)
    assert not p.backoff.may_dial("10.0.0.4:24100", 10.0)
    assert p.counters["close.masternode_offence"] == 1
    p.discourage("10.5.0.1", 0.0)
    assert p.expire(24 * 3600.0) == 1


def test_a_discouraged_address_gets_only_a_free_slot() -> None:
    p = policy(max_inbound=4, protect_by_ping=0)
    fill_inbound(p, 4)
    p.discourage("10.77.0.1", 0.0)
    assert p.admit_inbound("10.77.0.1", 1.0)[0] is Admission.REFUSE_FULL
    assert p.admit_inbound("10.78.0.1", 1.0)[0] is Admission.ACCEPT_EVICTING
    p.on_close(3, None, 1.0)
    assert p.admit_inbound("10.77.0.1", 1.0)[0] is Admission.ACCEPT
    p.connected(PeerRecord(9, "10.77.0.1", inbound=True, connected_at=1.0), 1.0)
    assert p.peers[9].discouraged


def test_dial_backoff_doubles_with_jitter_caps_and_resets() -> None:
    backoff = DialBackoff(PolicyConfig(), random.Random(1))
    delays = [backoff.failed("a", 0.0) for _ in range(12)]
    for n, delay in enumerate(delays):
        nominal = min(600.0, 2.0**n)
        assert 0.8 * nominal <= delay <= 1.2 * nominal
    assert not backoff.may_dial("a", 700.0) or delays[-1] < 700.0
    backoff.succeeded("a")
    assert backoff.may_dial("a", 0.0)
    # The same seed gives the same schedule.
    again = DialBackoff(PolicyConfig(), random.Random(1))
    assert [again.failed("a", 0.0) for _ in range(12)] == delays


def test_outbound_slots_and_dialing() -> None:
    p = policy(max_outbound=2)
    assert p.may_dial("x:1", "10.0.0.1", 0.0)
    for i in range(2):
        p.connected(PeerRecord(i, f"10.{i}.0.1", inbound=False, connected_at=0.0), 0.0)
    assert not p.may_dial("x:1", "10.9.0.1", 0.0)
    with pytest.raises(ValueError):
        p.connected(PeerRecord(0, "10.0.0.1", inbound=False, connected_at=0.0), 0.0)


def test_stale_sweep() -> None:
    p = policy()
    p.connected(PeerRecord(1, "10.1.0.1", inbound=True, connected_at=0.0), 0.0)
    p.connected(PeerRecord(2, "10.2.0.1", inbound=True, connected_at=0.0, ready=True), 0.0)
    p.connected(PeerRecord(3, "10.3.0.1", inbound=True, connected_at=0.0, ready=True), 0.0)
    p.touch(3, 80.0)
    assert [peer.peer_id for peer in p.stale(10.0)] == [1]
    assert [peer.peer_id for peer in p.stale(100.0)] == [1, 2]


def test_config_is_validated_when_constructed() -> None:
    with pytest.raises(ValueError):
        PolicyConfig(max_inbound=0)
    with pytest.raises(ValueError):
        PolicyConfig(backoff_jitter=1.5)


# -- gossip ------------------------------------------------------------------------------


def test_seen_set_dedupes_within_its_ttl() -> None:
    seen = SeenSet(ttl=20.0)
    assert seen.add(b"a", 0.0) and not seen.add(b"a", 19.0)
    assert seen.add(b"b", 10.0)
    assert seen.add(b"a", 20.0)
    seen.expire(31.0)
    assert b"b" not in seen and b"a" in seen and len(seen) == 1


def test_relay_filter_pushes_only_to_peers_that_lack_the_message() -> None:
    relay = RelayFilter(ttl=20.0)
    assert relay.note(b"v", "alice", 0.0)
    assert not relay.note(b"v", "bob", 1.0)
    assert relay.targets(b"v", ["alice", "bob", "carol", "dave"], 1.0) == ["carol", "dave"]
    assert relay.targets(b"v", ["alice", "bob", "carol", "dave"], 2.0) == []
    relay.forget_peer("carol")
    assert relay.targets(b"v", ["carol"], 3.0) == ["carol"]
    # After the TTL the hash is new again.
    assert relay.note(b"v", "alice", 30.0)


def test_inventory_requests_one_peer_at_a_time_and_re_requests_elsewhere() -> None:
    inv = InventoryTracker(timeout=10.0)
    assert inv.announced("alice", [b"t1", b"t2"], 0.0) == {"alice": [b"t1", b"t2"]}
    assert inv.announced("bob", [b"t1"], 1.0) == {}
    assert inv.in_flight("alice") == 2
    # alice says she does not have t1: ask bob.
    assert inv.not_found("alice", [b"t1"], 2.0) == {"bob": [b"t1"]}
    assert inv.received("alice", b"t2", 3.0)
    assert not inv.received("carol", b"t2", 4.0)
    assert inv.announced("carol", [b"t2"], 5.0) == {}
    # bob times out; nobody else announced t1, so it is abandoned.
    assert inv.expire(12.0) == {} and inv.counters["abandoned"] == 1
    assert inv.wanted() == 0
    counters = inv.counters
    assert counters["re_requested"] == 1 and counters["duplicate"] == 1 and counters["announced_known"] == 1


def test_inventory_timeout_moves_the_request_and_a_departed_peer_is_replaced() -> None:
    inv = InventoryTracker(timeout=10.0)
    inv.announced("alice", [b"x"], 0.0)
    inv.announced("bob", [b"x"], 0.0)
    inv.announced("carol", [b"x"], 0.0)
    assert inv.expire(9.9) == {}
    assert inv.expire(10.0) == {"bob": [b"x"]}
    assert inv.peer_gone("bob", 11.0) == {"carol": [b"x"]}
    assert inv.in_flight("alice") == 0 and inv.in_flight("carol") == 1
    assert inv.received("carol", b"x", 12.0) and inv.wanted() == 0


def test_inventory_respects_the_in_flight_limit() -> None:
    inv = InventoryTracker(timeout=10.0, max_in_flight=2)
    assert inv.announced("alice", [b"1", b"2", b"3"], 0.0) == {"alice": [b"1", b"2"]}
    assert inv.received("alice", b"1", 1.0)
    assert inv.expire(1.0) == {"alice": [b"3"]}
