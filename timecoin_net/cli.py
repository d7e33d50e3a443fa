"""The ``timecoin`` command line: ``node init|run``, ``devnet up|status|down`` and ``wallet ...``.

The wallet commands are :mod:`timecoin_net.wallet_cli`'s, registered under ``wallet``.

Every command's ``--help`` says what it does, its defaults and an example. Errors an
operator can cause (a bad datadir, a busy port, a devnet that is not there) print one
line, ``timecoin: error: ...``, on stderr and exit non-zero, never a traceback:

==== =====================================================================
code meaning
==== =====================================================================
0    success (for ``node run``: stopped gracefully)
1    the command failed (the line on stderr says why)
2    the command line itself is wrong (usage)
130  interrupted; for ``node run``: a second signal forced the exit
==== =====================================================================

docs/node.md is the operator's guide.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from timecoin_core.errors import TimecoinError
from timecoin_core.network import NETWORKS

from ._cli_common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from ._cli_common import Formatter as _Formatter
from ._cli_common import Parser as _Parser
from .config import Endpoint, NodeConfig, init_datadir, load_datadir, parse_endpoint
from .devnet import (
    DEFAULT_BASE_PORT,
    DEVNET_FILE,
    MAX_DEVNET_NODES,
    create_devnet,
    load_devnet,
    read_status,
    running_pid,
    start_devnet,
    stop_devnet,
)
from .runner import NodeOverrides

__all__ = ["build_parser", "main", "run"]


def _endpoint(allow_port_zero: bool) -> Callable[[str], Endpoint]:
    def parse(text: str) -> Endpoint:
        try:
            return parse_endpoint(text, allow_port_zero=allow_port_zero)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < 86400:
        raise argparse.ArgumentTypeError(f"must be between 0 and 86400 seconds, not {text}")
    return value


def _command(sub: Any, name: str, summary: str, example: str) -> _Parser:
    parser: _Parser = sub.add_parser(
        name, help=summary, description=summary, epilog=f"example:\n  {example}\n", formatter_class=_Formatter
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The parser of the whole ``timecoin`` command line."""
    parser = _Parser(
        prog="timecoin",
        description="Run a Timecoin node or a local devnet of nodes, and use a wallet.",
        epilog="example:\n  timecoin devnet up --dir ./devnet --nodes 3\n\ndocs/node.md is the operator's guide.",
        formatter_class=_Formatter,
    )
    groups = parser.add_subparsers(dest="group", metavar="{node,devnet,wallet}", required=True)

    node = groups.add_parser(
        "node", help="create or run one node", description="Create or run one node from its datadir.",
        formatter_class=_Formatter, epilog="example:\n  timecoin node init --datadir ./n1 --network testnet",
    )
    node_sub = node.add_subparsers(dest="command", metavar="{init,run}", required=True)
    init = _command(
        node_sub, "init",
        "Create a datadir: node.toml, and a fresh identity key in node.key (mode 0600).",
        "timecoin node init --datadir ~/.timecoin --network testnet --peer seed.example:24200",
    )
    init.add_argument("--datadir", required=True, type=Path, help="the directory to create (may exist if empty)")
    init.add_argument("--network", default="mainnet", choices=sorted(NETWORKS), help="the network the node follows")
    init.add_argument("--listen", type=_endpoint(True), help="p2p listen address HOST:PORT (default: 127.0.0.1 on the network's port)")
    init.add_argument("--peer", dest="peers", action="append", type=_endpoint(False), default=[],
                      help="a peer to dial, HOST:PORT (repeatable)")
    run = _command(
        node_sub, "run",
        "Run a node in the foreground until SIGINT or SIGTERM (a second signal forces exit 130); logs go to stderr.",
        "timecoin node run --datadir ./devnet/node0 --peer 127.0.0.1:24303",
    )
    run.add_argument("--datadir", required=True, type=Path, help="the node's datadir (see: timecoin node init)")
    run.add_argument("--listen", type=_endpoint(True), help="p2p listen address HOST:PORT, instead of node.toml's")
    run.add_argument("--peer", dest="peers", action="append", type=_endpoint(False),
                     help="a peer to dial, HOST:PORT (repeatable; replaces node.toml's peers)")
    run.add_argument("--network", choices=sorted(NETWORKS),
                     help="refuse to start unless the datadir is of this network")

    devnet = groups.add_parser(
        "devnet", help="a local network of masternode processes",
        description="Create, inspect and stop a devnet: masternode processes on 127.0.0.1 with a fresh genesis.",
        formatter_class=_Formatter, epilog="example:\n  timecoin devnet up --dir ./devnet --nodes 4",
    )
    devnet_sub = devnet.add_subparsers(dest="command", metavar="{up,status,down}", required=True)
    up = _command(
        devnet_sub, "up",
        "Create N masternode datadirs and a devnet genesis (a faucet funded from a fresh mnemonic), "
        "start the nodes in the background, wait until each has a peer, and write DIR/devnet.json.",
        "timecoin devnet up --dir ./devnet --nodes 3 --base-port 24300",
    )
    up.add_argument("--dir", required=True, type=Path, help="the devnet's directory (absent or empty)")
    up.add_argument("--nodes", required=True, type=_positive, help=f"how many masternodes (1..{MAX_DEVNET_NODES})")
    up.add_argument("--base-port", type=_positive, default=DEFAULT_BASE_PORT,
                    help="node k uses base+3k (p2p), base+3k+1 (RPC), base+3k+2 (metrics)")
    up.add_argument("--timeout", type=_seconds, default=60.0, help="seconds to wait for the devnet to come up")
    up.add_argument("--json", action="store_true", help="print devnet.json on stdout, and no progress")
    status = _command(
        devnet_sub, "status",
        "Print each node's state, height, peers and finality latency (exit 1 if a node is not running).",
        "timecoin devnet status --dir ./devnet",
    )
    status.add_argument("--dir", required=True, type=Path, help="the devnet's directory")
    status.add_argument("--json", action="store_true", help="print one JSON object per node, as a list")
    down = _command(
        devnet_sub, "down",
        "Stop every node gracefully (SIGTERM) and report each exit code (exit 1 unless all exited 0).",
        "timecoin devnet down --dir ./devnet",
    )
    down.add_argument("--dir", required=True, type=Path, help="the devnet's directory")
    down.add_argument("--timeout", type=_seconds, default=15.0,
                      help="seconds to wait for the nodes before killing the rest (SIGKILL)")
    down.add_argument("--json", action="store_true", help="print the results as JSON")

    from .wallet_cli import add_wallet_commands

    add_wallet_commands(groups)
    return parser


# -- commands ---------------------------------------------------------------------------------


def _node_init(args: argparse.Namespace, out: TextIO) -> int:
    config = NodeConfig(network=args.network, listen=args.listen, peers=tuple(args.peers))
    datadir = init_datadir(args.datadir, config)
    print(f"created {datadir.path} for {datadir.network.name}:", file=out)
    print(f"  node.toml  p2p {config.p2p_endpoint()}, {len(config.peers)} peers", file=out)
    print(f"  node.key   identity {datadir.identity.public_key.data.hex()}", file=out)
    print(f"start it with: timecoin node run --datadir {args.datadir}", file=out)
    return EXIT_OK


def _node_run(args: argparse.Namespace, out: TextIO) -> int:
    import anyio

    from .runner import run_from_datadir

    # Loaded here too, only to configure logging before anything logs; run_from_datadir loads again.
    datadir = load_datadir(args.datadir)
    logging.basicConfig(
        stream=sys.stderr,
        level=datadir.config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    overrides = NodeOverrides(
        listen=args.listen, peers=tuple(args.peers) if args.peers is not None else None, network=args.network
    )

    def ready(address: tuple[str, int]) -> None:
        # A fixed line, whatever the log level: NodeProcess and scripts wait for it.
        print(f"timecoin: node ready, p2p {address[0]}:{address[1]}", file=sys.stderr, flush=True)

    return anyio.run(lambda: run_from_datadir(args.datadir, overrides, on_ready=ready))


class _Progress:
    """One self-rewriting line on a terminal; nothing otherwise."""

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self._stream = stream
        self._enabled = enabled
        self._shown = False

    def __call__(self, ready: int, total: int, elapsed: float) -> None:
        if self._enabled:
            self._stream.write(f"\rwaiting for peers: {ready}/{total} nodes ready ({elapsed:4.1f} s)")
            self._stream.flush()
            self._shown = True

    def close(self) -> None:
        if self._shown:
            self._stream.write("\n")
            self._stream.flush()


def _devnet_up(args: argparse.Namespace, out: TextIO) -> int:
    genesis, datadirs, mnemonic = create_devnet(args.dir, args.nodes, base_port=args.base_port)
    progress = _Progress(sys.stderr, not args.json and sys.stderr.isatty())
    try:
        info = start_devnet(args.dir, genesis, datadirs, mnemonic, timeout=args.timeout, progress=progress)
    finally:
        progress.close()
    if args.json:
        print(json.dumps(info.model_dump(mode="json", exclude_none=True), indent=2), file=out)
        return EXIT_OK
    print(f"devnet up: {len(info.nodes)} masternodes, genesis in {args.dir / 'node0' / 'genesis.json'}", file=out)
    for node in info.nodes:
        print(f"  {node.name}  pid {node.pid}  p2p {node.p2p}  datadir {node.datadir}", file=out)
    print(f"faucet {info.faucet.address} (mnemonic in {args.dir / DEVNET_FILE})", file=out)
    print(f"stop it with: timecoin devnet down --dir {args.dir}", file=out)
    return EXIT_OK


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def _devnet_status(args: argparse.Namespace, out: TextIO) -> int:
    info = load_devnet(args.dir)
    rows: list[dict[str, Any]] = []
    for node in info.nodes:
        pid = running_pid(node)
        running = pid is not None
        status = read_status(node.datadir)
        current = status is not None and status.pid == (pid or status.pid)
        rows.append(
            {
                "name": node.name,
                "pid": pid or node.pid,
                "running": running,
                "state": status.state if current and status is not None and running else "stopped",
                "height": status.height if current and status is not None else None,
                "peers": status.peers if current and status is not None and running else 0,
                "finality_p50": status.finality_p50 if current and status is not None else None,
                "finality_p99": status.finality_p99 if current and status is not None else None,
                "p2p": node.p2p,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2), file=out)
    else:
        for row in rows:
            height = "-" if row["height"] is None else row["height"]
            print(
                f"{row['name']:<8} {row['state']:<9} pid {row['pid']:<7} height {height:<6} peers {row['peers']:<3} "
                f"finality p50 {_ms(row['finality_p50'])} p99 {_ms(row['finality_p99'])}  p2p {row['p2p']}",
                file=out,
            )
    return EXIT_OK if all(row["running"] for row in rows) else EXIT_FAILED


def _devnet_down(args: argparse.Namespace, out: TextIO) -> int:
    info = load_devnet(args.dir)
    results = stop_devnet(info, timeout=args.timeout)
    if args.json:
        data = [{"name": node.name, "pid": node.pid, "exit_code": code, "detail": text} for node, code, text in results]
        print(json.dumps(data, indent=2), file=out)
    else:
        for node, _, text in results:
            print(f"{node.name}: {text}", file=out)
    return EXIT_OK if all(code == 0 for _, code, _ in results) else EXIT_FAILED


_COMMANDS: dict[tuple[str, str], Callable[[argparse.Namespace, TextIO], int]] = {
    ("node", "init"): _node_init,
    ("node", "run"): _node_run,
    ("devnet", "up"): _devnet_up,
    ("devnet", "status"): _devnet_status,
    ("devnet", "down"): _devnet_down,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``timecoin`` command line with ``argv`` (default: ``sys.argv[1:]``); the exit code."""
    args = build_parser().parse_args(argv)
    if args.group == "wallet":
        from .wallet_cli import run_wallet_command

        return run_wallet_command(args)
    try:
        return _COMMANDS[(args.group, args.command)](args, sys.stdout)
    except TimecoinError as exc:
        print(f"timecoin: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"timecoin: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("timecoin: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def run() -> NoReturn:
    """The console script's entry point: :func:`main`, then exit with its code."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()

