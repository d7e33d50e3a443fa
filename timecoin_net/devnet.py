"""A devnet: N masternode processes on 127.0.0.1 sharing one fresh genesis.

Theory of operation
-------------------
:func:`create_devnet` writes, under one directory, a genesis that registers N
masternodes (each with Bronze collateral paid to its own operator key) and funds a
faucet from a BIP-0039 mnemonic, and N datadirs (``node0`` .. ``nodeN-1``) whose
node.toml names that genesis, fixed ports (``base_port + 3 k`` for p2p, ``+1`` RPC,
``+2`` metrics) and every other node as a peer. The genesis is a pure function of the
node count, the mnemonic and the timestamp (:func:`devnet_genesis`): operator keys are
derived from the mnemonic's seed, so the same words rebuild the same devnet.

:func:`start_devnet` starts each node as ``python -m timecoin_net node run --datadir``
in a session of its own (so a terminal's Ctrl-C reaches the launcher, not the nodes),
logging to ``DIR/nodeK/node.log``, writes ``DIR/devnet.json`` and waits until every
node reports, in its ``status.json`` (written by the running node every second), at
least one peer and the devnet's genesis. The launcher is gone once the devnet is up,
so nodes are not its children: :func:`stop_devnet` finds them by the pid in
devnet.json (checked against the process's command line, so a reused pid is never
signalled), sends SIGTERM, waits with a pidfd, and reads each node's exit code from
its final status.json.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from timecoin_core.amount import COIN
from timecoin_core.block import genesis_block
from timecoin_core.errors import TimecoinError
from timecoin_core.keys import PrivateKey
from timecoin_core.network import DEVNET, GenesisMasternode, GenesisOutput, Network, Tier
from timecoin_core.wallet import Wallet, generate_mnemonic, mnemonic_to_seed

from .config import (
    GENESIS_FILE,
    DatadirError,
    Endpoint,
    MetricsConfig,
    NodeConfig,
    RpcConfig,
    init_datadir,
    load_datadir,
)

__all__ = [
    "DEFAULT_BASE_PORT",
    "DEVNET_FILE",
    "FAUCET_OUTPUTS",
    "FAUCET_OUTPUT_AMOUNT",
    "MAX_DEVNET_NODES",
    "STATUS_FILE",
    "DevnetError",
    "DevnetFaucet",
    "DevnetGenesis",
    "DevnetInfo",
    "DevnetNode",
    "NodeStatus",
    "create_devnet",
    "devnet_genesis",
    "is_node_running",
    "load_devnet",
    "node_exit",
    "read_status",
    "running_pid",
    "start_devnet",
    "stop_devnet",
    "wait_for_exit",
    "write_status",
]

DEVNET_FILE: Final = "devnet.json"
STATUS_FILE: Final = "status.json"
LOG_FILE: Final = "node.log"
DEFAULT_BASE_PORT: Final = 24300
MAX_DEVNET_NODES: Final = 32
FAUCET_OUTPUTS: Final = 100
"""The faucet is funded with this many outputs, so that many payments can be in flight at once."""
FAUCET_OUTPUT_AMOUNT: Final = 10_000 * COIN
_PORTS_PER_NODE: Final = 3


class DevnetError(TimecoinError):
    """A devnet that cannot be created, started, read or stopped; the message says why."""


# -- the genesis --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DevnetGenesis:
    """A devnet's network (genesis included), its masternode operator keys and faucet address."""

    network: Network
    masternode_keys: tuple[PrivateKey, ...]
    faucet_address: str


def _masternode_key(seed: bytes, index: int) -> PrivateKey:
    # Domain-separated from the wallet's SLIP-0010 tree, so no faucet address is ever
    # an operator key.
    return PrivateKey.from_seed(hashlib.sha256(b"timecoin devnet masternode\x00" + seed + index.to_bytes(4, "little")).digest())


def devnet_genesis(nodes: int, mnemonic: str, *, timestamp: int) -> DevnetGenesis:
    """The devnet of ``nodes`` masternodes whose keys and faucet derive from ``mnemonic``.

    Deterministic: the same arguments give the same network, byte for byte. The
    genesis block pays each masternode Bronze collateral (output ``k`` registers
    masternode ``k``) and then :data:`FAUCET_OUTPUTS` outputs of
    :data:`FAUCET_OUTPUT_AMOUNT` to the mnemonic wallet's first address.
    """
    if type(nodes) is not int or not 1 <= nodes <= MAX_DEVNET_NODES:
        raise DevnetError(f"a devnet has 1 to {MAX_DEVNET_NODES} nodes, not {nodes!r}")
    seed = mnemonic_to_seed(mnemonic)
    keys = tuple(_masternode_key(seed, k) for k in range(nodes))
    faucet = Wallet.from_mnemonic(mnemonic, network=DEVNET).address(0)
    outputs = [GenesisOutput(key.public_key.payload, Tier.BRONZE.collateral) for key in keys]
    outputs += [GenesisOutput(faucet.payload, FAUCET_OUTPUT_AMOUNT) for _ in range(FAUCET_OUTPUTS)]
    masternodes = tuple(GenesisMasternode(key.public_key.data, k) for k, key in enumerate(keys))
    network = replace(DEVNET, genesis_timestamp=timestamp).with_genesis(tuple(outputs), masternodes)
    return DevnetGenesis(network, keys, str(faucet))


# -- devnet.json ------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DevnetNode(_Strict):
    """One node of devnet.json. ``rpc`` and ``metrics`` are the URLs the node serves them at."""

    name: str
    datadir: str
    pid: int
    p2p: str
    rpc: str | None = None
    metrics: str | None = None


class DevnetFaucet(_Strict):
    """The faucet: a mnemonic (a devnet's, never a secret) and the address the genesis funds."""

    mnemonic: str
    address: str


class DevnetInfo(_Strict):
    """The contents of ``DIR/devnet.json``."""

    network: str
    nodes: tuple[DevnetNode, ...] = Field(strict=False)
    faucet: DevnetFaucet


def load_devnet(directory: str | os.PathLike[str]) -> DevnetInfo:
    """The devnet described by ``directory/devnet.json``; :class:`DevnetError` if there is none or it is malformed."""
    path = Path(directory) / DEVNET_FILE
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise DevnetError(f"{path}: no devnet here (start one with: timecoin devnet up --dir {directory})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DevnetError(f"{path}: cannot read it: {exc}") from None
    try:
        return DevnetInfo.model_validate_json(text, strict=False)
    except ValidationError as exc:
        raise DevnetError(f"{path}: malformed ({exc.error_count()} problems, first: {exc.errors()[0]['msg']})") from None


def _write_json(path: Path, data: object) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data, indent=2) + "\n", "utf-8")
    os.replace(temporary, path)


# -- creating -------------------------------------------------------------------------------


def _ports(base_port: int, k: int) -> tuple[int, int, int]:
    p = base_port + _PORTS_PER_NODE * k
    return p, p + 1, p + 2


def _check_ports_free(ports: Sequence[int]) -> None:
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                raise DevnetError(f"port {port} on 127.0.0.1 is in use: choose another --base-port") from None


def create_devnet(
    directory: str | os.PathLike[str],
    nodes: int,
    *,
    base_port: int = DEFAULT_BASE_PORT,
    mnemonic: str | None = None,
    timestamp: int | None = None,
) -> tuple[DevnetGenesis, list[Path], str]:
    """Write a devnet's genesis and ``nodes`` masternode datadirs under ``directory``.

    Returns the genesis, the datadirs and the faucet mnemonic (fresh unless given).
    ``directory`` must be absent or empty; ports ``base_port`` .. ``base_port + 3 nodes - 1``
    must be free on 127.0.0.1 (both :class:`DevnetError`). Starts nothing.
    """
    root = Path(directory)
    if type(nodes) is not int or not 1 <= nodes <= MAX_DEVNET_NODES:
        raise DevnetError(f"--nodes must be in 1..{MAX_DEVNET_NODES}, not {nodes}")
    last = base_port + _PORTS_PER_NODE * nodes - 1
    if base_port < 1024 or last > 65535:
        raise DevnetError(f"--base-port must leave room for {_PORTS_PER_NODE * nodes} ports in 1024..65535")
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise DevnetError(f"{root} is not an empty directory: choose a new --dir (or run devnet down and remove it)")
    _check_ports_free(range(base_port, last + 1))
    words = mnemonic if mnemonic is not None else generate_mnemonic(128)
    genesis = devnet_genesis(nodes, words, timestamp=int(time.time()) if timestamp is None else timestamp)
    p2p = [Endpoint("127.0.0.1", _ports(base_port, k)[0]) for k in range(nodes)]
    datadirs = []
    root.mkdir(mode=0o755, parents=True, exist_ok=True)
    for k in range(nodes):
        _, rpc_port, metrics_port = _ports(base_port, k)
        config = NodeConfig(
            network=genesis.network.name,
            genesis=GENESIS_FILE,
            listen=p2p[k],
            peers=tuple(p for j, p in enumerate(p2p) if j != k),
            rpc=RpcConfig(listen=Endpoint("127.0.0.1", rpc_port)),
            metrics=MetricsConfig(listen=Endpoint("127.0.0.1", metrics_port)),
        )
        path = root / f"node{k}"
        try:
            init_datadir(path, config, genesis=genesis.network, masternode_key=genesis.masternode_keys[k])
        except DatadirError as exc:
            raise DevnetError(str(exc)) from None
        datadirs.append(path.resolve())
    return genesis, datadirs, words


# -- node processes ---------------------------------------------------------------------------


def _spawn(datadir: Path) -> int:
    # posix_spawn, not subprocess.Popen: the launcher exits while the nodes run on, and a
    # Popen object would complain about a child it never waited for.
    log = os.open(datadir / LOG_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        argv = [sys.executable, "-m", "timecoin_net", "node", "run", "--datadir", str(datadir)]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        actions = [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, log, 1), (os.POSIX_SPAWN_DUP2, log, 2)]
        return os.posix_spawn(sys.executable, argv, env, file_actions=actions, setsid=True)
    finally:
        os.close(log)
        os.close(null)


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """What a running node last reported in its ``status.json``.

    ``state`` is ``"running"``, ``"stopping"`` or ``"stopped"``; ``exit_code`` is set
    once stopped. ``finality_p50``/``finality_p99`` are seconds (None before any
    transaction was final). ``updated`` is the wall-clock time of the report.
    """

    pid: int
    state: str
    genesis: str
    height: int
    peers: int
    finality_p50: float | None
    finality_p99: float | None
    updated: float
    exit_code: int | None

    def to_json(self) -> dict[str, Any]:
        """The dictionary written to ``status.json``."""
        return {
            "pid": self.pid,
            "state": self.state,
            "genesis": self.genesis,
            "height": self.height,
            "peers": self.peers,
            "finality_p50": self.finality_p50,
            "finality_p99": self.finality_p99,
            "updated": self.updated,
            "exit_code": self.exit_code,
        }


def write_status(datadir: str | os.PathLike[str], status: NodeStatus) -> None:
    """Replace ``datadir/status.json`` with ``status`` atomically (no fsync: it is advisory)."""
    _write_json(Path(datadir) / STATUS_FILE, status.to_json())


def read_status(datadir: str | os.PathLike[str]) -> NodeStatus | None:
    """The node's last ``status.json``, or None if it wrote none (or it cannot be read)."""
    try:
        data = json.loads((Path(datadir) / STATUS_FILE).read_text("utf-8"))
        return NodeStatus(
            pid=int(data["pid"]),
            state=str(data["state"]),
            genesis=str(data["genesis"]),
            height=int(data["height"]),
            peers=int(data["peers"]),
            finality_p50=None if data["finality_p50"] is None else float(data["finality_p50"]),
            finality_p99=None if data["finality_p99"] is None else float(data["finality_p99"]),
            updated=float(data["updated"]),
            exit_code=None if data["exit_code"] is None else int(data["exit_code"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _proc_state(pid: int) -> str | None:
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat_line.rpartition(")")[2].split()[0]


def is_node_running(pid: int, datadir: str | os.PathLike[str]) -> bool:
    """True when ``pid`` is alive (not a zombie) and is ``timecoin node run`` on ``datadir``.

    Checking the command line (its ``--datadir`` resolved against the process's working
    directory) means a pid reused by another program is never taken for, or signalled
    as, the node.
    """
    state = _proc_state(pid)
    if state is None or state in ("Z", "X"):
        return False
    try:
        argv = [os.fsdecode(a) for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")]
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return False
    if "node" not in argv or "run" not in argv:
        return False
    named = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--datadir"]
    named += [a.removeprefix("--datadir=") for a in argv if a.startswith("--datadir=")]
    target = Path(datadir).resolve()
    return any((cwd / value).resolve() == target for value in named)


def wait_for_exit(pid: int, timeout: float) -> bool:
    """Wait until ``pid`` has exited (a zombie counts), up to ``timeout`` seconds; True if it did.

    Works for any process, not only children (a pidfd on Linux): the nodes of a devnet
    are not children of the command that stops them.
    """
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except OSError:  # pragma: no cover - kernels before 5.3
        deadline = time.monotonic() + timeout
        while _proc_state(pid) not in (None, "Z", "X"):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(timeout * 1000))
    finally:
        os.close(fd)


def _reap(pid: int) -> int | None:
    """The exit code of our child ``pid`` if it has exited (reaping it), else None."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    if done == 0:
        return None
    return os.waitstatus_to_exitcode(status)


def start_devnet(
    directory: str | os.PathLike[str],
    genesis: DevnetGenesis,
    datadirs: Sequence[Path],
    mnemonic: str,
    *,
    timeout: float = 60.0,
    progress: Callable[[int, int, float], None] | None = None,
) -> DevnetInfo:
    """Start a node on each datadir, write devnet.json, and wait until the devnet is up.

    Up means every node reports the devnet's genesis and (with two nodes or more) at
    least one peer. ``progress(ready, total, elapsed)`` is called as nodes become
    ready. On a node that exits early or a ``timeout``, every node started is stopped
    and :class:`DevnetError` names the node and its log.
    """
    root = Path(directory)
    network = genesis.network
    expected = genesis_block(network).hash.hex()
    nodes: list[DevnetNode] = []
    pids: list[int] = []
    try:
        for k, datadir in enumerate(datadirs):
            pid = _spawn(datadir)
            pids.append(pid)
            p2p, rpc, metrics = _ports_of(datadir)
            nodes.append(
                DevnetNode(
                    name=f"node{k}",
                    datadir=str(datadir),
                    pid=pid,
                    p2p=p2p,
                    rpc=f"http://{rpc}/",
                    metrics=f"http://{metrics}/metrics",
                )
            )
        info = DevnetInfo(network=network.name, nodes=tuple(nodes), faucet=DevnetFaucet(mnemonic=mnemonic, address=genesis.faucet_address))
        _write_json(root / DEVNET_FILE, info.model_dump(mode="json", exclude_none=True))
        start = time.monotonic()
        need_peers = 1 if len(datadirs) > 1 else 0
        while True:
            elapsed = time.monotonic() - start
            count = 0
            for node in nodes:
                code = _reap(node.pid)
                if code is not None:
                    raise DevnetError(
                        f"{node.name} exited with code {code} while starting; see {Path(node.datadir) / LOG_FILE}"
                    )
                status = read_status(node.datadir)
                if status is not None and status.pid == node.pid and status.state == "running":
                    if status.genesis != expected:
                        raise DevnetError(f"{node.name} follows genesis {status.genesis}, not the devnet's {expected}")
                    if status.peers >= need_peers:
                        count += 1
            ready = count
            if progress is not None:
                progress(ready, len(nodes), elapsed)
            if ready == len(nodes):
                return info
            if elapsed > timeout:
                late = [n.name for n in nodes if not _ready(n, expected, need_peers)]
                raise DevnetError(
                    f"the devnet was not up after {timeout:.0f} s ({', '.join(late)} without a peer); "
                    f"see the node.log files under {root}"
                )
            # The nodes report once a second; a tenth of that keeps the launcher idle.
            time.sleep(0.1)
    except BaseException:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for pid in pids:
            if not wait_for_exit(pid, 10.0):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        with contextlib.suppress(FileNotFoundError):
            (root / DEVNET_FILE).unlink()
        raise


def _ready(node: DevnetNode, expected: str, need_peers: int) -> bool:
    status = read_status(node.datadir)
    return status is not None and status.pid == node.pid and status.genesis == expected and status.peers >= need_peers


def _ports_of(datadir: Path) -> tuple[str, str, str]:
    config = load_datadir(datadir).config
    return str(config.p2p_endpoint()), str(config.rpc_endpoint()), str(config.metrics_endpoint())


def running_pid(node: DevnetNode) -> int | None:
    """The pid of the process running ``node``'s datadir now, or None.

    The node started by ``devnet up`` (devnet.json's pid), or one restarted since with
    ``timecoin node run --datadir`` (the pid in its status.json).
    """
    status = read_status(node.datadir)
    for pid in (node.pid, status.pid if status is not None else None):
        if pid is not None and is_node_running(pid, node.datadir):
            return pid
    return None


def node_exit(node: DevnetNode, pid: int | None = None) -> str:
    """How ``node`` ended, from its final status.json: ``"exit 0"``, ``"exit 1"``, or a description."""
    status = read_status(node.datadir)
    if status is None or status.pid != (node.pid if pid is None else pid):
        return "no exit status (it never reported)"
    if status.exit_code is None:
        return "no exit status (killed, or crashed)"
    return f"exit {status.exit_code}"


def stop_devnet(info: DevnetInfo, *, timeout: float = 15.0) -> list[tuple[DevnetNode, int | None, str]]:
    """SIGTERM every running node of ``info``, wait, and report ``(node, exit code or None, description)``.

    A node still running after ``timeout`` seconds is killed (SIGKILL) and reported so.
    A node that was not running is reported with its last exit status.
    """
    signalled: dict[str, int] = {}
    for node in info.nodes:
        pid = running_pid(node)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            signalled[node.name] = pid
    results = []
    deadline = time.monotonic() + timeout
    for node in info.nodes:
        note = ""
        pid = signalled.get(node.name)
        if pid is not None:
            if not wait_for_exit(pid, max(0.0, deadline - time.monotonic())):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                wait_for_exit(pid, 5.0)
                note = f" (still running after {timeout:.0f} s: killed)"
        else:
            note = " (was not running)"
        status = read_status(node.datadir)
        last = node.pid if pid is None else pid
        if pid is None and status is not None:
            last = status.pid  # the last process that ran this node reported last
        code = status.exit_code if status is not None and status.pid == last else None
        results.append((node, code, node_exit(node, last) + note))
    return results
