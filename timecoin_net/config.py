"""A node's datadir: its configuration (``node.toml``), network, keys and store.

Theory of operation
-------------------
A datadir is a directory that holds everything one node needs to start::

    DIR/node.toml        NodeConfig, read with tomllib and validated by pydantic
    DIR/genesis.json     optional: every network parameter (a devnet's genesis)
    DIR/node.key         the node's identity key (hex Ed25519 seed, mode 0600)
    DIR/masternode.key   the masternode operator key, only on a masternode (0600)
    DIR/chain.sqlite     the SqliteStore (created by the node on first start)
    DIR/status.json      what the running node reports (height, peers, ...); see cli

:func:`load_datadir` reads and checks all of it before anything runs, so a node either
starts with a configuration that is valid as a whole or does not start at all: every
problem is a :class:`DatadirError` whose message names the file and says what is wrong
and, where there is one, what to do. Nothing is created or repaired on load.

The configuration is strict in the way operators need it to be: an unknown key (a
typo such as ``peer =`` for ``peers =``) is refused rather than ignored, values are not
coerced between types, ports are range checked and addresses parsed when the file is
read, not when a socket is first opened. Keys are refused when the group or others may
read them, as ssh refuses a private key with such a mode: a key that leaked once is
not a secret any more, however it is protected afterwards.

:func:`write_node_toml` writes the configuration back with a small emitter for this
fixed schema (strings, integers, floats, booleans, string arrays and one level of
tables): a general TOML writer would be a new dependency for forty lines.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import math
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    model_validator,
)

from timecoin_core._files import place_new, sync_directory
from timecoin_core.errors import InvalidKeyError, TimecoinError
from timecoin_core.keys import PrivateKey
from timecoin_core.network import NETWORKS, Network
from timecoin_core.store._network import network_from_json, network_to_json
from timecoin_core.store.errors import CorruptStoreError

__all__ = [
    "CONFIG_FILE",
    "DEFAULT_PORTS",
    "GENESIS_FILE",
    "IDENTITY_KEY_FILE",
    "MASTERNODE_KEY_FILE",
    "STORE_FILE",
    "ConfigValueError",
    "Datadir",
    "DatadirError",
    "Endpoint",
    "MetricsConfig",
    "NodeConfig",
    "RpcConfig",
    "describe_validation_error",
    "dump_node_toml",
    "genesis_json",
    "init_datadir",
    "load_datadir",
    "parse_endpoint",
    "parse_node_toml",
    "read_key",
    "write_key",
    "write_node_toml",
]

CONFIG_FILE: Final = "node.toml"
GENESIS_FILE: Final = "genesis.json"
IDENTITY_KEY_FILE: Final = "node.key"
MASTERNODE_KEY_FILE: Final = "masternode.key"
STORE_FILE: Final = "chain.sqlite"

DEFAULT_PORTS: Final[Mapping[str, tuple[int, int, int]]] = {
    "mainnet": (24100, 24101, 24102),
    "testnet": (24200, 24201, 24202),
    "devnet": (24300, 24301, 24302),
}
"""(p2p, rpc, metrics) ports a node listens on when node.toml names none, per network.
A custom network (named by a genesis.json) uses devnet's."""

_MAX_CONFIG_SIZE: Final = 1 << 20
_MAX_GENESIS_SIZE: Final = 64 << 20
_KEY_RE: Final = re.compile(r"[0-9a-fA-F]{64}")
_HOSTNAME_RE: Final = re.compile(r"(?=.{1,253}\Z)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?")
_NETWORK_NAME_RE: Final = re.compile(r"[a-z][a-z0-9_-]{0,31}")


class DatadirError(TimecoinError, ValueError):
    """A datadir, its configuration, genesis or a key that is missing or malformed.

    ``path`` is the file or directory at fault; the message names it and says what is
    wrong, in one line fit to show an operator.
    """

    def __init__(self, path: str | os.PathLike[str], message: str) -> None:
        super().__init__(f"{os.fspath(path)}: {message}")
        self.path = os.fspath(path)
        self.message = message

    def __reduce__(self) -> tuple[type[DatadirError], tuple[str, str]]:
        return (type(self), (self.path, self.message))


class ConfigValueError(TimecoinError, ValueError):
    """A malformed or out-of-range configuration value: an address, a port, a network name.

    :func:`parse_endpoint` raises it; inside :class:`NodeConfig` validation it becomes
    part of the :class:`DatadirError` that names the key.
    """


# -- addresses ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A ``HOST:PORT`` address: an IPv4 or IPv6 literal or a DNS name, and a port.

    ``str()`` gives the form :func:`parse_endpoint` reads (IPv6 in brackets).
    """

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        """True for ``localhost`` and loopback literals (127.0.0.0/8, ::1)."""
        if self.host.rstrip(".").lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def as_tuple(self) -> tuple[str, int]:
        """``(host, port)``, the shape sockets and :class:`timecoin_net.Node` take."""
        return (self.host, self.port)


def parse_endpoint(text: object, *, allow_port_zero: bool = False) -> Endpoint:
    """The :class:`Endpoint` ``text`` names (``"127.0.0.1:24300"``, ``"[::1]:24300"``, ``"seed.example:24100"``).

    Port 0 (any free port) is accepted only with ``allow_port_zero``, which makes sense
    for a listen address and never for a peer. Raises :class:`ConfigValueError` (a
    ``ValueError``) with the reason.
    """
    if not isinstance(text, str):
        raise ConfigValueError(f"expected a \"HOST:PORT\" string, not {type(text).__name__}")
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ConfigValueError(f"{text!r} is not HOST:PORT")
    if host.startswith("["):
        if not host.endswith("]"):
            raise ConfigValueError(f"{text!r}: unbalanced brackets around the IPv6 address")
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ConfigValueError(f"{text!r}: {host!r} is not an IPv6 address") from None
    elif ":" in host:
        raise ConfigValueError(f"{text!r}: write an IPv6 address in brackets, as [::1]:24300")
    elif not _is_ipv4(host) and not _HOSTNAME_RE.fullmatch(host):
        raise ConfigValueError(f"{text!r}: {host!r} is neither an IP address nor a host name")
    if not port_text.isascii() or not port_text.isdigit() or len(port_text) > 5:
        raise ConfigValueError(f"{text!r}: the port must be a number in 1..65535")
    port = int(port_text)
    if not (0 if allow_port_zero else 1) <= port <= 65535:
        low = 0 if allow_port_zero else 1
        raise ConfigValueError(f"{text!r}: the port must be in {low}..65535")
    return Endpoint(host, port)


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def _listen(value: object) -> Endpoint:
    return value if isinstance(value, Endpoint) else parse_endpoint(value, allow_port_zero=True)


def _peer(value: object) -> Endpoint:
    return value if isinstance(value, Endpoint) else parse_endpoint(value)


def _network(value: object) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return value
    if not isinstance(value, str):
        raise ConfigValueError(f"expected an address or network string such as \"10.0.0.0/8\", not {type(value).__name__}")
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ConfigValueError(f"{value!r} is not an IP address or network (such as \"10.0.0.0/8\")") from None


ListenAddress = Annotated[Endpoint, PlainValidator(_listen), PlainSerializer(str, return_type=str)]
PeerAddress = Annotated[Endpoint, PlainValidator(_peer), PlainSerializer(str, return_type=str)]
AllowedNetwork = Annotated[
    ipaddress.IPv4Network | ipaddress.IPv6Network, PlainValidator(_network), PlainSerializer(str, return_type=str)
]


# -- the configuration ----------------------------------------------------------------------

_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)


class RpcConfig(BaseModel):
    """``[rpc]``: where JSON-RPC listens and who may reach it.

    ``listen`` defaults to 127.0.0.1 on the network's RPC port. A non-loopback
    ``listen`` is refused unless ``allow`` lists the client networks (CIDR) that may
    connect: an RPC port open to the world by accident is how nodes get robbed.
    """

    model_config = _STRICT

    listen: ListenAddress | None = None
    # TOML arrays arrive as lists: strict mode would refuse them as tuples.
    allow: tuple[AllowedNetwork, ...] = Field(default=(), max_length=1000, strict=False)
    rpcauth: tuple[str, ...] = Field(default=(), max_length=1000, strict=False)
    """bitcoind-style ``user:salt$hash`` password entries, besides the cookie."""

    @model_validator(mode="after")
    def _loopback_unless_allowed(self) -> RpcConfig:
        _check_allowed("rpc", self.listen, self.allow)
        for entry in self.rpcauth:
            user, colon, rest = entry.partition(":")
            if not user or not colon or "$" not in rest:
                raise ConfigValueError(f"rpcauth entry {entry[:40]!r} is not user:salt$hash")
        return self


def _check_allowed(table: str, listen: Endpoint | None, allow: tuple[object, ...]) -> None:
    if listen is not None and not listen.is_loopback and not allow:
        raise ConfigValueError(
            f"listen {str(listen)!r} is not a loopback address: list the client networks "
            f"that may connect in {table}.allow (e.g. allow = [\"10.0.0.0/8\"])"
        )


class MetricsConfig(BaseModel):
    """``[metrics]``: where the Prometheus endpoint listens (127.0.0.1 on the metrics port by default).

    As for RPC, a non-loopback ``listen`` needs ``allow``, the client networks admitted.
    """

    model_config = _STRICT

    listen: ListenAddress | None = None
    allow: tuple[AllowedNetwork, ...] = Field(default=(), max_length=1000, strict=False)

    @model_validator(mode="after")
    def _loopback_unless_allowed(self) -> MetricsConfig:
        _check_allowed("metrics", self.listen, self.allow)
        return self


RuntimeValue = bool | int | float | str


class NodeConfig(BaseModel):
    """The contents of ``node.toml``, validated as a whole when constructed.

    ``network`` is a built-in network's name, or the name inside the file ``genesis``
    names (a path relative to the datadir). ``listen`` is the p2p address (default
    127.0.0.1 on the network's port: set ``"0.0.0.0:PORT"`` to accept peers from other
    machines); ``peers`` are dialled at start. ``runtime`` holds
    :class:`timecoin_net.RuntimeSettings` fields (timeouts, slots, queue sizes), checked
    against that model when the node is built.
    """

    model_config = _STRICT

    network: str
    genesis: str | None = None
    listen: ListenAddress | None = None
    peers: tuple[PeerAddress, ...] = Field(default=(), max_length=1000, strict=False)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    rpc: RpcConfig = RpcConfig()
    metrics: MetricsConfig = MetricsConfig()
    runtime: dict[str, RuntimeValue] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> NodeConfig:
        if not _NETWORK_NAME_RE.fullmatch(self.network):
            raise ConfigValueError(f"network {self.network!r} is not a network name (lowercase letters, digits, - and _)")
        if self.genesis is None and self.network not in NETWORKS:
            raise ConfigValueError(
                f"network {self.network!r} is not built in (known: {', '.join(NETWORKS)}); "
                "a custom network needs genesis = \"genesis.json\""
            )
        if self.genesis is not None and (not self.genesis or "\x00" in self.genesis):
            raise ConfigValueError("genesis must be a file name or path")
        for name, value in self.runtime.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigValueError(f"runtime.{name} must be a finite number")
        return self

    def _ports(self) -> tuple[int, int, int]:
        return DEFAULT_PORTS.get(self.network, DEFAULT_PORTS["devnet"])

    def p2p_endpoint(self) -> Endpoint:
        """The p2p listen address: ``listen``, or 127.0.0.1 on the network's default port."""
        return self.listen or Endpoint("127.0.0.1", self._ports()[0])

    def rpc_endpoint(self) -> Endpoint:
        """The RPC listen address: ``rpc.listen``, or 127.0.0.1 on the network's default RPC port."""
        return self.rpc.listen or Endpoint("127.0.0.1", self._ports()[1])

    def metrics_endpoint(self) -> Endpoint:
        """The metrics listen address: ``metrics.listen``, or 127.0.0.1 on the network's default metrics port."""
        return self.metrics.listen or Endpoint("127.0.0.1", self._ports()[2])


def describe_validation_error(exc: ValidationError, prefix: tuple[str, ...] = ()) -> str:
    """One line for an operator from a pydantic error: ``KEY: what is wrong; ...`` (keys under ``prefix``)."""
    parts: list[str] = []
    for error in exc.errors(include_url=False):
        loc = [*prefix, *(str(p) for p in error["loc"] if p not in ("function-after", "function-plain"))]
        message = str(error["msg"]).removeprefix("Value error, ")
        if loc[:1] == ["runtime"] and len(loc) > 2 and not prefix:
            # One line for a runtime value, not one per member of the union it failed.
            loc, message = loc[:2], "must be a boolean, a number or a string"
        elif error["type"] == "extra_forbidden":
            message = "unknown key (misspelt?)"
        elif error["type"] == "missing":
            message = "required key missing"
        elif error["type"] in ("model_type", "dict_type"):
            message = "must be a table"
        elif error["type"] in ("tuple_type", "list_type"):
            message = "must be an array"
        where = ".".join(loc)
        line = f"{where}: {message}" if where else message
        if line not in parts:
            parts.append(line)
    return "; ".join(parts)


def parse_node_toml(text: str, path: str | os.PathLike[str] = CONFIG_FILE) -> NodeConfig:
    """The :class:`NodeConfig` in the TOML ``text``; :class:`DatadirError` naming ``path`` if it is not one."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DatadirError(path, f"not valid TOML: {exc}") from None
    try:
        return NodeConfig.model_validate(data)
    except ValidationError as exc:
        raise DatadirError(path, describe_validation_error(exc)) from None


# -- writing node.toml ----------------------------------------------------------------------


def _toml_string(text: str) -> str:
    # TOML basic strings: escape quote, backslash and every control character (DEL too).
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_string(key)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DatadirError(CONFIG_FILE, "cannot write a non-finite number")
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise DatadirError(CONFIG_FILE, f"cannot write a {type(value).__name__} to TOML")


def dump_node_toml(config: NodeConfig) -> str:
    """``config`` as TOML text that :func:`parse_node_toml` reads back to an equal config."""
    data = config.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    lines = ["# Timecoin node configuration: docs/node.md describes every key."]
    tables: list[tuple[str, dict[str, Any]]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for name, table in tables:
        if not table:
            continue
        lines.append("")
        lines.append(f"[{_toml_key(name)}]")
        lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items())
    return "\n".join(lines) + "\n"


def write_node_toml(path: str | os.PathLike[str], config: NodeConfig, *, overwrite: bool = False) -> None:
    """Write ``config`` to ``path`` atomically; an existing file is kept unless ``overwrite``."""
    _write_file(Path(path), dump_node_toml(config).encode(), mode=0o644, overwrite=overwrite)


def _write_file(path: Path, data: bytes, *, mode: int, overwrite: bool) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), mode)
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)  # the umask must not widen nor narrow it
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(temporary, path)
        elif not place_new(temporary, path):
            raise DatadirError(path, "already exists; it was left as it is")
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    sync_directory(path.parent)


# -- keys -------------------------------------------------------------------------------------


def write_key(path: str | os.PathLike[str], key: PrivateKey) -> None:
    """Write ``key``'s seed (64 hex digits and a newline) to a new file of mode 0600.

    An existing file is never replaced: :class:`DatadirError`.
    """
    _write_file(Path(path), (key.to_seed().hex() + "\n").encode(), mode=0o600, overwrite=False)


def read_key(path: str | os.PathLike[str]) -> PrivateKey:
    """The key in ``path`` as :func:`write_key` wrote it.

    :class:`DatadirError` if the file is missing, readable by group or others (like
    ssh, the key is refused until ``chmod 600``), or not 64 hex digits.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise DatadirError(path, "key file missing") from None
    except OSError as exc:
        raise DatadirError(path, f"cannot open the key file: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DatadirError(path, "is not a regular file")
        if os.name == "posix" and info.st_mode & 0o077:
            raise DatadirError(
                path,
                f"permissions {stat.S_IMODE(info.st_mode):04o} are too open: a private key must be readable "
                f"by its owner only (chmod 600 {path})",
            )
        raw = os.read(fd, 200)
    finally:
        os.close(fd)
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        text = ""
    if not _KEY_RE.fullmatch(text):
        raise DatadirError(path, "malformed key file: expected one line of 64 hex digits (an Ed25519 seed)")
    try:
        return PrivateKey.from_seed(bytes.fromhex(text))
    except InvalidKeyError as exc:  # pragma: no cover - every 32-byte seed is a key
        raise DatadirError(path, f"not a key: {exc}") from None


# -- the datadir ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Datadir:
    """Everything :func:`load_datadir` read from one datadir, checked."""

    path: Path
    config: NodeConfig
    network: Network
    identity: PrivateKey
    """The node's persistent identity key (``node.key``)."""
    masternode_key: PrivateKey | None
    """The operator key (``masternode.key``) when this node is a masternode, else None."""

    @property
    def store_path(self) -> Path:
        """Where the node's SqliteStore lives (``chain.sqlite``)."""
        return self.path / STORE_FILE


def _read_text(path: Path, limit: int, what: str) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise DatadirError(path, f"{what} missing") from None
    except IsADirectoryError:
        raise DatadirError(path, f"{what} is a directory, not a file") from None
    except OSError as exc:
        raise DatadirError(path, f"cannot read the {what}: {exc.strerror}") from None
    if len(data) > limit:
        raise DatadirError(path, f"{what} is larger than {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatadirError(path, f"{what} is not UTF-8 text (byte {exc.start})") from None


def _load_network(root: Path, config: NodeConfig) -> Network:
    if config.genesis is None:
        return Network.by_name(config.network)
    path = root / config.genesis
    text = _read_text(path, _MAX_GENESIS_SIZE, "genesis file")
    try:
        network = network_from_json(text)
    except CorruptStoreError as exc:
        message = str(exc).replace("stored network parameters", "network parameters")
        raise DatadirError(path, message) from None
    if network.name != config.network:
        raise DatadirError(path, f"defines network {network.name!r}, but node.toml says network = {config.network!r}")
    return network


def load_datadir(path: str | os.PathLike[str]) -> Datadir:
    """Read and check the datadir at ``path``: configuration, network, keys.

    Raises :class:`DatadirError` with a message fit for an operator when the directory,
    ``node.toml``, the genesis file or a key is missing or malformed. Creates nothing.
    """
    root = Path(path)
    if not root.exists():
        raise DatadirError(root, f"no such datadir (create one with: timecoin node init --datadir {root})")
    if not root.is_dir():
        raise DatadirError(root, "is not a directory")
    config_path = root / CONFIG_FILE
    if not config_path.exists():
        raise DatadirError(config_path, f"missing: {root} is not a datadir (create one with: timecoin node init --datadir {root})")
    config = parse_node_toml(_read_text(config_path, _MAX_CONFIG_SIZE, "configuration"), config_path)
    network = _load_network(root, config)
    identity = read_key(root / IDENTITY_KEY_FILE)
    masternode_path = root / MASTERNODE_KEY_FILE
    masternode_key = read_key(masternode_path) if masternode_path.exists() or masternode_path.is_symlink() else None
    return Datadir(root.resolve(), config, network, identity, masternode_key)


def init_datadir(
    path: str | os.PathLike[str],
    config: NodeConfig,
    *,
    genesis: Network | None = None,
    identity: PrivateKey | None = None,
    masternode_key: PrivateKey | None = None,
) -> Datadir:
    """Create a datadir at ``path`` (mode 0700) and return it as :func:`load_datadir` reads it.

    Writes ``node.toml``, ``genesis.json`` when ``genesis`` is given (``config.genesis``
    must then name it), ``node.key`` (``identity``, or a fresh key) and
    ``masternode.key`` when ``masternode_key`` is given. Refuses (:class:`DatadirError`)
    a path holding a ``node.toml`` already, and never replaces a key.
    """
    root = Path(path)
    if root.exists() and not root.is_dir():
        raise DatadirError(root, "exists and is not a directory")
    if (root / CONFIG_FILE).exists():
        raise DatadirError(root / CONFIG_FILE, "already exists: this datadir is initialised (nothing was changed)")
    if genesis is not None:
        if config.genesis is None:
            raise DatadirError(root / CONFIG_FILE, "a genesis was given but node.toml names no genesis file")
        if genesis.name != config.network:
            raise DatadirError(root / CONFIG_FILE, f"genesis is for {genesis.name!r}, config for {config.network!r}")
    elif config.genesis is not None:
        raise DatadirError(root / CONFIG_FILE, f"names genesis {config.genesis!r} but no genesis was given")
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        if genesis is not None:
            assert config.genesis is not None
            _write_file(root / config.genesis, genesis_json(genesis).encode(), mode=0o644, overwrite=True)
        if not (root / IDENTITY_KEY_FILE).exists():
            write_key(root / IDENTITY_KEY_FILE, identity or PrivateKey.generate())
        if masternode_key is not None:
            write_key(root / MASTERNODE_KEY_FILE, masternode_key)
        # node.toml last: its presence is what marks a datadir as complete.
        write_node_toml(root / CONFIG_FILE, config)
    except OSError as exc:
        raise DatadirError(exc.filename or root, f"cannot create the datadir: {exc.strerror}") from None
    return load_datadir(root)


def genesis_json(network: Network) -> str:
    """``network``'s parameters as the JSON a datadir's genesis file holds (pretty-printed)."""
    return json.dumps(json.loads(network_to_json(network)), indent=2, sort_keys=True) + "\n"
