"""Network parameters as JSON, so a store knows its network without being told.

The check tool opens a store with nothing but its path, and must still rebuild the
registry and verify signatures: that needs every parameter, not only the name (a
LocalChain's devnet has its own genesis outputs and masternodes).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from ..network import GenesisMasternode, GenesisOutput, Network, NetworkError, Tier
from .errors import CorruptStoreError

_FIELDS = {f.name: f for f in dataclasses.fields(Network)}


def _encode_value(name: str, value: object) -> object:
    if isinstance(value, bytes):
        return value.hex()
    if name == "genesis_outputs":
        return [[o.payload.hex(), o.amount] for o in value]  # type: ignore[attr-defined]
    if name == "genesis_masternodes":
        return [[m.operator.hex(), m.collateral_index] for m in value]  # type: ignore[attr-defined]
    if isinstance(value, dict):
        return {Tier(k).name: v for k, v in value.items()}
    return value


def network_to_json(network: Network) -> str:
    """Every parameter of ``network`` as canonical JSON (sorted keys, no spaces)."""
    data = {name: _encode_value(name, getattr(network, name)) for name in _FIELDS}
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def network_from_json(text: str) -> Network:
    """The :class:`Network` :func:`network_to_json` encoded; :class:`CorruptStoreError` if malformed."""
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise CorruptStoreError("stored network parameters are not a JSON object")
        unknown = set(data) - set(_FIELDS)
        if unknown:
            raise CorruptStoreError(f"store names unknown network parameters {sorted(unknown)}")
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            if name == "magic":
                kwargs[name] = bytes.fromhex(value)
            elif name == "genesis_outputs":
                kwargs[name] = tuple(GenesisOutput(bytes.fromhex(p), a) for p, a in value)
            elif name == "genesis_masternodes":
                kwargs[name] = tuple(GenesisMasternode(bytes.fromhex(k), i) for k, i in value)
            elif name in ("reward_weights", "voting_weights"):
                kwargs[name] = {Tier[k]: v for k, v in value.items()}
            else:
                kwargs[name] = value
        return Network(**kwargs)
    except (ValueError, TypeError, KeyError, AttributeError, NetworkError) as exc:
        if isinstance(exc, CorruptStoreError):
            raise
        raise CorruptStoreError(f"stored network parameters are malformed: {exc}") from None
