"""Real node processes on 127.0.0.1: ``node run`` and SIGTERM, ``devnet up|status|down``, restart and catch-up.

Nothing here sleeps: tests wait for a node's ready line, for the Commit messages a
scripted peer receives from each node, and for processes to exit. Every devnet is
stopped in a ``finally`` (and every NodeProcess by its context manager).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path

import anyio
import pytest

from timecoin_core.block import genesis_block
from timecoin_core.consensus.bft_messages import Commit
from timecoin_core.consensus.proposal import ProposalValue
from timecoin_core.network import Network
from timecoin_core.store import SqliteStore
from timecoin_core.transaction import OutPoint, Transaction, TxOut
from timecoin_core.utxo import Coin, CoinState
from timecoin_core.wallet import Wallet
from timecoin_net import load_datadir
from timecoin_net.devnet import (
    FAUCET_OUTPUT_AMOUNT,
    DevnetInfo,
    create_devnet,
    load_devnet,
    read_status,
    running_pid,
    stop_devnet,
    wait_for_exit,
)
from timecoin_net.testing import NodeProcess, NodeProcessError, ScriptedPeer, free_base_port

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"




def timecoin(*args: str | os.PathLike[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "timecoin_net", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )


def endpoint(text: str) -> tuple[str, int]:
    host, port = text.rsplit(":", 1)
    return host, int(port)


def highest_commit(peer: ScriptedPeer) -> int:
    return max((m.certificate.height for m in peer.received if isinstance(m, Commit)), default=0)


def committed_txids(peer: ScriptedPeer, network: Network) -> set[bytes]:
    found: set[bytes] = set()
    for message in peer.received:
        if isinstance(message, Commit):
            value = ProposalValue.from_bytes(message.value, network.max_block_size)
            found.update(tx.txid for tx in value.block.transactions)
    return found


def has_committed(peer: ScriptedPeer, network: Network, txids: set[bytes]) -> Callable[[], bool]:
    return lambda: txids <= committed_txids(peer, network)


def faucet_payments(info: DevnetInfo, network: Network, count: int) -> list[Transaction]:
    """``count`` independent payments, each spending its own faucet output."""
    wallet = Wallet.from_mnemonic(info.faucet.mnemonic, network=network)
    reward_txid = genesis_block(network).reward_txid
    first = len(network.genesis_masternodes)
    payload = wallet.address(0).payload
    payments = []
    for j in range(count):
        coin = Coin(OutPoint(reward_txid, first + j), TxOut(FAUCET_OUTPUT_AMOUNT, payload), 0, CoinState.UNSPENT, None)
        payments.append(wallet.create_transaction(wallet.address(10 + j), 10**8, utxos=[coin]).transaction)
    return payments


@contextmanager
def devnet(tmp_path: Path, nodes: int) -> Iterator[tuple[Path, DevnetInfo]]:
    """``timecoin devnet up`` (via the CLI), always brought down again."""
    directory = tmp_path / "devnet"
    result = timecoin("devnet", "up", "--dir", directory, "--nodes", str(nodes),
                      "--base-port", str(free_base_port(3 * nodes)), "--json")
    try:
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""  # quiet off a terminal and with --json
        printed = json.loads(result.stdout)
        info = load_devnet(directory)
        assert printed == info.model_dump(mode="json", exclude_none=True)
        yield directory, info
    finally:
        if (directory / "devnet.json").exists():
            stop_devnet(load_devnet(directory))


# -- one node --------------------------------------------------------------------------------


async def test_node_run_stops_with_exit_0_on_sigterm_and_sigint(tmp_path: Path) -> None:
    _, datadirs, _ = create_devnet(tmp_path / "one", 1, base_port=free_base_port(3))
    with anyio.fail_after(120):
        for sig in (signal.SIGTERM, signal.SIGINT):
            async with NodeProcess(datadirs[0]) as node:
                assert node.address is not None and node.address[0] == "127.0.0.1"
                status = read_status(datadirs[0])
                assert status is not None and status.pid == node.pid and status.state == "running"
                # A second node on the same datadir is refused: the store is locked.
                second = timecoin("node", "run", "--datadir", datadirs[0])
                assert second.returncode == 1 and "in use by another process" in second.stderr
                assert "Traceback" not in second.stderr
                node.send_signal(sig)
                assert await node.wait(30) == 0
            status = read_status(datadirs[0])
            assert status is not None and status.state == "stopped" and status.exit_code == 0


def test_bad_runtime_settings_are_a_clear_error(tmp_path: Path) -> None:
    _, datadirs, _ = create_devnet(tmp_path / "one", 1, base_port=free_base_port(3))
    config = datadirs[0] / "node.toml"
    config.write_text(config.read_text() + "\n[runtime]\nping_intervall = 5\n")
    result = timecoin("node", "run", "--datadir", datadirs[0])
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "runtime.ping_intervall" in result.stderr.strip().splitlines()[-1]


async def test_node_process_reports_a_node_that_cannot_start(tmp_path: Path) -> None:
    with anyio.fail_after(60):
        with pytest.raises(NodeProcessError, match="no such datadir") as info:
            async with NodeProcess(tmp_path / "absent"):
                pass
    assert "exit code 1" in str(info.value)


# -- a devnet --------------------------------------------------------------------------------


@pytest.mark.slow
async def test_devnet_up_transactions_final_everywhere_status_and_down(tmp_path: Path) -> None:
    with devnet(tmp_path, 3) as (directory, info):
        assert info.network == "devnet" and len(info.nodes) == 3
        for k, node in enumerate(info.nodes):
            assert node.name == f"node{k}" and Path(node.datadir).is_dir() and node.p2p.startswith("127.0.0.1:")
        network = load_datadir(info.nodes[0].datadir).network
        payments = faucet_payments(info, network, 6)
        wanted = {tx.txid for tx in payments}
        with anyio.fail_after(120):
            async with AsyncExitStack() as stack:
                peers = [
                    await stack.enter_async_context(ScriptedPeer.connect(network, endpoint(node.p2p)))
                    for node in info.nodes
                ]
                for k, tx in enumerate(payments):  # submitted to every node in turn
                    peers[k % 3].send(tx)
                for peer in peers:
                    await peer.flush()
                # Final everywhere: each node commits a block holding every payment (a
                # block carries only final transactions).
                for peer in peers:
                    await peer.wait_for(has_committed(peer, network, wanted), timeout=90)
                height = max(highest_commit(peer) for peer in peers)

        status = timecoin("devnet", "status", "--dir", directory, "--json")
        assert status.returncode == 0, status.stderr
        rows = json.loads(status.stdout)
        assert [row["name"] for row in rows] == ["node0", "node1", "node2"]
        assert all(row["running"] and row["state"] == "running" and row["peers"] >= 2 for row in rows)
        human = timecoin("devnet", "status", "--dir", directory)
        assert human.returncode == 0 and "node2" in human.stdout and "finality p50" in human.stdout

        down = timecoin("devnet", "down", "--dir", directory)
        assert down.returncode == 0, down.stdout + down.stderr
        assert down.stdout.splitlines() == ["node0: exit 0", "node1: exit 0", "node2: exit 0"]
        for node in info.nodes:
            assert running_pid(node) is None
            final = read_status(node.datadir)
            assert final is not None and final.exit_code == 0 and final.height >= height
            assert final.finality_p50 is not None and final.finality_p99 is not None

    # Every store checks clean and holds the same chain up to the height all reached.
    hashes = []
    for node in info.nodes:
        check = subprocess.run(
            [sys.executable, "-m", "timecoin_core.store.check", str(Path(node.datadir) / "chain.sqlite")],
            capture_output=True, text=True, timeout=120,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        async with SqliteStore.open(Path(node.datadir) / "chain.sqlite", read_only=True) as store:
            blocks = [await store.block(h) for h in range(1, height + 1)]
            assert all(b is not None for b in blocks)
            hashes.append([b.block.hash for b in blocks if b is not None])
            for txid in wanted:
                assert await store.transaction(txid) is not None
    assert hashes[0] == hashes[1] == hashes[2]


@pytest.mark.slow
async def test_a_node_restarted_with_node_run_catches_up(tmp_path: Path) -> None:
    with devnet(tmp_path, 3) as (directory, info):
        network = load_datadir(info.nodes[0].datadir).network
        lagging = info.nodes[2]
        with anyio.fail_after(180):
            pid = running_pid(lagging)
            assert pid is not None
            os.kill(pid, signal.SIGTERM)
            # It is not our child: wait on a pidfd.
            assert await anyio.to_thread.run_sync(wait_for_exit, pid, 30.0)
            stopped = read_status(lagging.datadir)
            assert stopped is not None and stopped.exit_code == 0
            # The other two (2/3 of the weight) keep committing without it.
            async with ScriptedPeer.connect(network, endpoint(info.nodes[0].p2p)) as watcher:
                target = stopped.height + 2
                await watcher.wait_for(lambda: highest_commit(watcher) >= target, timeout=120)
                target = highest_commit(watcher)
            # `timecoin node run --datadir DIR/node2` alone: ports, peers and keys from node.toml.
            async with NodeProcess(lagging.datadir) as node:
                assert node.address == endpoint(lagging.p2p)
                async with ScriptedPeer.connect(network, endpoint(lagging.p2p)) as peer:
                    await peer.wait_for(lambda: highest_commit(peer) >= target, timeout=120)
                assert await node.stop() == 0
        down = timecoin("devnet", "down", "--dir", directory)
        assert down.returncode == 0, down.stdout
        assert "node2: exit 0 (was not running)" in down.stdout



@pytest.mark.slow
def test_devnet_up_shows_progress_on_a_terminal(tmp_path: Path) -> None:
    directory = tmp_path / "devnet"
    controller, terminal = os.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "timecoin_net", "devnet", "up", "--dir", str(directory), "--nodes", "2",
             "--base-port", str(free_base_port(6))],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=terminal, text=True,
        )
        os.close(terminal)
        seen = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: every writer of the terminal is gone
                break
            if not chunk:
                break
            seen += chunk
        stdout, _ = process.communicate(timeout=120)
    finally:
        os.close(controller)
        if (directory / "devnet.json").exists():
            stop_devnet(load_devnet(directory))
    assert process.returncode == 0
    assert b"waiting for peers: 2/2 nodes ready" in seen
    assert "devnet up: 2 masternodes" in stdout


async def test_connections_reset_at_once_do_not_kill_the_node(tmp_path: Path) -> None:
    _, datadirs, _ = create_devnet(tmp_path / "one", 1, base_port=free_base_port(3))
    with anyio.fail_after(60):
        async with NodeProcess(datadirs[0]) as node:
            assert node.address is not None
            for _ in range(20):
                with socket.socket() as s:
                    s.connect(node.address)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            # Still serving: a scripted peer completes a handshake with it, then it stops cleanly.
            network = load_datadir(datadirs[0]).network
            async with ScriptedPeer.connect(network, node.address) as peer:
                await peer.sync_with_ping()
            assert await node.stop() == 0


@pytest.mark.slow
def test_devnet_rpc_wallet_and_metrics_as_an_operator_uses_them(tmp_path: Path) -> None:
    from urllib.request import urlopen

    from prometheus_client.parser import text_string_to_metric_families

    from timecoin_net import RpcClient
    from timecoin_net.rpc.client import RpcAuthError

    with devnet(tmp_path, 3) as (directory, info):
        for node in info.nodes:
            assert node.rpc is not None and node.metrics is not None
            assert (Path(node.datadir) / ".cookie").exists()
            with RpcClient(node.rpc, datadir=node.datadir) as client:
                answer = client.call("getinfo")
            assert answer["network"] == "devnet" and answer["peers"] >= 2
            with RpcClient(node.rpc, user="__cookie__", password="wrong") as client, pytest.raises(RpcAuthError):
                client.call("getinfo")

        words = tmp_path / "faucet.words"
        words.write_text(info.faucet.mnemonic + "\n")
        password = tmp_path / "pw"
        password.write_text("pw\n")
        faucet, alice = tmp_path / "faucet.json", tmp_path / "alice.json"
        common: list[str | Path] = ["--password-file", password]
        assert timecoin("wallet", "restore", "--network", "devnet", "--wallet", faucet, "--mnemonic-file", words,
                        "--fast-kdf", *common).returncode == 0
        created = timecoin("wallet", "create", "--network", "devnet", "--wallet", alice, "--fast-kdf", "--json", *common)
        assert created.returncode == 0, created.stderr
        address = json.loads(created.stdout)["address"]
        sent = timecoin("wallet", "send", address, "12.5", "--wallet", faucet, "--datadir", info.nodes[1].datadir,
                        "--wait", "final", "--json", *common)
        assert sent.returncode == 0, sent.stderr
        assert json.loads(sent.stdout)["status"] in ("final", "confirmed")
        balance = timecoin("wallet", "balance", "--wallet", alice, "--datadir", info.nodes[2].datadir, "--json", *common)
        assert balance.returncode == 0, balance.stderr
        assert json.loads(balance.stdout)["spendable"] == "12.5"

        assert info.nodes[0].metrics is not None
        with urlopen(info.nodes[0].metrics, timeout=30) as response:
            families = {f.name: f for f in text_string_to_metric_families(response.read().decode())}
        assert "timecoin_finality_latency_seconds" in families
        assert "timecoin_consensus_height" in families

        down = timecoin("devnet", "down", "--dir", directory)
        assert down.returncode == 0, down.stdout
        for node in info.nodes:
            assert not (Path(node.datadir) / ".cookie").exists()
