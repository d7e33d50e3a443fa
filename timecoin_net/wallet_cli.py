"""``timecoin wallet``: the wallet on the command line, over the encrypted keystore and a node's JSON-RPC.

The library does the wallet work (:mod:`timecoin_core.wallet`: keys, the keystore, coin
selection, the fee guard, history, watch-only); this module is the shell around it:

* it reads the keystore file and asks for its password (a prompt, or
  ``--password-file``; never an argument, so no password lands in a shell history or
  in ``ps``),
* it reaches a node through :class:`~timecoin_net.RpcClient` (``--rpc URL`` with
  ``--rpc-user``/``--rpc-password-file``, or ``--datadir DIR``, which gives the node's
  cookie and its RPC address),
* it shows the node's coins to the library as a UTXO view (``listunspent`` pages), its
  blocks as a history source (``getblock``), and submits what the library signed
  (``sendrawtransaction``, ``waitfortxstatus``).

Commands: ``create``, ``restore``, ``address``, ``balance``, ``send``, ``history``,
``export-watch-only``. :func:`add_wallet_commands` registers them under ``wallet`` on
another command line's subparsers (dispatch with :func:`run_wallet_command`);
:func:`main` runs them alone (``python -m timecoin_net.wallet_cli balance ...``).

Every error a user can cause prints one line on stderr (a JSON object with ``--json``)
and exits non-zero, never a traceback:

==== ======================================================
code meaning
==== ======================================================
0    success
1    the command failed (the line on stderr says why)
2    the command line itself is wrong (usage)
130  interrupted
==== ======================================================

docs/wallet-cli.md is the user's guide.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import secrets
import sys
import time
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from timecoin_core.amount import coins, format_amount
from timecoin_core.block import Block
from timecoin_core.chain import AppliedBlock
from timecoin_core.errors import AddressError, AmountError, TimecoinError
from timecoin_core.fees import FeeRate
from timecoin_core.keys import Address
from timecoin_core.network import NETWORKS, Network
from timecoin_core.transaction import OutPoint, Transaction, TxOut
from timecoin_core.utxo import Coin, CoinPage, CoinState
from timecoin_core.wallet import (
    DEFAULT_SCRYPT,
    FAST_SCRYPT,
    InsufficientFundsError,
    Keystore,
    KeystoreExistsError,
    ScryptParams,
    Wallet,
    WatchOnlyError,
    WrongPasswordError,
    generate_mnemonic,
)
from timecoin_core.wallet.history import WalletTransaction

from ._cli_common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from ._cli_common import Formatter as _Formatter
from ._cli_common import Parser as _Parser
from .rpc.auth import COOKIE_FILE, CookieError
from .rpc.client import RpcAuthError, RpcClient, RpcConnectionError, RpcError
from .rpc.errors import RpcErrorCode
from .rpc.models import TxStatusInfo, UnspentPage

__all__ = [
    "DEFAULT_HOME",
    "WalletCliError",
    "add_wallet_commands",
    "build_parser",
    "main",
    "run_wallet_command",
]

DEFAULT_HOME = Path("~/.timecoin")
"""Where wallets (``wallets/<name>.json``) and the default node datadir live."""


# The node's default RPC ports when node.toml names no [rpc] listen (as timecoin_net.config has them).
_DEFAULT_RPC_PORTS = {"mainnet": 24101, "testnet": 24201, "devnet": 24301}
_PAGE = 1_000  # listunspent's largest page: fewest round trips
_BATCH = 100  # the server's batch limit
_MAX_SECRET_FILE = 4_096
_MNEMONIC_WARNING = (
    "WRITE THESE WORDS DOWN AND KEEP THEM SECRET. They are the only backup of this wallet: "
    "anyone who reads them can spend its coins, and they are not shown again."
)


class WalletCliError(TimecoinError):
    """A wallet command failed for a reason the user can fix; the message says which."""


# -- secrets ------------------------------------------------------------------------------


def _read_secret_file(path: Path, what: str) -> str:
    """The first line of ``path`` (without its line ending): a password, passphrase or mnemonic."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_SECRET_FILE + 1)
    except OSError as exc:
        raise WalletCliError(f"cannot read the {what} file {path}: {exc.strerror or exc}") from None
    if len(raw) > _MAX_SECRET_FILE:
        raise WalletCliError(f"the {what} file {path} is larger than {_MAX_SECRET_FILE} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise WalletCliError(f"the {what} file {path} is not UTF-8") from None
    # Only the first line ending goes (\n or \r\n): spaces and any other character may be part of a password.
    return text.split("\n", 1)[0].removesuffix("\r")


def _prompt(prompt: str) -> str:
    try:
        return getpass.getpass(prompt, stream=sys.stderr)
    except EOFError:
        raise WalletCliError(f"no input for '{prompt.strip()}' (use a file option in scripts)") from None


def _password(args: argparse.Namespace, *, confirm: bool = False) -> str:
    """The keystore password: from ``--password-file``, else a prompt (twice when ``confirm``)."""
    if args.password_file is not None:
        password = _read_secret_file(args.password_file, "password")
    else:
        password = _prompt("Wallet password: ")
        if confirm and _prompt("Repeat the password: ") != password:
            raise WalletCliError("the two passwords differ")
    if not password:
        raise WalletCliError("the password is empty")
    return password


def _passphrase(args: argparse.Namespace) -> str:
    """The optional BIP-0039 passphrase (``--passphrase-file``; none by default)."""
    if args.passphrase_file is None:
        return ""
    return _read_secret_file(args.passphrase_file, "passphrase")


# -- the node -----------------------------------------------------------------------------


def _rpc_url_of(datadir: Path) -> str:
    """The RPC URL of the node in ``datadir``: node.toml's ``[rpc] listen``, else its network's default port."""
    path = datadir / "node.toml"
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WalletCliError(f"{path} not found: is {datadir} a node's datadir? (or give --rpc URL)") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise WalletCliError(f"cannot read {path}: {exc}") from None
    rpc = config.get("rpc", {})
    listen = rpc.get("listen") if isinstance(rpc, dict) else None
    if listen is None:
        network = config.get("network", "devnet")
        port = _DEFAULT_RPC_PORTS.get(network if isinstance(network, str) else "", _DEFAULT_RPC_PORTS["devnet"])
        return f"http://127.0.0.1:{port}/"
    if not isinstance(listen, str):
        raise WalletCliError(f"{path}: [rpc] listen must be a string \"HOST:PORT\"")
    host, sep, port_text = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise WalletCliError(f"{path}: [rpc] listen {listen!r} is not \"HOST:PORT\"")
    # A node listening on every address is reached on loopback.
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port_text}/" if ":" in host else f"http://{host}:{port_text}/"


@dataclass
class _Node:
    """A connection to the node and the URL it came from (for error messages)."""

    client: RpcClient
    url: str

    def call(self, method: str, *params: object) -> Any:
        try:
            return self.client.call(method, *params)
        except RpcError as exc:
            raise _rpc_failure(method, exc) from None
        except RpcAuthError:
            raise WalletCliError(f"the node at {self.url} refused the RPC credentials (HTTP 401)") from None
        except RpcConnectionError as exc:
            raise WalletCliError(f"cannot reach the node at {self.url}: {exc}") from None

    def batch(self, calls: Sequence[tuple[str, Sequence[object]]]) -> list[Any]:
        out: list[Any] = []
        for start in range(0, len(calls), _BATCH):
            part = calls[start : start + _BATCH]
            try:
                results = self.client.batch(part)
            except RpcError as exc:
                raise _rpc_failure(part[0][0], exc) from None
            except RpcAuthError:
                raise WalletCliError(f"the node at {self.url} refused the RPC credentials (HTTP 401)") from None
            except RpcConnectionError as exc:
                raise WalletCliError(f"cannot reach the node at {self.url}: {exc}") from None
            for (method, _), result in zip(part, results, strict=True):
                if isinstance(result, RpcError):
                    raise _rpc_failure(method, result)
                out.append(result)
        return out


class _RpcRejection(WalletCliError):
    """The node answered a call with a JSON-RPC error (``code``, ``reason``)."""

    def __init__(self, message: str, code: int, reason: str | None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


def _rpc_failure(method: str, exc: RpcError) -> _RpcRejection:
    reason = exc.data.get("reason") if isinstance(exc.data, dict) else None
    detail = f", reason {reason}" if isinstance(reason, str) else ""
    return _RpcRejection(
        f"the node refused {method}: {exc.message} (code {exc.code}{detail})",
        exc.code,
        reason if isinstance(reason, str) else None,
    )


def _connect(args: argparse.Namespace, *, timeout: float | None = None) -> _Node:
    """A client for the node named by ``--rpc`` (with ``--rpc-user``) or ``--datadir``."""
    seconds = args.rpc_timeout if timeout is None else timeout
    if args.rpc is not None:
        if args.datadir is not None:
            raise WalletCliError("give --rpc or --datadir, not both")
        if (args.rpc_user is None) != (args.rpc_password_file is None):
            raise WalletCliError("give --rpc-user and --rpc-password-file together")
        password = None
        if args.rpc_password_file is not None:
            password = _read_secret_file(args.rpc_password_file, "RPC password")
        try:
            client = RpcClient(args.rpc, user=args.rpc_user, password=password, timeout=seconds)
        except TimecoinError as exc:
            raise WalletCliError(f"--rpc: {exc}") from None
        return _Node(client, args.rpc)
    if args.rpc_user is not None or args.rpc_password_file is not None:
        raise WalletCliError("--rpc-user and --rpc-password-file go with --rpc URL")
    datadir = (args.datadir if args.datadir is not None else DEFAULT_HOME).expanduser()
    url = _rpc_url_of(datadir)
    if not (datadir / COOKIE_FILE).exists():
        raise WalletCliError(
            f"no RPC cookie in {datadir} (is the node running? it writes {datadir / COOKIE_FILE} at start)"
        )
    try:
        client = RpcClient(url, datadir=datadir, timeout=seconds)
    except CookieError as exc:
        raise WalletCliError(str(exc)) from None
    return _Node(client, url)


def _check_network(node: _Node, network: Network) -> None:
    """Refuse a node of another chain: the wallet would sign for a chain id the node rejects."""
    info = node.call("getinfo")
    chain_id = info.get("chain_id") if isinstance(info, dict) else None
    name = info.get("network") if isinstance(info, dict) else None
    if chain_id != network.chain_id:
        raise WalletCliError(
            f"the node at {node.url} is on {name!s} (chain id {chain_id!s}), the wallet on {network.name} "
            f"(chain id {network.chain_id})"
        )


def _malformed(method: str, detail: object) -> WalletCliError:
    return WalletCliError(f"the node sent a malformed answer to {method}: {detail}")


class _NodeCoins:
    """The node's live coins as a UTXO view (``coins_of``) for :class:`Wallet`: ``listunspent`` pages.

    :meth:`prefetch` asks for many addresses in one batch, so a wallet's scan of its
    gap window costs one round trip instead of one per address. Every answer is checked
    against the question: a coin for another address is refused.
    """

    def __init__(self, node: _Node, network: Network) -> None:
        self._node = node
        self._network = network
        self._pages: dict[tuple[bytes, OutPoint | None], CoinPage] = {}

    def _address(self, payload: bytes) -> str:
        return str(Address(payload, self._network.address_digit))

    def _page(self, payload: bytes, result: object) -> CoinPage:
        try:
            page = UnspentPage.model_validate(result)
        except ValidationError as exc:
            raise _malformed("listunspent", exc.errors()[0].get("msg", "invalid")) from None
        found = []
        for info in page.coins:
            if info.address != self._address(payload):
                raise _malformed("listunspent", f"a coin of {info.address} in the page of {self._address(payload)}")
            try:
                state = CoinState(info.state)
                coin = Coin(OutPoint(info.txid, info.index), TxOut(info.amount, payload), info.height, state, None)
            except (TimecoinError, ValueError) as exc:
                raise _malformed("listunspent", exc) from None
            found.append(coin)
        cursor = None
        if page.next_cursor is not None:
            txid, _, index = page.next_cursor.partition(":")
            try:
                cursor = OutPoint(bytes.fromhex(txid), int(index))
            except (TimecoinError, ValueError):
                raise _malformed("listunspent", f"cursor {page.next_cursor!r}") from None
        return CoinPage(tuple(found), cursor)

    @staticmethod
    def _cursor(after: OutPoint | None) -> str | None:
        return None if after is None else f"{after.txid.hex()}:{after.index}"

    def prefetch(self, payloads: Sequence[bytes]) -> None:
        """Fetch the first page of each address in one batch."""
        todo = [p for p in payloads if (p, None) not in self._pages]
        results = self._node.batch([("listunspent", [self._address(p), _PAGE]) for p in todo])
        for payload, result in zip(todo, results, strict=True):
            self._pages[(payload, None)] = self._page(payload, result)

    def coins_of(self, payload: bytes, after: OutPoint | None = None, limit: int = 100) -> CoinPage:
        """One page of the coins paying to ``payload`` (pages may hold more than ``limit``)."""
        cached = self._pages.get((payload, after))
        if cached is not None:
            return cached
        result = self._node.call("listunspent", self._address(payload), _PAGE, self._cursor(after))
        page = self._page(payload, result)
        # Kept: a command scans the wallet more than once (balance after coins), at one moment.
        self._pages[(payload, after)] = page
        return page


class _NodeBlocks:
    """The node's committed chain as a history :class:`~timecoin_core.wallet.BlockSource` (``getblock`` hex).

    Blocks are read in order from genesis, once, and checked to link up (height and
    previous hash). The coins each block's inputs spent are found among the outputs
    of the blocks before it, which this keeps (a devnet's worth; a long chain would want
    an indexed wallet, not a scan).
    """

    def __init__(self, node: _Node) -> None:
        self._node = node
        height = node.call("getblockcount")
        if type(height) is not int or height < 0:
            raise _malformed("getblockcount", height)
        self._height = height
        self._applied: list[AppliedBlock] = []
        self._outputs: dict[OutPoint, TxOut] = {}
        self.txids: set[bytes] = set()

    @property
    def height(self) -> int:
        """The tip's height when this source was made."""
        return self._height

    def load(self) -> None:
        """Read every block up to the tip (batched)."""
        while len(self._applied) <= self._height:
            start = len(self._applied)
            stop = min(self._height + 1, start + _BATCH)
            for height, hexstring in zip(
                range(start, stop), self._node.batch([("getblock", [h, 0]) for h in range(start, stop)]), strict=True
            ):
                self._add(height, hexstring)

    def _add(self, height: int, hexstring: object) -> None:
        if not isinstance(hexstring, str):
            raise _malformed("getblock", f"block {height}: not a hex string")
        try:
            block = Block.from_bytes(bytes.fromhex(hexstring))
        except ValueError as exc:  # DecodeError, and bytes.fromhex's own
            raise _malformed("getblock", f"block {height}: {exc}") from None
        previous = self._applied[-1].block.hash if self._applied else None
        if block.height != height or (previous is not None and block.header.prev_hash != previous):
            raise _malformed("getblock", f"block {height} does not extend the chain the node gave before")
        spent = []
        for tx in block.transactions:
            for tx_input in tx.inputs:
                output = self._outputs.pop(tx_input.outpoint, None)
                if output is not None:
                    spent.append(Coin(tx_input.outpoint, output, None, CoinState.CONFIRMED, tx.txid, height))
            for index, output in enumerate(tx.outputs):
                self._outputs[OutPoint(tx.txid, index)] = output
            self.txids.add(tx.txid)
        for index, output in enumerate(block.rewards):
            self._outputs[OutPoint(block.reward_txid, index)] = output
        # fees and subsidy are not read by history; spent is, and must follow input order.
        self._applied.append(AppliedBlock(block, 0, 0, tuple(spent)))

    def applied(self, height: int) -> AppliedBlock | None:
        """The block at ``height`` and the coins its inputs spent."""
        if not 0 <= height <= self._height:
            return None
        self.load()
        return self._applied[height]


@dataclass(frozen=True)
class _PoolEntry:
    tx: Transaction
    fee: int
    final: bool


class _NodeTransactions:
    """Looks up the coin an outpoint names, through ``getrawtransaction`` of its transaction."""

    def __init__(self, node: _Node) -> None:
        self._node = node
        self._txs: dict[bytes, Transaction] = {}

    def transaction(self, txid: bytes) -> Transaction:
        """The transaction ``txid``, from the node (checked to hash to ``txid``)."""
        tx = self._txs.get(txid)
        if tx is None:
            hexstring = self._node.call("getrawtransaction", txid.hex())
            if not isinstance(hexstring, str):
                raise _malformed("getrawtransaction", "not a hex string")
            try:
                tx = Transaction.from_bytes(bytes.fromhex(hexstring))
            except ValueError as exc:  # DecodeError, and bytes.fromhex's own
                raise _malformed("getrawtransaction", exc) from None
            if tx.txid != txid:
                raise _malformed("getrawtransaction", f"asked for {txid.hex()}, got {tx.txid.hex()}")
            self._txs[txid] = tx
        return tx

    def coin(self, outpoint: OutPoint) -> Coin | None:
        """The output ``outpoint`` names, or None if the node does not know it."""
        try:
            tx = self.transaction(outpoint.txid)
        except _RpcRejection as exc:
            if exc.code != RpcErrorCode.INVALID_ADDRESS_OR_KEY:  # -5: no such transaction
                raise
            return None
        if outpoint.index >= len(tx.outputs):
            return None
        return Coin(outpoint, tx.outputs[outpoint.index], None, CoinState.SPENT_PENDING, None)


class _NodePool:
    """The wallet's transactions that are not in a block yet, as a history :class:`~timecoin_core.wallet.PoolSource`."""

    def __init__(self, entries: Sequence[_PoolEntry], utxos: _NodeTransactions) -> None:
        self._entries = tuple(entries)
        self.utxos = utxos

    def __iter__(self) -> Iterator[_PoolEntry]:
        return iter(self._entries)


# -- wallets ------------------------------------------------------------------------------


def _wallet_path(args: argparse.Namespace) -> Path:
    if args.wallet is not None:
        return Path(args.wallet).expanduser()
    return (DEFAULT_HOME / "wallets" / f"{args.name}.json").expanduser()


def _network_named(name: str) -> Network:
    network = NETWORKS.get(name)
    if network is None:
        raise WalletCliError(f"unknown network {name!r} (one of {', '.join(sorted(NETWORKS))})")
    return network


def _load(args: argparse.Namespace) -> Keystore:
    path = _wallet_path(args)
    try:
        keystore = Keystore.load(path)
    except FileNotFoundError:
        raise WalletCliError(f"no wallet at {path} (make one with: timecoin wallet create --wallet {path})") from None
    if args.network is not None and args.network != keystore.network_name:
        raise WalletCliError(f"the wallet {path} is for {keystore.network_name}, not {args.network}")
    return keystore


def _node_for(args: argparse.Namespace, out: _Output, keystore: Keystore, *, timeout: float | None = None) -> _Node:
    """The node, checked to be on the keystore's network: asked before the password, so a node
    that is down or of another chain costs nobody a typed password. Closed when the command ends."""
    node = _connect(args, timeout=timeout)
    out.stack.enter_context(node.client)
    _check_network(node, _network_named(keystore.network_name))
    return node


def _open_wallet(args: argparse.Namespace, keystore: Keystore) -> Wallet:
    """A signing wallet (the password is asked for), or the watch-only wallet of a watch-only keystore."""
    if keystore.is_watch_only:
        return keystore.watch_only_wallet()
    try:
        return keystore.unlock(_password(args)).wallet()
    except WrongPasswordError:
        raise WalletCliError(f"wrong password for the wallet {keystore.path}") from None


def _scan(wallet: Wallet, view: _NodeCoins) -> tuple[Coin, ...]:
    """The wallet's coins at the node (its gap window widens past every address holding one)."""
    view.prefetch(wallet.watched_payloads())
    return wallet.coins(view)


def _parse_amount(text: str, what: str = "amount") -> int:
    try:
        units = coins(text)
    except AmountError as exc:
        detail = str(exc)
        if detail.startswith("malformed"):
            detail = "expected TIME as a decimal like 1.5 (at most 8 decimals, no sign, no exponent)"
        raise WalletCliError(f"bad {what} {text!r}: {detail}") from None
    if units == 0:
        raise WalletCliError(f"bad {what} {text!r}: must be more than 0")
    return units


def _parse_address(text: str, network: Network) -> Address:
    try:
        return Address.parse(text, network)
    except AddressError as exc:
        raise WalletCliError(f"bad address {text!r}: {exc}") from None


def _time(units: int) -> str:
    return format_amount(units)


class _Output:
    """Where a command's answer goes (text lines, or one JSON document with ``--json``), and
    what it must close when it ends (``stack``: its node connection)."""

    def __init__(self, stream: TextIO, as_json: bool, stack: contextlib.ExitStack) -> None:
        self.stream = stream
        self.as_json = as_json
        self.stack = stack

    def emit(self, data: dict[str, Any] | list[dict[str, Any]], lines: Sequence[str]) -> None:
        if self.as_json:
            print(json.dumps(data, indent=2), file=self.stream)
        else:
            for line in lines:
                print(line, file=self.stream)


# -- commands -----------------------------------------------------------------------------


def _kdf(args: argparse.Namespace) -> ScryptParams:
    return FAST_SCRYPT if args.fast_kdf else DEFAULT_SCRYPT


def _create_keystore(args: argparse.Namespace, words: str, passphrase: str, password: str) -> Keystore:
    network = _network_named(args.network or "mainnet")
    path = _wallet_path(args)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        return Keystore.create(
            path, words, password, passphrase=passphrase, network=network, kdf=_kdf(args), created_at=int(time.time())
        )
    except KeystoreExistsError:
        raise WalletCliError(f"a wallet already exists at {path}: choose another --wallet or --name") from None


def _cmd_create(args: argparse.Namespace, out: _Output) -> int:
    _refuse_existing(args)
    password = _password(args, confirm=True)
    passphrase = _passphrase(args)
    words = generate_mnemonic(strength=args.words * 32 // 3)
    keystore = _create_keystore(args, words, passphrase, password)
    first = keystore.addresses[0] if keystore.addresses else ""
    out.emit(
        {"wallet": str(keystore.path), "network": keystore.network_name, "address": first, "mnemonic": words,
         "warning": _MNEMONIC_WARNING},
        [
            f"created the wallet {keystore.path} ({keystore.network_name})",
            f"first receiving address: {first}",
            "",
            _MNEMONIC_WARNING,
            "",
            f"    {words}",
            "",
        ],
    )
    return EXIT_OK


def _refuse_existing(args: argparse.Namespace) -> None:
    # Checked before any prompt, so nobody types a password for nothing (create checks again, atomically).
    path = _wallet_path(args)
    if path.exists():
        raise WalletCliError(f"a wallet already exists at {path}: choose another --wallet or --name")


def _cmd_restore(args: argparse.Namespace, out: _Output) -> int:
    _refuse_existing(args)
    if args.mnemonic_file is not None:
        words = _read_secret_file(args.mnemonic_file, "mnemonic")
    else:
        words = _prompt("Mnemonic (the words, separated by spaces): ")
    password = _password(args, confirm=True)
    passphrase = _passphrase(args)
    keystore = _create_keystore(args, words, passphrase, password)
    first = keystore.addresses[0] if keystore.addresses else ""
    out.emit(
        {"wallet": str(keystore.path), "network": keystore.network_name, "address": first},
        [f"restored the wallet {keystore.path} ({keystore.network_name})", f"first receiving address: {first}"],
    )
    return EXIT_OK


def _cmd_address(args: argparse.Namespace, out: _Output) -> int:
    keystore = _load(args)
    if args.index is not None:
        if keystore.is_watch_only:
            raise WalletCliError("a watch-only wallet has no address numbers: it watches the addresses it was given")
        wallet = _open_wallet(args, keystore)
        address = wallet.address(args.index)
        index = args.index
    else:
        # The first address no coin has paid: the node says which ones were.
        node = _node_for(args, out, keystore)
        wallet = _open_wallet(args, keystore)
        _scan(wallet, _NodeCoins(node, wallet.network))
        address = wallet.next_address()
        path = wallet.path(address)
        index = None if path is None or wallet.is_watch_only else int(path.rsplit("/", 1)[1].rstrip("'"))
    out.emit(
        {"address": str(address), "index": index, "path": wallet.path(address)},
        [str(address)],
    )
    return EXIT_OK


def _cmd_balance(args: argparse.Namespace, out: _Output) -> int:
    keystore = _load(args)
    node = _node_for(args, out, keystore)
    wallet = _open_wallet(args, keystore)
    view = _NodeCoins(node, wallet.network)
    # Coins spent by a final transaction are still live until a block holds it; they hold nothing.
    held = [c for c in _scan(wallet, view) if c.state is not CoinState.SPENT_FINALIZED]
    balance = wallet.balance(view)
    data = {
        "confirmed": balance.confirmed,
        "final": balance.finalized,
        "pending": balance.pending,
        "spendable": balance.spendable,
        "total": balance.total,
        "coins": len(held),
    }
    out.emit(
        {key: (_time(value) if key != "coins" else value) for key, value in data.items()},
        _balance_lines(balance.confirmed, balance.finalized, balance.pending, len(held)),
    )
    return EXIT_OK


def _balance_lines(confirmed: int, final: int, pending: int, count: int) -> list[str]:
    rows = [
        ("confirmed", confirmed, "in blocks"),
        ("final", final, "final, not in a block yet; spendable"),
        ("pending", pending, "claimed by a spend of yours that is not final yet"),
        ("spendable", confirmed + final, "confirmed + final"),
        ("total", confirmed + final + pending, f"in {count} coin{'' if count == 1 else 's'}"),
    ]
    width = max(len(_time(amount)) for _, amount, _ in rows)
    return [f"{name:<10} {_time(amount):>{width}} TIME  ({note})" for name, amount, note in rows]


def _cmd_send(args: argparse.Namespace, out: _Output) -> int:
    keystore = _load(args)
    network = _network_named(keystore.network_name)
    # Everything the command line says is checked before the password is asked for.
    to = _parse_address(args.address, network)
    amount = _parse_amount(args.amount)
    max_fee = None if args.max_fee is None else _parse_amount(args.max_fee, "--max-fee")
    fee_rate = None if args.fee_rate is None else FeeRate(args.fee_rate)
    if keystore.is_watch_only:
        raise WalletCliError(f"the wallet {keystore.path} is watch-only: it holds no keys and cannot sign")
    waiting = args.wait != "none"
    node = _node_for(args, out, keystore, timeout=args.rpc_timeout + (args.wait_timeout if waiting else 0))
    wallet = _open_wallet(args, keystore)
    view = _NodeCoins(node, network)
    found = _scan(wallet, view)
    created = wallet.create_transaction(
        to,
        amount,
        fee_rate,
        found,
        subtract_fee_from_amount=args.subtract_fee,
        max_fee=max_fee,
        # Final coins not yet in a block are irreversible, so as spendable as confirmed ones
        # (the balance says so); the library's default waits for a block.
        include_unconfirmed=True,
        # A random change position, so the change does not stand out; the library draws it from the seed.
        seed=secrets.randbits(64),
    )
    txid = node.call("sendrawtransaction", created.transaction.to_bytes().hex())
    if txid != created.txid.hex():
        raise _malformed("sendrawtransaction", f"txid {txid!r}, expected {created.txid.hex()}")
    # Submitted: from here on, whatever happens, the txid is printed.
    try:
        info = _status_after(node, created.txid, args.wait, args.wait_timeout)
        failure = None
    except WalletCliError as exc:
        info, failure = None, exc
    except KeyboardInterrupt:
        info, failure = None, WalletCliError("interrupted while waiting")
    status = "submitted" if info is None else info.status
    data = {
        "txid": txid,
        "to": str(to),
        "amount": _time(created.amount),
        "fee": _time(created.fee),
        "change": None if created.change is None else _time(created.change.amount),
        "status": status,
        "height": None if info is None else info.height,
    }
    lines = [txid, f"sent {_time(created.amount)} TIME to {to}, fee {_time(created.fee)} TIME; status {status}"]
    out.emit(data, lines)
    if failure is not None:
        raise WalletCliError(f"the node took the transaction {txid}, but then: {failure}")
    if info is not None and info.status == "rejected":
        raise WalletCliError(f"the transaction {txid} was rejected: {info.reason or 'no reason given'}")
    if waiting and status not in _REACHED[args.wait]:
        raise WalletCliError(f"the transaction {txid} is still {status} after {args.wait_timeout:g} s")
    return EXIT_OK


_REACHED = {"final": ("final", "confirmed"), "confirmed": ("confirmed",)}


def _status_after(node: _Node, txid: bytes, wait: str, timeout: float) -> TxStatusInfo:
    """The status of a transaction just submitted: at once (``wait == "none"``), or once it reached ``wait``."""
    if wait == "none":
        method, answer = "gettxstatus", node.call("gettxstatus", txid.hex())
    else:
        method, answer = "waitfortxstatus", node.call("waitfortxstatus", txid.hex(), wait, timeout)
    try:
        info = TxStatusInfo.model_validate(answer)
    except ValidationError:
        raise _malformed(method, answer) from None
    if info.txid != txid:
        raise _malformed(method, f"the status of {info.txid.hex()}, not of {txid.hex()}")
    return info


def _pool_of(found: Sequence[Coin], blocks: _NodeBlocks, node: _Node) -> _NodePool:
    """The wallet's transactions waiting for a block: those that made its unconfirmed coins.

    The node has no call listing its pool, so a transaction shows here when one of its
    outputs pays the wallet (a payment received, or the change of one sent).
    """
    lookup = _NodeTransactions(node)
    txids = sorted({c.outpoint.txid for c in found if c.height is None} - blocks.txids)
    statuses = node.batch([("gettxstatus", [t.hex()]) for t in txids])
    entries = []
    for txid, answer in zip(txids, statuses, strict=True):
        try:
            info = TxStatusInfo.model_validate(answer)
        except ValidationError:
            raise _malformed("gettxstatus", answer) from None
        if info.txid != txid:
            raise _malformed("gettxstatus", f"the status of {info.txid.hex()}, not of {txid.hex()}")
        if info.status not in ("pending", "final"):
            continue  # confirmed since the chain was read (history shows it next time), or gone
        tx = lookup.transaction(txid)
        spent = [lookup.coin(i.outpoint) for i in tx.inputs]
        # A node without a transaction index may not find an input's transaction: the fee is
        # then unknown, and shown as 0 (what the wallet's own inputs sent is still counted).
        fee = sum(c.amount for c in spent if c is not None) - tx.output_total() if all(c is not None for c in spent) else 0
        entries.append(_PoolEntry(tx, max(fee, 0), info.status == "final"))
    return _NodePool(entries, lookup)


def _history_row(item: WalletTransaction) -> dict[str, Any]:
    return {
        "txid": item.txid.hex(),
        "status": item.status.value,
        "height": item.height,
        "received": _time(item.received),
        "sent": _time(item.sent),
        "fee": None if item.fee is None else _time(item.fee),
        "net": ("-" if item.net < 0 else "") + _time(abs(item.net)),
        "reward": item.is_reward,
    }


def _cmd_history(args: argparse.Namespace, out: _Output) -> int:
    keystore = _load(args)
    node = _node_for(args, out, keystore)
    wallet = _open_wallet(args, keystore)
    found = _scan(wallet, _NodeCoins(node, wallet.network))
    blocks = _NodeBlocks(node)
    blocks.load()
    pool = _pool_of(found, blocks, node)
    rows = [_history_row(item) for item in wallet.history(blocks, pool)]
    lines = [f"{'height':>7}  {'status':<9}  {'net':>18}  {'received':>18}  {'sent':>18}  {'fee':>12}  txid"]
    for row in rows:
        height = "-" if row["height"] is None else str(row["height"])
        if row["reward"]:
            txid = row["txid"] + (" (genesis)" if row["height"] == 0 else " (block reward)")
        else:
            txid = row["txid"]
        lines.append(
            f"{height:>7}  {row['status']:<9}  {row['net']:>18}  {row['received']:>18}  {row['sent']:>18}  "
            f"{row['fee'] or '-':>12}  {txid}"
        )
    if not rows:
        lines = ["no transactions yet"]
    out.emit(rows, lines)
    return EXIT_OK


def _cmd_export_watch_only(args: argparse.Namespace, out: _Output) -> int:
    keystore = _load(args)
    target = Path(args.output).expanduser()
    if target.exists():
        raise WalletCliError(f"{target} exists: choose another file")
    # Addresses past the first gap window that the chain has paid are exported too.
    node = None if keystore.is_watch_only or args.offline else _node_for(args, out, keystore)
    wallet = _open_wallet(args, keystore)
    if node is not None:
        _scan(wallet, _NodeCoins(node, wallet.network))
    addresses = [Address(p, wallet.network.address_digit) for p in wallet.watched_payloads()]
    try:
        exported = Keystore.create_watch_only(target, addresses, wallet.network, created_at=int(time.time()))
    except KeystoreExistsError:
        raise WalletCliError(f"{target} exists: choose another file") from None
    out.emit(
        {"wallet": str(exported.path), "network": exported.network_name, "addresses": len(exported.addresses)},
        [f"wrote the watch-only wallet {exported.path}: {len(exported.addresses)} addresses, no keys"],
    )
    return EXIT_OK


# -- the command line ---------------------------------------------------------------------


def _common(*, node: bool, password: bool) -> argparse.ArgumentParser:
    """The options every wallet command takes (``node``: how to reach the node; ``password``: the password file)."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    where = parser.add_argument_group("the wallet")
    where.add_argument(
        "--wallet", metavar="FILE", type=Path,
        help="the keystore file (default: ~/.timecoin/wallets/NAME.json)",
    )
    where.add_argument("--name", default="wallet", help="the wallet's name, when --wallet is not given")
    where.add_argument(
        "--network", choices=sorted(NETWORKS),
        help="the wallet's network; create and restore default to mainnet, other commands check it against the file",
    )
    if password:
        where.add_argument(
            "--password-file", metavar="FILE", type=Path,
            help="read the wallet password from the first line of FILE instead of a prompt",
        )
    if node:
        rpc = parser.add_argument_group("the node")
        rpc.add_argument("--rpc", metavar="URL", help="the node's JSON-RPC URL, e.g. http://127.0.0.1:24301/")
        rpc.add_argument("--rpc-user", metavar="USER", help="RPC user (with --rpc and --rpc-password-file)")
        rpc.add_argument("--rpc-password-file", metavar="FILE", type=Path, help="read the RPC password from FILE")
        rpc.add_argument(
            "--datadir", metavar="DIR", type=Path,
            help="the node's datadir: its .cookie and node.toml's [rpc] listen (default: ~/.timecoin, without --rpc)",
        )
        rpc.add_argument("--rpc-timeout", metavar="SECONDS", type=_seconds, default=30.0, help="per RPC call")
    parser.add_argument("--json", action="store_true", help="print one JSON document (errors too, on stderr)")
    return parser


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 3600 seconds, not {text}")
    return value


def _index(text: str) -> int:
    if not text.isdigit() or int(text) >= 2**31:
        raise argparse.ArgumentTypeError(f"{text!r} is not an address number (0 .. 2^31-1)")
    return int(text)


def _fee_rate(text: str) -> int:
    if not text.isdigit() or int(text) > 10**15:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of base units per 1,000 bytes")
    return int(text)


_Handler = Callable[[argparse.Namespace, _Output], int]


def _command(sub: Any, name: str, summary: str, details: str, example: str, handler: _Handler,
             parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=summary, description=f"{summary}\n\n{details}", epilog=f"example:\n  {example}\n",
        formatter_class=_Formatter, parents=parents, allow_abbrev=False,
    )
    parser.set_defaults(wallet_handler=handler)
    return parser


def _add_commands(sub: Any, prog: str) -> None:
    """Register the seven commands on ``sub``; ``prog`` is how examples spell the command."""
    offline = _common(node=False, password=True)
    online = _common(node=True, password=True)

    create = _command(
        sub, "create", "Create a wallet: a fresh mnemonic, encrypted under a password in a keystore file.",
        "The mnemonic is printed once, with a warning: write it down, it is the only backup. "
        "The password is asked for twice (or read from --password-file). No node is needed.",
        f"{prog} create --network devnet --name alice", _cmd_create, [offline],
    )
    create.add_argument("--words", type=int, choices=(12, 15, 18, 21, 24), default=24, help="mnemonic length in words")
    create.add_argument(
        "--passphrase-file", metavar="FILE", type=Path,
        help="an optional BIP-0039 passphrase (a 25th word) from FILE; without it the passphrase is empty",
    )
    create.add_argument(
        "--fast-kdf", action="store_true",
        help="encrypt with the cheapest scrypt cost (4 MiB): for tests and throwaway devnet wallets only",
    )

    restore = _command(
        sub, "restore", "Restore a wallet from its mnemonic into a new keystore file.",
        "The mnemonic is read from a prompt (not echoed) or --mnemonic-file; the same mnemonic (and passphrase) "
        "gives the same addresses. No node is needed.",
        f"{prog} restore --network devnet --name alice --mnemonic-file words.txt", _cmd_restore, [offline],
    )
    restore.add_argument("--mnemonic-file", metavar="FILE", type=Path, help="read the mnemonic from FILE")
    restore.add_argument("--passphrase-file", metavar="FILE", type=Path, help="the BIP-0039 passphrase, if it had one")
    restore.add_argument("--fast-kdf", action="store_true", help="the cheapest scrypt cost: for tests only")

    address = _command(
        sub, "address", "Show a receiving address: the first one no coin has paid yet.",
        "The node tells which addresses were paid. With --index N, address number N "
        "(m/44'/1440'/0'/0'/N'), without a node.",
        f"{prog} address --name alice --datadir ~/.timecoin", _cmd_address, [online],
    )
    address.add_argument("--index", metavar="N", type=_index, help="address number N instead of the first unused")

    _command(
        sub, "balance", "Show the wallet's balance at the node: confirmed, final, pending.",
        "confirmed: in blocks; final: certified final, not in a block yet (spendable); pending: "
        "claimed by a spend of yours that is not final yet. Amounts in TIME.",
        f"{prog} balance --name alice --datadir ~/.timecoin", _cmd_balance, [online],
    )

    send = _command(
        sub, "send", "Pay AMOUNT TIME to ADDRESS: build, sign, submit, and print the txid.",
        "AMOUNT is decimal TIME (\"1.5\", at most 8 decimals). The fee is the network minimum unless --fee-rate "
        "says more, and a fee above --max-fee (default: 0.1 TIME or 1% of the amount, whichever is more) is "
        "refused. With --wait final the command returns once the masternodes certified it final.",
        f"{prog} send TIME0KF9CbFaoeniSW2sje2eYbqJ4FbRNAYWzL 1.5 --name alice --wait final", _cmd_send, [online],
    )
    send.add_argument("address", metavar="ADDRESS", help="the recipient's address")
    send.add_argument("amount", metavar="AMOUNT", help="decimal TIME, e.g. 1.5")
    send.add_argument(
        "--fee-rate", metavar="UNITS", type=_fee_rate,
        help="base units per 1,000 bytes (default: the network minimum, 10000 on the built-in networks)",
    )
    send.add_argument("--max-fee", metavar="AMOUNT", help="refuse a fee above this many TIME")
    send.add_argument(
        "--subtract-fee", action="store_true", help="the recipient pays the fee: AMOUNT includes it (to send everything)"
    )
    send.add_argument(
        "--wait", choices=("none", "final", "confirmed"), default="none",
        help="wait until the transaction is final (or in a block) before returning",
    )
    send.add_argument("--wait-timeout", metavar="SECONDS", type=_seconds, default=60.0, help="how long --wait waits")

    _command(
        sub, "history", "List the wallet's transactions: received, sent, fee, status and height.",
        "Reads the node's blocks from genesis (a devnet's chain; slow on a long one) and its unconfirmed "
        "transactions that pay the wallet. Amounts in TIME; net is received minus sent.",
        f"{prog} history --name alice --datadir ~/.timecoin --json", _cmd_history, [online],
    )

    export = _command(
        sub, "export-watch-only", "Write a watch-only keystore: the wallet's addresses, no keys, no password.",
        "It tracks balances and history anywhere without exposing a key; it cannot sign. The addresses are "
        "taken from the unlocked wallet, past every address the node says was paid (--offline: the first 20 "
        "receiving and 20 change addresses, without a node).",
        f"{prog} export-watch-only alice-watch.json --name alice --datadir ~/.timecoin",
        _cmd_export_watch_only, [online],
    )
    export.add_argument("output", metavar="OUTPUT", help="the watch-only keystore file to write (must not exist)")
    export.add_argument("--offline", action="store_true", help="do not ask the node which addresses were paid")


def add_wallet_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``wallet create|restore|address|balance|send|history|export-watch-only`` on ``subparsers``.

    ``subparsers`` is what :meth:`argparse.ArgumentParser.add_subparsers` returned. The
    parsed namespace has ``wallet_handler`` set; run it with :func:`run_wallet_command`.
    Returns the ``wallet`` parser.
    """
    wallet = subparsers.add_parser(
        "wallet", help="a wallet: keys in an encrypted keystore, coins at a node",
        description="A wallet: keys in an encrypted keystore file, coins and payments through a node's JSON-RPC.",
        epilog="example:\n  timecoin wallet create --network devnet --name alice\n"
        "  timecoin wallet balance --name alice --datadir ./devnet/node0\n\ndocs/wallet-cli.md is the guide.",
        formatter_class=_Formatter, allow_abbrev=False,
    )
    commands = wallet.add_subparsers(dest="wallet_command", metavar="COMMAND", required=True)
    _add_commands(commands, "timecoin wallet")
    return wallet  # type: ignore[no-any-return]


def run_wallet_command(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the wallet command ``args`` was parsed for; the exit code (errors become one line on ``err``)."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    as_json = bool(getattr(args, "json", False))
    handler: _Handler = args.wallet_handler
    try:
        with contextlib.ExitStack() as stack:
            return handler(args, _Output(out, as_json, stack))
    except KeyboardInterrupt:
        _report(err, as_json, "interrupted", None)
        return EXIT_INTERRUPTED
    except _RpcRejection as exc:
        _report(err, as_json, str(exc), {"rpc_code": exc.code, "reason": exc.reason})
        return EXIT_FAILED
    except InsufficientFundsError as exc:
        message = _cli_words(str(exc))
        _report(err, as_json, message, {"needed": _time(exc.needed), "available": _time(exc.available)})
        return EXIT_FAILED
    except WatchOnlyError:
        _report(err, as_json, "this wallet is watch-only: it holds no keys and cannot sign", None)
        return EXIT_FAILED
    except TimecoinError as exc:
        _report(err, as_json, _cli_words(str(exc)), None)
        return EXIT_FAILED
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        _report(err, as_json, f"{where}{exc.strerror or exc}", None)
        return EXIT_FAILED


# The library's messages name its parameters; a command line user knows the options.
_CLI_WORDS = (
    ("(include_locked=True to spend it)", "(held by your spends that are not final yet)"),
    ("(subtract_fee_from_amount)", "(--subtract-fee)"),
    ("pass a larger max_fee", "pass a larger --max-fee"),
    ("max_fee: ", ""),
)


def _cli_words(message: str) -> str:
    for library, cli in _CLI_WORDS:
        message = message.replace(library, cli)
    return message


def _report(err: TextIO, as_json: bool, message: str, extra: dict[str, Any] | None) -> None:
    # Parts of a message can come from the node: one line, printable, bounded, whatever it sent.
    message = "".join(ch if ch.isprintable() else " " for ch in message)
    if len(message) > 2_000:
        message = message[:2_000] + "..."
    if as_json:
        print(json.dumps({"error": message, **(extra or {})}), file=err)
    else:
        print(f"timecoin wallet: error: {message}", file=err)


def build_parser() -> argparse.ArgumentParser:
    """The parser of the wallet command line run alone (``python -m timecoin_net.wallet_cli``)."""
    prog = "python -m timecoin_net.wallet_cli"
    parser = _Parser(
        prog=prog, allow_abbrev=False, formatter_class=_Formatter,
        description="A Timecoin wallet: keys in an encrypted keystore file, coins and payments through a node's JSON-RPC.",
        epilog=f"example:\n  {prog} create --network devnet --name alice\n\ndocs/wallet-cli.md is the guide.",
    )
    commands = parser.add_subparsers(dest="wallet_command", metavar="COMMAND", required=True, parser_class=_Parser)
    _add_commands(commands, prog)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the wallet command line with ``argv`` (default: ``sys.argv[1:]``); the exit code."""
    args = build_parser().parse_args(argv)
    return run_wallet_command(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
