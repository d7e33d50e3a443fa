"""node.toml and the datadir: strict validation, clear errors, keys kept private."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timecoin_core.keys import PrivateKey
from timecoin_core.network import DEVNET
from timecoin_core.store._network import network_to_json
from timecoin_net import DatadirError, Endpoint, NodeConfig, init_datadir, load_datadir
from timecoin_net.config import (
    dump_node_toml,
    parse_endpoint,
    parse_node_toml,
    read_key,
    write_key,
)

# -- endpoints -------------------------------------------------------------------------------

ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
hostname = st.lists(label, min_size=1, max_size=4).map(".".join)
hosts = st.one_of(ipv4, ipv6, hostname)
ports = st.integers(1, 65535)
endpoints = st.builds(Endpoint, hosts, ports)


@given(endpoints)
def test_endpoint_round_trips_through_its_string(endpoint: Endpoint) -> None:
    assert parse_endpoint(str(endpoint)) == endpoint


@given(st.text(max_size=40))
def test_any_text_is_an_endpoint_or_a_value_error(text: str) -> None:
    try:
        endpoint = parse_endpoint(text)
    except ValueError as exc:
        assert str(exc)
    else:
        assert 1 <= endpoint.port <= 65535


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("127.0.0.1", "HOST:PORT"),
        (":24300", "HOST:PORT"),
        ("127.0.0.1:0", "1..65535"),
        ("127.0.0.1:65536", "1..65535"),
        ("127.0.0.1:-1", "port"),
        ("127.0.0.1:\uff11\uff12", "port"),  # fullwidth digits
        ("::1:24300", "brackets"),
        ("[::1:24300", "brackets"),
        ("[1.2.3.4]:5", "IPv6"),
        ("bad_host!:5", "neither"),
    ],
)
def test_malformed_endpoints_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_endpoint(text)


def test_listen_may_use_port_zero_and_peers_may_not() -> None:
    assert parse_endpoint("127.0.0.1:0", allow_port_zero=True).port == 0
    assert parse_node_toml('network = "devnet"\nlisten = "127.0.0.1:0"\n').listen == Endpoint("127.0.0.1", 0)
    with pytest.raises(DatadirError, match=r"peers\.0: .*1\.\.65535"):
        parse_node_toml('network = "devnet"\npeers = ["127.0.0.1:0"]\n')


# -- node.toml -------------------------------------------------------------------------------

runtime_values = st.one_of(
    st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20)
)
configs = st.builds(
    NodeConfig,
    network=st.sampled_from(["mainnet", "testnet", "devnet"]),
    listen=st.none() | st.builds(Endpoint, hosts, st.integers(0, 65535)),
    peers=st.lists(endpoints, max_size=5).map(tuple),
    log_level=st.sampled_from(["debug", "info", "warning", "error"]),
    runtime=st.dictionaries(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), runtime_values, max_size=4),
)


@given(configs)
def test_node_toml_round_trips(config: NodeConfig) -> None:
    text = dump_node_toml(config)
    assert parse_node_toml(text) == config


@given(st.text(max_size=200))
def test_any_text_is_a_config_or_a_datadir_error(text: str) -> None:
    try:
        parse_node_toml(text)
    except DatadirError as exc:
        assert str(exc).startswith("node.toml: ")
        assert "\n" not in str(exc).rstrip()


toml_scalars = st.one_of(
    st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False), st.text(max_size=10),
    st.lists(st.integers(), max_size=3), st.lists(st.text(max_size=5), max_size=3),
)


def _dump_value(value: object) -> str:
    from timecoin_net.config import _toml_value

    return _toml_value(value) if not (isinstance(value, float) and value in (float("inf"), float("-inf"))) else (
        "inf" if value > 0 else "-inf"
    )


@settings(max_examples=200)
@given(
    key=st.sampled_from(["network", "genesis", "listen", "peers", "log_level", "rpc", "metrics", "runtime", "peer", "port"]),
    value=toml_scalars,
)
def test_wrong_values_for_any_key_are_datadir_errors(key: str, value: object) -> None:
    base = {"network": '"devnet"'}
    base[key] = _dump_value(value)
    text = "\n".join(f"{k} = {v}" for k, v in base.items()) + "\n"
    assert tomllib.loads(text)  # valid TOML: the error, if any, is about values
    try:
        config = parse_node_toml(text)
    except DatadirError as exc:
        assert key in str(exc) or "network" in str(exc)
    else:
        # Only values that really fit the schema are accepted.
        assert key in {"network", "genesis", "listen", "peers", "log_level"}
        if key == "peers":
            assert value == []
        if key == "genesis":
            assert config.genesis == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('network = "devnet"\npeer = ["127.0.0.1:1"]\n', "peer: unknown key"),
        ('network = "devnet"\n[rpc]\nlisten = "127.0.0.1:1"\nallowed = []\n', "rpc.allowed: unknown key"),
        ("listen = \"127.0.0.1:1\"\n", "network: required key missing"),
        ('network = "regtest"\n', "not built in"),
        ('network = "devnet"\nlog_level = "trace"\n', "log_level"),
        ('network = "devnet"\nlisten = 24300\n', "listen: expected a \"HOST:PORT\" string"),
        ('network = "devnet"\npeers = "127.0.0.1:1"\n', "peers: must be an array"),
        ('network = "devnet"\nrpc = 1\n', "rpc: must be a table"),
        ('network = "devnet"\n[rpc]\nlisten = "0.0.0.0:24301"\n', "rpc.allow"),
        ('network = "devnet"\n[rpc]\nlisten = "0.0.0.0:24301"\nallow = ["10.0.0.0/33"]\n', "not an IP address or network"),
        ('network = "devnet"\n[runtime]\nx = [1]\n', "runtime.x: must be a boolean, a number or a string"),
        ('network = "devnet"\n[metrics]\nlisten = "0.0.0.0:24302"\n', "metrics.allow"),
        ('network = "devnet"\n[rpc]\nrpcauth = ["alice"]\n', "is not user:salt$hash"),
        ('network = "devnet"\n[runtime]\nx = nan\n', "finite"),
        ('network = "devnet"\nnetwork = "devnet"\n', "not valid TOML"),
    ],
)
def test_config_errors_name_the_key_and_the_problem(text: str, message: str) -> None:
    with pytest.raises(DatadirError) as info:
        parse_node_toml(text, "/x/node.toml")
    assert str(info.value).startswith("/x/node.toml: ")
    assert message in str(info.value)


def test_rpc_may_bind_elsewhere_with_an_allow_list() -> None:
    config = parse_node_toml('network = "devnet"\n[rpc]\nlisten = "0.0.0.0:24301"\nallow = ["10.0.0.0/8", "::1"]\n')
    assert str(config.rpc_endpoint()) == "0.0.0.0:24301"
    assert [str(n) for n in config.rpc.allow] == ["10.0.0.0/8", "::1/128"]


def test_default_endpoints_follow_the_network() -> None:
    config = NodeConfig(network="testnet")
    assert str(config.p2p_endpoint()) == "127.0.0.1:24200"
    assert str(config.rpc_endpoint()) == "127.0.0.1:24201"
    assert str(config.metrics_endpoint()) == "127.0.0.1:24202"


def test_strings_needing_escapes_survive_the_emitter() -> None:
    config = NodeConfig(network="devnet", runtime={"s": 'a"b\\c\n\x7f\x00é😀'})
    assert parse_node_toml(dump_node_toml(config)) == config


# -- keys ------------------------------------------------------------------------------------


def test_key_files_are_created_private_and_read_back(tmp_path: Path) -> None:
    key = PrivateKey.from_seed(bytes(range(32)))
    os.umask(0o022)
    write_key(tmp_path / "k", key)
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600
    assert read_key(tmp_path / "k") == key
    with pytest.raises(DatadirError, match="already exists"):
        write_key(tmp_path / "k", PrivateKey.generate())
    assert read_key(tmp_path / "k") == key


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o666])
def test_keys_readable_by_group_or_others_are_refused(tmp_path: Path, mode: int) -> None:
    write_key(tmp_path / "k", PrivateKey.generate())
    os.chmod(tmp_path / "k", mode)
    with pytest.raises(DatadirError, match=f"permissions {mode:04o} are too open.*chmod 600"):
        read_key(tmp_path / "k")


@pytest.mark.parametrize(
    "content",
    [b"", b"00" * 31 + b"\n", b"zz" * 32 + b"\n", b"00" * 33, b"\xff" * 64, b"00" * 32 + b"\n00\n"],
)
def test_malformed_keys_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "k"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(DatadirError, match="malformed key file"):
        read_key(path)


def test_missing_key_and_a_directory_for_a_key(tmp_path: Path) -> None:
    with pytest.raises(DatadirError, match="key file missing"):
        read_key(tmp_path / "nope")
    (tmp_path / "dir").mkdir(mode=0o700)
    with pytest.raises(DatadirError, match="not a regular file"):
        read_key(tmp_path / "dir")


# -- the datadir -----------------------------------------------------------------------------


def test_init_then_load(tmp_path: Path) -> None:
    mn = PrivateKey.generate()
    config = NodeConfig(network="devnet", peers=(Endpoint("127.0.0.1", 24303),))
    created = init_datadir(tmp_path / "d", config, masternode_key=mn)
    loaded = load_datadir(tmp_path / "d")
    assert loaded == created
    assert loaded.config == config
    assert loaded.network == DEVNET
    assert loaded.masternode_key == mn
    assert loaded.store_path == (tmp_path / "d").resolve() / "chain.sqlite"
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o700
    for name in ("node.key", "masternode.key"):
        assert stat.S_IMODE((tmp_path / "d" / name).stat().st_mode) == 0o600
    with pytest.raises(DatadirError, match="already exists"):
        init_datadir(tmp_path / "d", config)
    assert load_datadir(tmp_path / "d").identity == created.identity  # nothing replaced


def test_a_genesis_file_defines_the_network(tmp_path: Path) -> None:
    from dataclasses import replace

    network = replace(DEVNET, genesis_timestamp=1_800_000_000)
    config = NodeConfig(network="devnet", genesis="genesis.json")
    init_datadir(tmp_path / "d", config, genesis=network)
    assert load_datadir(tmp_path / "d").network == network


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: None, "no such datadir"),
        (lambda d: d.write_text("x"), "is not a directory"),
        (lambda d: d.mkdir(), "node.toml: missing"),
        (lambda d: (d.mkdir(), (d / "node.toml").write_text("network = ")), "not valid TOML"),
        (lambda d: (d.mkdir(), (d / "node.toml").write_bytes(b"\xff\xfe")), "not UTF-8"),
        (lambda d: (d.mkdir(), (d / "node.toml").mkdir()), "is a directory"),
        (lambda d: (d.mkdir(), (d / "node.toml").write_text('network = "devnet"\n')), "node.key: key file missing"),
        (
            lambda d: (d.mkdir(), (d / "node.toml").write_text('network = "devnet"\ngenesis = "g.json"\n')),
            "g.json: genesis file missing",
        ),
        (
            lambda d: (d.mkdir(), (d / "node.toml").write_text('network = "devnet"\ngenesis = "g.json"\n'),
                       (d / "g.json").write_text("{}")),
            "g.json: network parameters are malformed",
        ),
        (
            lambda d: (d.mkdir(), (d / "node.toml").write_text('network = "devnet"\ngenesis = "g.json"\n'),
                       (d / "g.json").write_text("[1]")),
            "g.json: network parameters are not a JSON object",
        ),
        (
            lambda d: (d.mkdir(), (d / "node.toml").write_text('network = "other"\ngenesis = "g.json"\n'),
                       (d / "g.json").write_text(network_to_json(DEVNET))),
            "defines network 'devnet', but node.toml says network = 'other'",
        ),
    ],
)
def test_datadir_errors_are_clear(tmp_path: Path, setup: object, message: str) -> None:
    d = tmp_path / "d"
    setup(d)  # type: ignore[operator]
    with pytest.raises(DatadirError) as info:
        load_datadir(d)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_world_readable_masternode_key_stops_the_load(tmp_path: Path) -> None:
    init_datadir(tmp_path / "d", NodeConfig(network="devnet"), masternode_key=PrivateKey.generate())
    (tmp_path / "d" / "masternode.key").chmod(0o644)
    with pytest.raises(DatadirError, match=r"masternode\.key: permissions 0644 are too open"):
        load_datadir(tmp_path / "d")
