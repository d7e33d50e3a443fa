"""NodeMetrics: every metric of the issue, parsed back by prometheus_client; one registry per node."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from prometheus_client.parser import text_string_to_metric_families
from rpc_kit import cookie_auth, exchange, parse_response, post

from timecoin_core.testing import LocalChain
from timecoin_net import MetricsServer, NodeMetrics
from timecoin_net.metrics import MAX_LABEL_VALUES
from timecoin_net.rpc import BindRefusedError, LocalChainBackend, RpcServer, RpcServerConfig

pytestmark = pytest.mark.anyio

EXPECTED = {
    # family name (as the parser reports it) -> type
    "timecoin_finality_latency_seconds": "histogram",
    "timecoin_consensus_height": "gauge",
    "timecoin_consensus_round_duration_seconds": "histogram",
    "timecoin_p2p_peers": "gauge",
    "timecoin_p2p_disconnects": "counter",
    "timecoin_p2p_offences": "counter",
    "timecoin_p2p_throttled": "counter",
    "timecoin_p2p_send_queue_bytes": "gauge",
    "timecoin_mempool_size": "gauge",
    "timecoin_mempool_bytes": "gauge",
    "timecoin_sync_blocks_applied": "counter",
    "timecoin_verify_queue_depth": "gauge",
    "timecoin_event_loop_lag_seconds": "histogram",
    "timecoin_rpc_requests": "counter",
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def observe_everything(metrics: NodeMetrics) -> None:
    metrics.observe_finality_latency(0.3)
    metrics.observe_finality_latency(1.2)
    metrics.set_height(42)
    metrics.observe_round_duration(1.0)
    metrics.set_peers(inbound=3, outbound=8)
    metrics.count_disconnect("ping-timeout")
    metrics.count_offence("bad-signature")
    metrics.count_throttled(2)
    metrics.set_send_queue_bytes(1024)
    metrics.set_mempool(7, 2048)
    metrics.count_sync_blocks(5)
    metrics.set_verify_queue_depth(9)
    metrics.observe_event_loop_lag(0.002)
    metrics.count_rpc_request("getinfo", 0)


def test_every_metric_of_the_issue_is_exposed_and_parses() -> None:
    metrics = NodeMetrics()
    observe_everything(metrics)
    text = metrics.exposition().decode()
    families = {f.name: f.type for f in text_string_to_metric_families(text)}
    # prometheus_client adds a *_created gauge per counter and histogram (process-wide switch).
    assert {name: kind for name, kind in families.items() if not name.endswith("_created")} == EXPECTED
    found = samples(text)
    assert found[("timecoin_finality_latency_seconds_count", ())] == 2
    assert found[("timecoin_finality_latency_seconds_bucket", (("le", "0.5"),))] == 1
    assert found[("timecoin_consensus_height", ())] == 42
    assert found[("timecoin_p2p_peers", (("direction", "outbound"),))] == 8
    assert found[("timecoin_p2p_disconnects_total", (("reason", "ping-timeout"),))] == 1
    assert found[("timecoin_p2p_offences_total", (("offence", "bad-signature"),))] == 1
    assert found[("timecoin_p2p_throttled_total", ())] == 2
    assert found[("timecoin_mempool_size", ())] == 7
    assert found[("timecoin_sync_blocks_applied_total", ())] == 5
    assert found[("timecoin_rpc_requests_total", (("code", "0"), ("method", "getinfo")))] == 1


def test_two_nodes_in_one_process_do_not_collide() -> None:
    first, second = NodeMetrics(), NodeMetrics()
    first.set_height(10)
    second.set_height(20)
    first.count_disconnect("idle")
    assert first.registry is not second.registry
    assert samples(first.exposition().decode())[("timecoin_consensus_height", ())] == 10
    assert samples(second.exposition().decode())[("timecoin_consensus_height", ())] == 20
    assert ("timecoin_p2p_disconnects_total", (("reason", "idle"),)) not in samples(second.exposition().decode())


def test_a_runtime_fed_label_is_capped() -> None:
    metrics = NodeMetrics()
    for i in range(MAX_LABEL_VALUES + 10):
        metrics.count_disconnect(f"reason-{i}")
    found = samples(metrics.exposition().decode())
    reasons = {dict(labels)["reason"] for name, labels in found if name == "timecoin_p2p_disconnects_total"}
    assert len(reasons) == MAX_LABEL_VALUES + 1 and "other" in reasons
    assert found[("timecoin_p2p_disconnects_total", (("reason", "other"),))] == 10


async def test_the_lag_monitor_records_how_late_the_loop_woke() -> None:
    metrics = NodeMetrics()
    now = [100.0]
    wakes = iter([0.5 + 0.2, 0.5 + 0.0, 0.5 + 1.0])  # asked for 0.5 s each time

    async def sleep(seconds: float) -> None:
        try:
            now[0] += next(wakes)
        except StopIteration:
            await anyio.sleep_forever()
        await anyio.sleep(0)

    async with anyio.create_task_group() as group:
        await group.start(
            lambda task_status: metrics.monitor_event_loop_lag(
                0.5, clock=lambda: now[0], sleep=sleep, task_status=task_status
            )
        )
        while (metrics.registry.get_sample_value("timecoin_event_loop_lag_seconds_count") or 0) < 3:
            await anyio.sleep(0)
        group.cancel_scope.cancel()
    found = samples(metrics.exposition().decode())
    assert found[("timecoin_event_loop_lag_seconds_count", ())] == 3
    assert found[("timecoin_event_loop_lag_seconds_bucket", (("le", "0.25"),))] == 2


async def test_the_metrics_server_serves_the_registry_on_loopback() -> None:
    metrics = NodeMetrics()
    metrics.set_height(7)
    async with MetricsServer(metrics) as server:
        assert server.url.startswith("http://127.0.0.1:")
        raw = await exchange(server.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, headers, body = parse_response(raw)
        assert status == 200 and headers[b"content-type"].startswith(b"text/plain; version=0.0.4")
        assert samples(body.decode())[("timecoin_consensus_height", ())] == 7
        other = parse_response(await exchange(server.port, b"GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
        assert other[0] == 404
        posted = parse_response(await exchange(server.port, b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
        assert posted[0] == 405


def test_the_metrics_server_refuses_a_non_loopback_bind_without_an_allow_list() -> None:
    with pytest.raises(BindRefusedError):
        MetricsServer(NodeMetrics(), host="0.0.0.0")


async def test_the_rpc_server_counts_requests_by_method_and_code(tmp_path: Path) -> None:
    metrics = NodeMetrics()
    backend = LocalChainBackend(LocalChain())
    async with RpcServer(backend, RpcServerConfig(datadir=tmp_path), metrics=metrics) as server:
        auth = cookie_auth(tmp_path)
        await post(server.port, {"jsonrpc": "2.0", "method": "getblockcount", "id": 1}, auth)
        await post(server.port, {"jsonrpc": "2.0", "method": "getblockhash", "params": [9], "id": 2}, auth)
        await post(server.port, {"jsonrpc": "2.0", "method": "made-up", "id": 3}, auth)
        await post(server.port, b"{", auth)
    found = samples(metrics.exposition().decode())
    assert found[("timecoin_rpc_requests_total", (("code", "0"), ("method", "getblockcount")))] == 1
    assert found[("timecoin_rpc_requests_total", (("code", "-5"), ("method", "getblockhash")))] == 1
    assert found[("timecoin_rpc_requests_total", (("code", "-32601"), ("method", "unknown")))] == 1
    assert found[("timecoin_rpc_requests_total", (("code", "-32700"), ("method", "unknown")))] == 1


def test_the_grafana_dashboard_queries_only_metrics_that_exist() -> None:
    import json
    import re

    dashboard = json.loads((Path(__file__).parent.parent / "docs" / "grafana-devnet.json").read_text())
    metrics = NodeMetrics()
    observe_everything(metrics)
    exported = {name for name, _ in samples(metrics.exposition().decode())}
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\btimecoin_[a-z0-9_]+", target["expr"])
    }
    assert queried and queried <= exported, queried - exported
    families = {name.removesuffix("_total") for name in EXPECTED}
    covered = {re.sub(r"_(bucket|count|sum|total)$", "", name) for name in queried}
    assert families <= covered, families - covered
