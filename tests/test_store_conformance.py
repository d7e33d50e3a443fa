"""The Store conformance suite (timecoin_core.testing.conformance_store) on our stores.

MemoryStore and SqliteStore each run every check; this file only adds what is about
these two stores or the workload itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from timecoin_core.chain import ChainState
from timecoin_core.consensus.finality_messages import FinalityCertificate
from timecoin_core.network import Network
from timecoin_core.store import MemoryStore, SqliteStore, Store
from timecoin_core.testing import (
    STORE_CHECKS,
    StoreCheck,
    StoreFactory,
    check_store,
    store_workload,
)
from timecoin_core.testing.store_stress import StressRun

pytestmark = pytest.mark.anyio

BLOCKS = 24
MakeStore = StoreFactory


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def run() -> StressRun:
    return store_workload(BLOCKS)


@pytest.fixture(params=["memory", "sqlite"])
async def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeStore]:
    opened: list[Store] = []

    async def make(network: Network) -> Store:
        store: Store
        if request.param == "memory":
            store = MemoryStore(network)
        else:
            store = await SqliteStore.open(tmp_path / f"store-{len(opened)}.db", network)
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()


def _chain(run: StressRun) -> ChainState:
    return run.chain.node.chain


def _payloads(run: StressRun) -> list[bytes]:
    return sorted({coin.payload for coin in _chain(run).utxos})


@pytest.mark.parametrize("check", list(STORE_CHECKS.values()), ids=list(STORE_CHECKS))
async def test_store_conformance(make_store: MakeStore, run: StressRun, check: StoreCheck) -> None:
    await check(make_store, run)


async def test_check_store_runs_every_check_and_names_a_failure(run: StressRun) -> None:
    await check_store(lambda network: _memory(network), run)

    class Forgetful(MemoryStore):
        async def voting_set(self, epoch: int) -> None:
            return None

    async def forgetful(network: Network) -> Store:
        return Forgetful(network)

    with pytest.raises(AssertionError, match="'a_new_store_holds_genesis' failed"):
        await check_store(forgetful, run)


async def _memory(network: Network) -> Store:
    return MemoryStore(network)


def test_workload_size_is_checked() -> None:
    with pytest.raises(ValueError):
        store_workload(3)


async def test_pages_and_cursors_are_the_same_in_every_store(run: StressRun, tmp_path: Path) -> None:
    memory = MemoryStore(run.chain.network)
    async with SqliteStore.open(tmp_path / "s.db", run.chain.network) as sqlite:
        for height in range(1, BLOCKS + 1):
            block = _chain(run).block_at(height)
            assert block is not None
            await memory.commit_block(block, run.commits[height])
            await sqlite.commit_block(block, run.commits[height])
        for payload in _payloads(run):
            assert await memory.coins_of(payload, limit=2) == await sqlite.coins_of(payload, limit=2)
            assert await memory.history_of(payload, limit=3) == await sqlite.history_of(payload, limit=3)
        assert await memory.blocks(1, limit=5) == await sqlite.blocks(1, limit=5)
        assert await memory.block_transactions(1, limit=2) == await sqlite.block_transactions(1, limit=2)
        assert await memory.metadata() == await sqlite.metadata()


async def test_finality_certificates_in_the_run_are_real(run: StressRun) -> None:
    # Sanity for the fixture itself: certificates verify against the epoch's voting set.
    registry = run.chain.node.registry
    some = list(run.certificates.values())[-3:]
    for certificate in some:
        assert isinstance(certificate, FinalityCertificate)
        voting_set = registry.voting_set(certificate.epoch)
        assert certificate.check_structure(voting_set)
