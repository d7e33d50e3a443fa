"""The devnet's genesis and datadirs: deterministic, complete, and refused where they would clash."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timecoin_core.block import genesis_block
from timecoin_core.keys import Address
from timecoin_core.network import DEVNET, Tier
from timecoin_core.store._network import network_to_json
from timecoin_core.wallet import Wallet, entropy_to_mnemonic
from timecoin_net import DevnetError, devnet_genesis, load_datadir
from timecoin_net.devnet import (
    FAUCET_OUTPUT_AMOUNT,
    FAUCET_OUTPUTS,
    DevnetInfo,
    create_devnet,
    load_devnet,
)
from timecoin_net.testing import free_base_port

MNEMONIC = entropy_to_mnemonic(bytes(16))
OTHER = entropy_to_mnemonic(bytes([1]) * 16)


@settings(max_examples=10, deadline=None)
@given(nodes=st.integers(1, 8), timestamp=st.integers(1_700_000_000, 1_900_000_000))
def test_the_same_inputs_give_the_same_genesis_byte_for_byte(nodes: int, timestamp: int) -> None:
    a = devnet_genesis(nodes, MNEMONIC, timestamp=timestamp)
    b = devnet_genesis(nodes, MNEMONIC, timestamp=timestamp)
    assert network_to_json(a.network) == network_to_json(b.network)
    assert genesis_block(a.network).hash == genesis_block(b.network).hash
    assert a.masternode_keys == b.masternode_keys
    assert a.faucet_address == b.faucet_address


def test_any_input_changes_the_genesis() -> None:
    base = genesis_block(devnet_genesis(3, MNEMONIC, timestamp=1_800_000_000).network).hash
    assert genesis_block(devnet_genesis(4, MNEMONIC, timestamp=1_800_000_000).network).hash != base
    assert genesis_block(devnet_genesis(3, OTHER, timestamp=1_800_000_000).network).hash != base
    assert genesis_block(devnet_genesis(3, MNEMONIC, timestamp=1_800_000_001).network).hash != base


def test_the_genesis_registers_every_masternode_and_funds_the_faucet() -> None:
    genesis = devnet_genesis(4, MNEMONIC, timestamp=1_800_000_000)
    network = genesis.network
    assert network.name == "devnet" and network.magic == DEVNET.magic and network.chain_id == DEVNET.chain_id
    assert [m.operator for m in network.genesis_masternodes] == [k.public_key.data for k in genesis.masternode_keys]
    assert len({k.public_key for k in genesis.masternode_keys}) == 4
    for mn, key in zip(network.genesis_masternodes, genesis.masternode_keys, strict=True):
        collateral = network.genesis_outputs[mn.collateral_index]
        assert collateral.amount == Tier.BRONZE.collateral
        assert collateral.payload == key.public_key.payload
    faucet = Wallet.from_mnemonic(MNEMONIC, network=DEVNET).address(0)
    assert Address.parse(genesis.faucet_address, DEVNET) == faucet
    funded = [o for o in network.genesis_outputs if o.payload == faucet.payload]
    assert len(funded) == FAUCET_OUTPUTS and all(o.amount == FAUCET_OUTPUT_AMOUNT for o in funded)
    # Operator keys are not the faucet's: holding the words is not holding a wallet key.
    assert faucet.payload not in {k.public_key.payload for k in genesis.masternode_keys}


@pytest.mark.parametrize("nodes", [0, 33, -1])
def test_the_node_count_is_bounded(nodes: int) -> None:
    with pytest.raises(DevnetError, match="1 to 32"):
        devnet_genesis(nodes, MNEMONIC, timestamp=0)




def test_create_devnet_writes_datadirs_that_load(tmp_path: Path) -> None:
    base = free_base_port(9)
    genesis, datadirs, words = create_devnet(tmp_path / "net", 3, base_port=base, mnemonic=MNEMONIC, timestamp=1_800_000_000)
    assert words == MNEMONIC
    assert [d.name for d in datadirs] == ["node0", "node1", "node2"]
    for k, path in enumerate(datadirs):
        datadir = load_datadir(path)
        assert datadir.network == genesis.network
        assert datadir.masternode_key == genesis.masternode_keys[k]
        assert str(datadir.config.p2p_endpoint()) == f"127.0.0.1:{base + 3 * k}"
        assert str(datadir.config.rpc_endpoint()) == f"127.0.0.1:{base + 3 * k + 1}"
        assert str(datadir.config.metrics_endpoint()) == f"127.0.0.1:{base + 3 * k + 2}"
        assert sorted(str(p) for p in datadir.config.peers) == sorted(
            f"127.0.0.1:{base + 3 * j}" for j in range(3) if j != k
        )
        assert datadir.identity != datadir.masternode_key
    # The genesis file a datadir holds is the network itself.
    assert json.loads((datadirs[0] / "genesis.json").read_text()) == json.loads(network_to_json(genesis.network))


def test_create_devnet_refuses_a_used_directory_and_busy_ports(tmp_path: Path) -> None:
    base = free_base_port(6)
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("mine")
    with pytest.raises(DevnetError, match="not an empty directory"):
        create_devnet(tmp_path / "used", 2, base_port=base)
    assert (tmp_path / "used" / "x").read_text() == "mine"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", base + 4))
        busy.listen()
        with pytest.raises(DevnetError, match=f"port {base + 4} on 127.0.0.1 is in use"):
            create_devnet(tmp_path / "new", 2, base_port=base)
    assert not (tmp_path / "new").exists()
    with pytest.raises(DevnetError, match="--base-port"):
        create_devnet(tmp_path / "new", 2, base_port=65534)


def test_devnet_json_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(DevnetError, match="no devnet here"):
        load_devnet(tmp_path)
    (tmp_path / "devnet.json").write_text("{")
    with pytest.raises(DevnetError, match="malformed"):
        load_devnet(tmp_path)
    info = DevnetInfo.model_validate(
        {"network": "devnet", "nodes": [{"name": "node0", "datadir": "/x", "pid": 1, "p2p": "127.0.0.1:1"}],
         "faucet": {"mnemonic": MNEMONIC, "address": "x"}}
    )
    (tmp_path / "devnet.json").write_text(info.model_dump_json())
    assert load_devnet(tmp_path) == info


def test_a_node_is_recognised_by_its_datadir_whatever_path_started_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    from timecoin_net.devnet import is_node_running

    (tmp_path / "d").mkdir()
    # A stand-in process with a node's command line, started from the datadir's parent
    # with a relative path; a plain sleeper is enough for the process-table check.
    code = "import sys; print('up', flush=True); sys.stdin.read()"
    for argv in (["node", "run", "--datadir", "d"], ["node", "run", "--datadir=./d/"]):
        proc = subprocess.Popen(
            [sys.executable, "-c", code, *argv], cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        try:
            assert proc.stdout is not None and proc.stdout.readline() == b"up\n"  # running, not starting
            assert is_node_running(proc.pid, tmp_path / "d"), Path(f"/proc/{proc.pid}/cmdline").read_bytes()
            assert not is_node_running(proc.pid, tmp_path / "other")
        finally:
            proc.communicate(b"")
    assert not is_node_running(proc.pid, tmp_path / "d")  # gone
    assert not is_node_running(os.getpid(), tmp_path / "d")  # not a node
