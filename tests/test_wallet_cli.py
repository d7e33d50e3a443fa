"""``timecoin wallet`` end to end against an RpcServer on a LocalChain: every command, the error paths
(one line, a non-zero exit, never a traceback), passwords never taken as arguments, ``--help``."""

from __future__ import annotations

import argparse
import functools
import getpass
import io
import json
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rpc_kit import running

import timecoin_net
from timecoin_core import DEVNET, MAINNET, MAX_MONEY, PrivateKey, coins, format_amount
from timecoin_core.testing import ACCOUNT_BALANCE, TEST_MNEMONIC, LocalChain
from timecoin_core.wallet import Keystore, Wallet
from timecoin_net import wallet_cli
from timecoin_net.rpc import LocalChainBackend, NotFoundError, RpcServer, TransactionRejectedError
from timecoin_net.rpc.models import SendRawTransactionParams, TxStatusInfo, WaitForTxStatusParams
from timecoin_net.wallet_cli import (
    WalletCliError,
    add_wallet_commands,
    build_parser,
    main,
    run_wallet_command,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


BOB = str(PrivateKey.from_seed(b"\x02" * 32).address(DEVNET))
WORDS = "legal winner thank year wave sausage worth useful legal winner thank yellow"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def cli(*argv: str) -> Result:
    """Run one wallet command in this thread; its exit code and what it printed."""
    out, err = io.StringIO(), io.StringIO()
    args = build_parser().parse_args(list(argv))
    code = run_wallet_command(args, out, err)
    return Result(code, out.getvalue(), err.getvalue())


@dataclass
class Node:
    backend: LocalChainBackend
    server: RpcServer
    datadir: Path

    @property
    def chain(self) -> LocalChain:
        return self.backend.chain


@asynccontextmanager
async def a_node(tmp_path: Path, backend: LocalChainBackend | None = None) -> AsyncIterator[Node]:
    """An RpcServer on a LocalChain, its cookie and a node.toml naming its port in ``tmp_path/node``."""
    datadir = tmp_path / "node"
    datadir.mkdir()
    backend = backend if backend is not None else LocalChainBackend(LocalChain())
    async with running(datadir, backend=backend) as server:
        port = server.url.rstrip("/").rsplit(":", 1)[1]
        (datadir / "node.toml").write_text(f'network = "devnet"\n\n[rpc]\nlisten = "127.0.0.1:{port}"\n')
        yield Node(backend, server, datadir)


class Alice:
    """The options of one wallet file, its password in a file, talking to ``node``."""

    def __init__(self, tmp_path: Path, node: Node | None, name: str = "alice", password: str = "correct horse") -> None:
        self.path = tmp_path / f"{name}.json"
        self.password_file = tmp_path / f"{name}.password"
        self.password_file.write_text(password + "\n")
        self.node = node

    def opts(self, *, node: bool = True) -> list[str]:
        opts = ["--wallet", str(self.path), "--password-file", str(self.password_file)]
        if node and self.node is not None:
            opts += ["--datadir", str(self.node.datadir)]
        return opts

    async def run(self, command: str, *argv: str, node: bool = True) -> Result:
        return await anyio.to_thread.run_sync(functools.partial(cli, command, *argv, *self.opts(node=node)))


async def test_create_fund_balance_send_history_restore_and_watch_only(tmp_path: Path) -> None:
    async with a_node(tmp_path) as node:
        alice = Alice(tmp_path, node)
        created = await alice.run("create", "--network", "devnet", "--fast-kdf", "--words", "12", "--json", node=False)
        assert created.code == 0, created.err
        info = created.json()
        words = info["mnemonic"]
        assert len(words.split()) == 12 and "only backup" in info["warning"]
        assert stat.S_IMODE(alice.path.stat().st_mode) == 0o600
        assert words not in alice.path.read_text()  # sealed, not stored in clear
        first = info["address"]

        address = await alice.run("address", "--json")
        assert address.code == 0, address.err
        assert address.json() == {"address": first, "index": 0, "path": "m/44'/1440'/0'/0'/0'"}

        node.chain.fund(first, coins("10"))
        node.backend.refresh()
        balance = (await alice.run("balance", "--json")).json()
        assert balance == {"confirmed": "0", "final": "10", "pending": "0", "spendable": "10", "total": "10", "coins": 1}
        node.backend.produce_block()
        assert (await alice.run("balance", "--json")).json()["confirmed"] == "10"
        text = await alice.run("balance")
        assert text.code == 0 and "confirmed  10 TIME" in text.out

        # The first address is used now: the next one is handed out.
        assert (await alice.run("address", "--json")).json()["index"] == 1

        sent = await alice.run("send", BOB, "2.5", "--wait", "final", "--json")
        assert sent.code == 0, sent.err
        payment = sent.json()
        assert (payment["to"], payment["amount"], payment["status"]) == (BOB, "2.5", "final")
        fee = coins(payment["fee"])
        assert 0 < fee < coins("0.001")
        txid = payment["txid"]
        assert node.chain.receipt(bytes.fromhex(txid)).status.value == "final"
        assert node.chain.node.pool.utxos.balance(PrivateKey.from_seed(b"\x02" * 32).address(DEVNET).payload).spendable == coins("2.5")
        after = (await alice.run("balance", "--json")).json()
        assert coins(after["spendable"]) == coins("10") - coins("2.5") - fee

        history = (await alice.run("history", "--json")).json()
        assert [(row["status"], row["height"]) for row in history] == [("confirmed", 1), ("final", None)]
        funding, payment_row = history
        assert (funding["received"], funding["sent"], funding["fee"], funding["net"]) == ("10", "0", None, "10")
        assert payment_row["txid"] == txid and coins(payment_row["fee"]) == fee
        assert coins(payment_row["sent"]) - coins(payment_row["received"]) == coins("2.5") + fee
        node.backend.produce_block()
        history = (await alice.run("history", "--json")).json()
        assert history[-1]["txid"] == txid and (history[-1]["status"], history[-1]["height"]) == ("confirmed", 2)
        table = await alice.run("history")
        assert table.code == 0 and txid in table.out and "confirmed" in table.out

        # The same mnemonic restores the same addresses and coins.
        words_file = tmp_path / "words.txt"
        words_file.write_text(words + "\n")
        again = Alice(tmp_path, node, name="again", password="another one")
        restored = await again.run(
            "restore", "--network", "devnet", "--fast-kdf", "--mnemonic-file", str(words_file), "--json", node=False
        )
        assert restored.code == 0, restored.err
        assert restored.json()["address"] == first
        for index in ("0", "7"):
            mine = (await alice.run("address", "--index", index, "--json", node=False)).json()
            theirs = (await again.run("address", "--index", index, "--json", node=False)).json()
            assert mine == theirs
        assert (await again.run("balance", "--json")).json() == (await alice.run("balance", "--json")).json()

        # A watch-only export sees the same coins without a password, and cannot sign.
        watch_path = tmp_path / "watch.json"
        exported = await alice.run("export-watch-only", str(watch_path), "--json")
        assert exported.code == 0, exported.err
        assert Keystore.load(watch_path).is_watch_only
        assert "crypto" in json.loads(watch_path.read_text()) and json.loads(watch_path.read_text())["crypto"] is None
        watch = ["--wallet", str(watch_path), "--datadir", str(node.datadir)]
        seen = await anyio.to_thread.run_sync(functools.partial(cli, "balance", "--json", *watch))
        assert seen.json() == (await alice.run("balance", "--json")).json()
        watched_history = await anyio.to_thread.run_sync(functools.partial(cli, "history", "--json", *watch))
        assert [row["txid"] for row in watched_history.json()] == [row["txid"] for row in history]
        refused = await anyio.to_thread.run_sync(functools.partial(cli, "send", BOB, "1", *watch))
        assert refused.code == 1 and "watch-only" in refused.err and refused.out == ""


async def test_user_errors_are_one_line_and_exit_1(tmp_path: Path) -> None:
    async with a_node(tmp_path) as node:
        alice = Alice(tmp_path, node)
        assert (await alice.run("create", "--network", "devnet", "--fast-kdf", node=False)).code == 0
        first = str(Wallet.from_mnemonic(WORDS, network=DEVNET).address(0))  # not alice's: just an address
        node.chain.fund(Keystore.load(alice.path).addresses[0], coins("3"))
        node.backend.refresh()

        async def fails(*argv: str, wallet: Alice = alice) -> str:
            result = await wallet.run(*argv)
            assert result.code == 1, (argv, result)
            assert result.err.startswith("timecoin wallet: error: ") and result.err.count("\n") == 1, result.err
            assert "Traceback" not in result.err
            return result.err

        mistyped = Alice(tmp_path, node, name="mistyped", password="correct horse.")
        mistyped.path = alice.path
        assert "wrong password" in await fails("balance", wallet=mistyped)
        for amount in ("1.2.3", "-1", "0", "1.123456789", "1e3", "", "one"):
            assert "bad amount" in await fails("send", first, amount), amount
        assert "insufficient funds" in await fails("send", first, "5")
        assert "insufficient funds" in await fails("send", first, "3")  # and the fee?
        assert "bad address" in await fails("send", first[:-1] + ("x" if first[-1] != "x" else "y"), "1")
        mainnet = str(PrivateKey.from_seed(b"\x02" * 32).address(MAINNET))
        assert "another network" in await fails("send", mainnet, "1")
        assert "bad --max-fee '0.1.'" in await fails("send", first, "1", "--max-fee", "0.1.")
        assert "exceeds the maximum" in await fails("send", first, "1", "--fee-rate", "100000000", "--max-fee", "0.01")
        again = await alice.run("create", "--network", "devnet", node=False)
        assert again.code == 1 and "already exists" in again.err
        assert "is for devnet, not testnet" in await fails("balance", "--network", "testnet")
        assert "no wallet at" in await fails("balance", wallet=Alice(tmp_path / "..", node, name="nobody"))

        # --json errors are one JSON object on stderr.
        result = await alice.run("send", first, "1.2.3", "--json")
        assert result.code == 1 and json.loads(result.err)["error"].startswith("bad amount")
        # Nothing was sent by any of them.
        assert (await alice.run("balance", "--json")).json()["spendable"] == "3"
        url = node.server.url

    # The node is gone: its port refuses, and its cookie went with it.
    result = await alice.run("balance", "--rpc", url, node=False)
    assert result.code == 1 and "cannot reach the node" in result.err
    result = await alice.run("balance")
    assert result.code == 1 and "no RPC cookie" in result.err
    result = await alice.run("balance", "--datadir", str(tmp_path), node=False)
    assert result.code == 1 and "node.toml not found" in result.err


async def test_rpc_credentials_and_rejections(tmp_path: Path) -> None:
    class Refusing(LocalChainBackend):
        async def sendrawtransaction(self, params: SendRawTransactionParams) -> str:
            # A node's words reach the terminal: the control characters must not.
            raise TransactionRejectedError("double-spend", "spends a coin\nalready\x1b[2J spent")

    async with a_node(tmp_path, Refusing(LocalChain())) as node:
        alice = Alice(tmp_path, node)
        assert (await alice.run("create", "--network", "devnet", "--fast-kdf", node=False)).code == 0
        node.chain.fund(Keystore.load(alice.path).addresses[0], coins("3"))
        node.backend.refresh()
        refused = await alice.run("send", BOB, "1", "--json")
        assert refused.code == 1
        assert json.loads(refused.err) == {
            "error": "the node refused sendrawtransaction: spends a coin already [2J spent (code -26, reason double-spend)",
            "rpc_code": -26,
            "reason": "double-spend",
        }
        text = await alice.run("send", BOB, "1")
        assert text.code == 1 and text.err.count("\n") == 1 and "\x1b" not in text.err
        wrong = tmp_path / "rpc.password"
        wrong.write_text("nope\n")
        result = await alice.run(
            "balance", "--rpc", node.server.url, "--rpc-user", "__cookie__", "--rpc-password-file", str(wrong), node=False
        )
        assert result.code == 1 and "refused the RPC credentials" in result.err
        cookie = (node.datadir / ".cookie").read_text().split(":", 1)[1]
        right = tmp_path / "cookie.password"
        right.write_text(cookie)
        result = await alice.run(
            "balance", "--json", "--rpc", node.server.url, "--rpc-user", "__cookie__", "--rpc-password-file", str(right),
            node=False,
        )
        assert result.code == 0 and result.json()["spendable"] == "3"
        result = await alice.run("balance", "--rpc", node.server.url, "--rpc-user", "__cookie__", node=False)
        assert result.code == 1 and "together" in result.err


async def test_a_node_of_another_network_is_refused(tmp_path: Path) -> None:
    async with a_node(tmp_path) as node:
        alice = Alice(tmp_path, node)
        assert (await alice.run("create", "--network", "testnet", "--fast-kdf", node=False)).code == 0
        result = await alice.run("balance")
        assert result.code == 1 and "the wallet on testnet" in result.err


@pytest.mark.parametrize("argv", [["--password", "hunter2"], ["--password=hunter2"], ["--passw", "x"], ["--rpc-password", "x"]])
def test_passwords_are_never_arguments(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("create", "balance", "send"):
        extra = [BOB, "1"] if command == "send" else []
        with pytest.raises(SystemExit) as info:
            build_parser().parse_args([command, *extra, *argv])
        assert info.value.code == 2
        assert "unrecognized arguments" in capsys.readouterr().err


def test_create_asks_twice_and_shows_the_mnemonic_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["pw one", "pw two"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt, stream=None: next(answers))
    path = tmp_path / "w.json"
    result = cli("create", "--wallet", str(path), "--network", "devnet", "--fast-kdf")
    assert result.code == 1 and "the two passwords differ" in result.err and not path.exists()

    answers = iter(["pw one", "pw one"])
    result = cli("create", "--wallet", str(path), "--network", "devnet", "--fast-kdf", "--words", "12")
    assert result.code == 0
    words = [line.strip() for line in result.out.splitlines() if len(line.split()) == 12]
    assert len(words) == 1 and "WRITE THESE WORDS DOWN" in result.out
    assert Keystore.load(path).unlock("pw one").mnemonic == words[0]

    def no_terminal(prompt: str, stream: object = None) -> str:
        raise EOFError

    monkeypatch.setattr(getpass, "getpass", no_terminal)
    result = cli("address", "--wallet", str(path), "--index", "0")
    assert result.code == 1 and "use a file option" in result.err


def test_restore_from_a_prompt_refuses_a_bad_mnemonic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([WORDS.replace("legal", "legel", 1), "pw", "pw"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt, stream=None: next(answers))
    path = tmp_path / "w.json"
    result = cli("restore", "--wallet", str(path), "--network", "devnet", "--fast-kdf")
    assert result.code == 1 and "legel" not in result.err and not path.exists()
    answers = iter([WORDS, "pw", "pw"])
    result = cli("restore", "--wallet", str(path), "--network", "devnet", "--fast-kdf", "--json")
    assert result.code == 0
    assert result.json()["address"] == str(Wallet.from_mnemonic(WORDS, network=DEVNET).address(0))


def test_every_command_has_help_with_defaults_and_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("create", "restore", "address", "balance", "send", "history", "export-watch-only"):
        with pytest.raises(SystemExit) as info:
            main([command, "--help"])
        assert info.value.code == 0
        text = capsys.readouterr().out
        assert "example:" in text and command in text.split("example:")[1]
        assert "--json" in text and "--wallet" in text
    with pytest.raises(SystemExit):
        main(["send", "--help"])
    text = capsys.readouterr().out
    assert "(default: none)" in text and "(default: 60.0)" in text and "network minimum" in text


def test_the_commands_hook_into_another_command_line(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="timecoin")
    groups = parser.add_subparsers(dest="group", required=True)
    add_wallet_commands(groups)
    password = tmp_path / "pw"
    password.write_text("pw")
    args = parser.parse_args(
        ["wallet", "create", "--wallet", str(tmp_path / "w.json"), "--password-file", str(password), "--fast-kdf",
         "--network", "devnet", "--json"]
    )
    out = io.StringIO()
    assert (args.group, args.wallet_command) == ("wallet", "create")
    assert run_wallet_command(args, out, io.StringIO()) == 0
    answer = json.loads(out.getvalue())
    assert answer["network"] == "devnet" and len(answer["mnemonic"].split()) == 24  # the default
    with pytest.raises(SystemExit):
        parser.parse_args(["wallet", "balance", "--password", "x"])


def test_the_rpc_address_comes_from_the_datadir(tmp_path: Path) -> None:
    def url(toml: str) -> str:
        (tmp_path / "node.toml").write_text(toml)
        return wallet_cli._rpc_url_of(tmp_path)

    assert url('[rpc]\nlisten = "127.0.0.1:5000"\n') == "http://127.0.0.1:5000/"
    assert url('[rpc]\nlisten = "0.0.0.0:5000"\n') == "http://127.0.0.1:5000/"
    assert url('[rpc]\nlisten = "[::]:5000"\n') == "http://[::1]:5000/"
    assert url('network = "testnet"\n') == "http://127.0.0.1:24201/"
    assert url("") == "http://127.0.0.1:24301/"
    for bad in ('[rpc]\nlisten = "nope"\n', '[rpc]\nlisten = 5\n', "[rpc\n", '[rpc]\nlisten = "h:99999"\n'):
        with pytest.raises(WalletCliError):
            url(bad)


class _LyingNode:
    """Answers listunspent with what the test says, whatever the question."""

    url = "http://127.0.0.1:1/"

    def __init__(self, answer: object) -> None:
        self.answer = answer

    def call(self, method: str, *params: object) -> object:
        return self.answer

    def batch(self, calls: list[tuple[str, list[object]]]) -> list[object]:
        return [self.answer for _ in calls]


def test_a_node_answer_that_does_not_fit_the_question_is_refused() -> None:
    wallet = Wallet.from_mnemonic(WORDS, network=DEVNET)
    other = str(wallet.address(5))
    coin = {"txid": "11" * 32, "index": 0, "amount": 5, "address": other, "height": 1, "state": "unspent"}
    for answer, message in (
        ({"coins": [coin], "next_cursor": None}, "in the page of"),
        ({"coins": [{**coin, "address": str(wallet.address(0)), "state": "melted"}], "next_cursor": None}, "melted"),
        ({"coins": "none", "next_cursor": None}, "listunspent"),
        ({"coins": [], "next_cursor": "zz:1"}, "cursor"),
    ):
        view = wallet_cli._NodeCoins(_LyingNode(answer), DEVNET)  # type: ignore[arg-type]
        with pytest.raises(WalletCliError, match=message):
            wallet.coins(view)


def test_public_names() -> None:
    for name in ("WalletCliError", "add_wallet_commands", "run_wallet_command"):
        assert name in timecoin_net.__all__ and getattr(timecoin_net, name) is getattr(wallet_cli, name)
    for name in wallet_cli.__all__:
        assert getattr(wallet_cli, name).__doc__


async def test_final_coins_are_spent_before_a_block_and_waiting_can_run_out(tmp_path: Path) -> None:
    async with a_node(tmp_path) as node:
        alice = Alice(tmp_path, node)
        assert (await alice.run("create", "--network", "devnet", "--fast-kdf", node=False)).code == 0
        node.chain.fund(Keystore.load(alice.path).addresses[0], coins("2"))
        node.backend.refresh()
        # No block yet: the coin is final, so it pays (here: everything, the fee taken from the amount).
        sent = await alice.run("send", BOB, "2", "--subtract-fee", "--wait", "final", "--json")
        assert sent.code == 0, sent.err
        payment = sent.json()
        assert payment["change"] is None and coins(payment["amount"]) + coins(payment["fee"]) == coins("2")
        # Nobody makes a block on this chain: waiting for one runs out, and says so after the txid.
        node.chain.fund(Keystore.load(alice.path).addresses[1], coins("1"))
        node.backend.refresh()
        waited = await alice.run("send", BOB, "0.5", "--wait", "confirmed", "--wait-timeout", "0.2")
        assert waited.code == 1 and "is still final after 0.2 s" in waited.err
        txid = waited.out.splitlines()[0]
        assert node.chain.receipt(bytes.fromhex(txid)).status.value == "final"


async def test_a_watch_only_wallet_hands_out_its_first_unpaid_address(tmp_path: Path) -> None:
    async with a_node(tmp_path) as node:
        alice = Alice(tmp_path, node)
        assert (await alice.run("create", "--network", "devnet", "--fast-kdf", node=False)).code == 0
        watch_path = tmp_path / "watch.json"
        assert (await alice.run("export-watch-only", str(watch_path), "--offline", node=False)).code == 0
        addresses = Keystore.load(watch_path).addresses
        assert len(addresses) == 40 and addresses == Keystore.load(alice.path).addresses
        watch = ["--wallet", str(watch_path), "--datadir", str(node.datadir), "--json"]
        first = await anyio.to_thread.run_sync(functools.partial(cli, "address", *watch))
        assert first.json()["address"] == addresses[0]
        node.chain.fund(addresses[0], coins("1"))
        node.backend.refresh()
        second = await anyio.to_thread.run_sync(functools.partial(cli, "address", *watch))
        assert second.json()["address"] == addresses[1]
        numbered = await anyio.to_thread.run_sync(functools.partial(cli, "address", "--index", "3", *watch))
        assert numbered.code == 1 and "watch-only" in numbered.err


def test_the_module_runs_alone(tmp_path: Path) -> None:
    import subprocess
    import sys

    run = functools.partial(subprocess.run, capture_output=True, text=True, timeout=120, check=False)
    done = run([sys.executable, "-m", "timecoin_net.wallet_cli", "balance", "--wallet", str(tmp_path / "none.json")])
    assert done.returncode == 1 and done.stderr.startswith("timecoin wallet: error: no wallet at") and not done.stdout
    assert "RuntimeWarning" not in done.stderr  # nobody imported the module before runpy ran it


def test_the_node_is_reached_before_the_password_is_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    password = tmp_path / "pw"
    password.write_text("pw")
    wallet = str(tmp_path / "w.json")
    assert cli("create", "--wallet", wallet, "--network", "devnet", "--fast-kdf", "--password-file", str(password)).code == 0
    with socket.socket() as probe:  # a loopback port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def never(prompt: str, stream: object = None) -> str:
        raise AssertionError("asked for a password")

    monkeypatch.setattr(getpass, "getpass", never)
    for command in (["balance"], ["history"], ["address"], ["send", BOB, "1"], ["export-watch-only", str(tmp_path / "x")]):
        result = cli(*command, "--wallet", wallet, "--rpc", f"http://127.0.0.1:{port}/")
        assert result.code == 1 and "cannot reach the node" in result.err, (command, result)
    result = cli("send", BOB, "1.2.3", "--wallet", wallet, "--rpc", f"http://127.0.0.1:{port}/")
    assert result.code == 1 and "bad amount" in result.err


@given(st.integers(min_value=1, max_value=MAX_MONEY))
def test_amounts_round_trip_through_the_command_line(units: int) -> None:
    assert wallet_cli._parse_amount(format_amount(units)) == units


@given(st.text(max_size=30))
def test_any_amount_text_parses_or_is_a_one_line_error(text: str) -> None:
    try:
        units = wallet_cli._parse_amount(text)
    except WalletCliError as exc:
        assert str(exc).startswith("bad amount") and "\n" not in str(exc).replace(repr(text), "")
    else:
        assert 0 < units <= MAX_MONEY and format_amount(units) == format_amount(coins(text))


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=70),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
_COIN = st.fixed_dictionaries(
    {
        "txid": st.sampled_from(["11" * 32, "zz", "AB" * 32, ""]),
        "index": st.integers(-2, 2**32 + 1),
        "amount": st.integers(-5, 2**64),
        "address": st.sampled_from([str(Wallet.from_mnemonic(WORDS, network=DEVNET).address(0)), BOB, "TIME0"]),
        "height": st.none() | st.integers(-1, 10),
        "state": st.sampled_from(["unspent", "locked", "spent-pending", "spent-finalized", "confirmed", "melted"]),
    }
)


@settings(deadline=None)
@given(st.one_of(_JSON, st.fixed_dictionaries({"coins": st.lists(_COIN, max_size=3), "next_cursor": st.none() | st.text(max_size=70)})))
def test_any_listunspent_answer_is_a_page_of_the_address_or_a_typed_error(answer: object) -> None:
    wallet = Wallet.from_mnemonic(WORDS, network=DEVNET)
    payload = wallet.address(0).payload
    view = wallet_cli._NodeCoins(_LyingNode(answer), DEVNET)  # type: ignore[arg-type]
    try:
        page = view.coins_of(payload)
    except WalletCliError as exc:
        assert "malformed answer to listunspent" in str(exc)
    else:
        assert all(coin.payload == payload and coin.amount <= MAX_MONEY for coin in page.coins)


@given(st.text(max_size=40))
def test_any_rpc_listen_value_gives_a_url_or_a_typed_error(listen: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "node.toml").write_text(f"[rpc]\nlisten = {json.dumps(listen)}\n", encoding="utf-8")
        try:
            url = wallet_cli._rpc_url_of(Path(folder))
        except WalletCliError:
            return
        assert url.startswith("http://") and url.endswith("/")


async def test_a_restored_wallet_sees_its_genesis_coins_and_pays_from_them(tmp_path: Path) -> None:
    # As on a devnet: restore the mnemonic its genesis funds (LocalChain's first account), pay.
    async with a_node(tmp_path) as node:
        words = tmp_path / "words"
        words.write_text(TEST_MNEMONIC + "\n")
        rich = Alice(tmp_path, node, name="rich")
        restored = await rich.run("restore", "--network", "devnet", "--fast-kdf", "--mnemonic-file", str(words), node=False)
        assert restored.code == 0, restored.err
        balance = (await rich.run("balance", "--json")).json()
        assert coins(balance["confirmed"]) == ACCOUNT_BALANCE
        sent = await rich.run("send", BOB, "12.5", "--wait", "final", "--json")
        assert sent.code == 0, sent.err
        history = (await rich.run("history", "--json")).json()
        genesis, payment = history
        assert (genesis["height"], genesis["reward"], coins(genesis["received"])) == (0, True, ACCOUNT_BALANCE)
        assert payment["txid"] == sent.json()["txid"] and payment["status"] == "final"
        table = await rich.run("history")
        assert "(genesis)" in table.out


class _ScriptedNode:
    """Answers each method from a table (a callable of the params, or a value)."""

    url = "http://127.0.0.1:1/"

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    def call(self, method: str, *params: object) -> object:
        answer = self.answers[method]
        return answer(*params) if callable(answer) else answer

    def batch(self, calls: list[tuple[str, list[object]]]) -> list[object]:
        return [self.call(method, *params) for method, params in calls]


def test_blocks_that_do_not_decode_or_link_up_are_refused() -> None:
    chain = LocalChain()
    chain.produce_blocks(2)
    real = {h: chain.block(h) for h in range(3)}

    def honest(height: int, verbosity: int) -> str:
        block = real[height]
        assert block is not None
        return block.to_bytes().hex()

    blocks = wallet_cli._NodeBlocks(_ScriptedNode({"getblockcount": 2, "getblock": honest}))  # type: ignore[arg-type]
    blocks.load()
    applied = blocks.applied(2)
    assert applied is not None and applied.block == real[2]
    for getblock, message in (
        (lambda h, v: "zz", "block 0"),
        (lambda h, v: 5, "not a hex string"),
        (lambda h, v: honest(0 if h == 2 else h, v), "does not extend"),  # genesis again at height 2
        (lambda h, v: honest(2 - h, v), "does not extend"),  # heights swapped
    ):
        with pytest.raises(WalletCliError, match=message):
            wallet_cli._NodeBlocks(_ScriptedNode({"getblockcount": 2, "getblock": getblock})).load()  # type: ignore[arg-type]
    with pytest.raises(WalletCliError, match="getblockcount"):
        wallet_cli._NodeBlocks(_ScriptedNode({"getblockcount": -1}))  # type: ignore[arg-type]


def test_a_transaction_that_is_not_the_one_asked_for_is_refused() -> None:
    chain = LocalChain()
    sender = chain.accounts[0]
    tx = sender.wallet.create_transaction(BOB, coins("1"), None, chain.node.pool.utxos).transaction
    lookup = wallet_cli._NodeTransactions(_ScriptedNode({"getrawtransaction": tx.to_bytes().hex()}))  # type: ignore[arg-type]
    assert lookup.transaction(tx.txid) == tx
    with pytest.raises(WalletCliError, match="asked for"):
        lookup.transaction(bytes(32))


async def test_the_txid_is_printed_even_when_waiting_fails(tmp_path: Path) -> None:
    class Forgetful(LocalChainBackend):
        async def waitfortxstatus(self, params: WaitForTxStatusParams) -> TxStatusInfo:
            raise NotFoundError("no such transaction (the node restarted?)")

    async with a_node(tmp_path, Forgetful(LocalChain())) as node:
        alice = Alice(tmp_path, node)
        assert (await alice.run("create", "--network", "devnet", "--fast-kdf", node=False)).code == 0
        node.chain.fund(Keystore.load(alice.path).addresses[0], coins("3"))
        node.backend.refresh()
        sent = await alice.run("send", BOB, "1", "--wait", "final", "--json")
        assert sent.code == 1 and "took the transaction" in sent.err and "code -5" in sent.err
        assert sent.json()["status"] == "submitted"
        assert node.chain.receipt(bytes.fromhex(sent.json()["txid"])).status.value == "final"
        plain = await alice.run("send", BOB, "1")  # no wait: the status right after submission
        assert plain.code == 0 and plain.out.splitlines()[1].endswith("status final")
