"""``python -m timecoin_core.store.check PATH``: verify a store without modifying it.

The store is opened read-only (no lock) and read in one snapshot, so it may run next
to a live node; everything derived is recomputed from the blocks and compared with
what is stored:

``schema``
    SQLite's ``quick_check``; the tables, ``application_id``, ``user_version`` and the
    ``schema_version`` rows.
``blocks``
    Heights contiguous from the network's genesis, each block's parent the previous
    block, timestamps increasing, the four header roots matching the body, reward
    totals equal to subsidy plus fees, the supply, and (unless ``--no-signatures``)
    every proposer's signature.
``utxo``
    The UTXO set replayed from the blocks (:meth:`~timecoin_core.utxo.UtxoSet.confirm_block`):
    its commitment and size after every block against the stored ones, each block's
    undo data against the coins it really spent, and the stored coins against the
    replayed set, coin by coin.
``indexes``
    The transaction index (every row belongs to its block, in order) and the address
    history (recomputed, compared as a multiset digest).
``certificates``
    Every commit certificate against its block and the voting set of its height's
    epoch (signatures checked); every stored finality certificate against its
    transaction, the digest its block committed to, and its epoch's voting set.
``registry``
    The stored voting sets against the registry replayed from the blocks.
``records``
    Pending final transactions (not confirmed, certified, spending only unspent or
    pending-final coins), voted outpoints (none spent by a block), signed votes, locked
    values and evidence (they decode).

It prints a JSON report and exits 0 when the store is consistent, 1 otherwise.
``--full`` also replays every block through :meth:`~timecoin_core.chain.ChainState.apply_block`
(transaction signatures included).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from ..amount import MAX_MONEY
from ..block import (
    Block,
    certificates_root,
    evidence_root,
    genesis_block,
    reward_txid,
    rewards_root,
    transactions_root,
)
from ..chain import BlockError, ChainState
from ..consensus.finality_messages import FinalityCertificate, verify_certificates
from ..consensus.registry import Registry, epoch_of
from ..consensus.voting import VotingSet
from ..errors import TimecoinError
from ..transaction import OutPoint
from ..utxo import Coin, UtxoSet
from ..verify import SignatureCheck, SyncVerifier
from ._codec import decode_voting_set
from ._plan import TX_ID_SHIFT
from .errors import StoreError
from .loading import _participants_and_offenders
from .records import StoredBlock
from .schema import APPLICATION_ID, tables_at
from .sqlite import SqliteStore

__all__ = ["CheckReport", "check_store", "main"]

_MAX_ERRORS = 100
_MOD = 1 << 256


@dataclass
class CheckReport:
    """The result of :func:`check_store`; ``consistent`` is the verdict, ``errors`` say why not."""

    path: str
    consistent: bool = False
    schema_version: int | None = None
    network: str | None = None
    height: int | None = None
    tip: str | None = None
    utxo_commitment: str | None = None
    recomputed_commitment: str | None = None
    coins: int = 0
    transactions: int = 0
    final_transactions: int = 0
    voted_outpoints: int = 0
    checks: dict[str, bool] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    def to_json(self) -> str:
        """The report as indented JSON."""
        return json.dumps(asdict(self), indent=2)


class _Findings:
    def __init__(self, report: CheckReport) -> None:
        self.report = report
        self.failed: set[str] = set()
        self.dropped = 0

    def error(self, check: str, message: str) -> None:
        self.failed.add(check)
        if len(self.report.errors) < _MAX_ERRORS:
            self.report.errors.append(f"{check}: {message}")
        else:
            self.dropped += 1

    def warn(self, message: str) -> None:
        self.report.warnings.append(message)


def _row_digest(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest(), "big")


async def check_store(path: str, *, verify_signatures: bool = True, full: bool = False) -> CheckReport:
    """Verify the store at ``path`` (read-only) and report; see the module docstring."""
    started = time.perf_counter()
    report = CheckReport(path=path)
    findings = _Findings(report)
    names = ("schema", "blocks", "utxo", "indexes", "certificates", "registry", "records")
    try:
        store = await SqliteStore.open(path, read_only=True)
    except (StoreError, OSError) as exc:
        findings.error("open", str(exc))
        report.checks = {"open": False}
        report.elapsed = round(time.perf_counter() - started, 3)
        return report
    try:
        async with store.snapshot():
            await _check(store, report, findings, verify_signatures, full)
    except TimecoinError as exc:
        findings.error("store", f"{type(exc).__name__}: {exc}")
    finally:
        await store.close()
    if findings.dropped:
        report.errors.append(f"... and {findings.dropped} more errors")
    report.checks = {"open": True, **{name: name not in findings.failed for name in names}}
    report.consistent = not findings.failed
    report.elapsed = round(time.perf_counter() - started, 3)
    return report


async def _check(
    store: SqliteStore, report: CheckReport, findings: _Findings, verify_signatures: bool, full: bool
) -> None:
    meta = await store.metadata()
    network = meta.network
    report.schema_version = meta.schema_version
    report.network = network.name
    report.height = meta.height
    report.tip = meta.tip_hash.hex()
    report.utxo_commitment = meta.utxo_commitment.hex()
    await _check_schema(store, findings)
    verifier = SyncVerifier()
    genesis = genesis_block(network)
    registry = Registry(network, genesis.reward_txid)
    voting_sets: dict[int, VotingSet] = {0: registry.voting_set(0)}
    utxos = UtxoSet()
    chain = ChainState(network) if full else None
    tx_digest = hashlib.sha256()
    tx_count = 0
    history_sum = 0
    history_rows = 0
    supply = 0
    uncertified = 0
    previous: StoredBlock | None = None
    proposer_checks: list[tuple[int, SignatureCheck]] = []
    reward_txids: set[bytes] = set()

    async for stored in store.iter_blocks(0, meta.height + 1):
        block = stored.block
        height = block.height
        header = block.header
        if previous is None:
            if height != 0 or block != genesis:
                findings.error("blocks", "the first stored block is not the network's genesis block")
        else:
            if height != previous.height + 1:
                findings.error("blocks", f"heights jump from {previous.height} to {height}")
            if header.prev_hash != previous.hash:
                findings.error("blocks", f"block {height} does not extend block {previous.height}")
            if header.timestamp <= previous.block.header.timestamp:
                findings.error("blocks", f"block {height}: timestamp does not increase")
            if header.merkle_root != transactions_root(block.transactions):
                findings.error("blocks", f"block {height}: merkle root does not match its transactions")
            if header.rewards_root != rewards_root(block.rewards):
                findings.error("blocks", f"block {height}: rewards root does not match its rewards")
            if header.certificates_root != certificates_root(block.certificate_digests):
                findings.error("blocks", f"block {height}: certificates root does not match its digests")
            if header.evidence_root != evidence_root(block.evidence):
                findings.error("blocks", f"block {height}: evidence root does not match its evidence")
            if verify_signatures:
                proposer_checks.append(
                    (height, SignatureCheck(header.proposer, block.signing_message(network), block.signature))
                )
        # -- money and coins
        if height == 0:
            subsidy = sum(o.amount for o in block.rewards)
        else:
            subsidy = min(network.block_reward, MAX_MONEY - supply)
        reward_txids.add(block.reward_txid)
        if stored.subsidy != subsidy:
            findings.error("blocks", f"block {height}: stored subsidy {stored.subsidy}, expected {subsidy}")
        supply += subsidy
        if stored.supply != supply:
            findings.error("blocks", f"block {height}: stored supply {stored.supply}, expected {supply}")
        try:
            spent = utxos.confirm_block(height, block.transactions, block.reward_txid, block.rewards)
        except TimecoinError as exc:
            findings.error("utxo", f"block {height} does not apply to the replayed UTXO set: {exc}")
            spent = ()
        if spent != stored.spent:
            findings.error("utxo", f"block {height}: stored undo data differs from the coins it spent")
        fees = sum(c.amount for c in spent) - sum(o.amount for tx in block.transactions for o in tx.outputs)
        if height > 0:
            if stored.fees != fees:
                findings.error("blocks", f"block {height}: stored fees {stored.fees}, expected {fees}")
            if sum(o.amount for o in block.rewards) != subsidy + fees:
                findings.error("blocks", f"block {height}: rewards are not subsidy plus fees")
        if utxos.commitment() != stored.utxo_commitment or len(utxos) != stored.utxo_count:
            findings.error("utxo", f"block {height}: stored UTXO commitment differs from the replayed set")
        if chain is not None and height > 0:
            try:
                chain.apply_block(block, verifier)
            except BlockError as exc:
                findings.error("blocks", f"block {height} fails full validation: {exc}")
        # -- indexes
        base = height << TX_ID_SHIFT
        for position, tx in enumerate(block.transactions):
            tx_digest.update((base | position).to_bytes(8, "big") + tx.txid)
            tx_count += 1
        history_sum, history_rows = _history(block, spent, height, history_sum, history_rows)
        # -- certificates and registry
        if height > 0:
            certificate = stored.certificate
            if certificate is None:
                uncertified += 1
            elif certificate.height != height or certificate.value_id != block.hash:
                findings.error("certificates", f"block {height}: the commit certificate is for another block")
            else:
                voting_set = voting_sets.get(epoch_of(height, network.epoch_length))
                if voting_set is None:
                    findings.error("certificates", f"block {height}: no voting set for its epoch")
                elif not certificate.verify(
                    voting_set, network.chain_id, verifier.verify_many if verify_signatures else _accept_all
                ):
                    findings.error("certificates", f"block {height}: the commit certificate does not verify")
            participants, offenders = _participants_and_offenders(stored)
            try:
                registry.apply_block(height, block.transactions, offenders, participants)
            except TimecoinError as exc:
                findings.error("registry", f"block {height} does not apply to the registry: {exc}")
            if height % network.epoch_length == 0:
                epoch = height // network.epoch_length
                voting_sets[epoch] = registry.voting_set(epoch)
        previous = stored
        if len(proposer_checks) >= 512:
            _verify_proposers(proposer_checks, verifier, findings)
    _verify_proposers(proposer_checks, verifier, findings)
    if previous is None or previous.height != meta.height or previous.hash != meta.tip_hash:
        findings.error("blocks", "the stored blocks do not end at the store's tip")
    if uncertified:
        findings.warn(f"{uncertified} blocks above genesis have no commit certificate (committed without consensus)")
    report.recomputed_commitment = utxos.commitment().hex()
    report.transactions = tx_count
    if utxos.commitment() != meta.utxo_commitment:
        findings.error("utxo", "the replayed UTXO set does not commit to the stored tip commitment")
    await _compare_coins(store, utxos, findings, report)
    await _compare_indexes(store, tx_digest.digest(), tx_count, history_sum, history_rows, findings)
    await _check_tx_certificates(store, voting_sets, network.chain_id, verifier, verify_signatures, findings)
    await _check_voting_sets(store, voting_sets, findings)
    await _check_records(
        store, utxos, reward_txids, voting_sets, network.chain_id, verifier, verify_signatures, findings, report
    )


def _accept_all(checks: Sequence[SignatureCheck]) -> list[bool]:
    return [True] * len(checks)


def _verify_proposers(checks: list[tuple[int, SignatureCheck]], verifier: SyncVerifier, findings: _Findings) -> None:
    if not checks:
        return
    for (height, _), ok in zip(checks, verifier.verify_many([c for _, c in checks]), strict=True):
        if not ok:
            findings.error("blocks", f"block {height}: the proposer's signature does not verify")
    checks.clear()


def _history(block: Block, spent: tuple[Coin, ...], height: int, total: int, rows: int) -> tuple[int, int]:
    inputs = iter(spent)
    entries: list[tuple[bytes, int, bytes, int, int]] = []
    for position, tx in enumerate(block.transactions):
        moved: dict[bytes, list[int]] = {}
        for _ in tx.inputs:
            coin = next(inputs)
            moved.setdefault(coin.payload, [0, 0])[1] += coin.amount
        for out in tx.outputs:
            moved.setdefault(out.payload, [0, 0])[0] += out.amount
        entries += [(p, position, tx.txid, r, s) for p, (r, s) in moved.items()]
    if block.rewards:
        moved = {}
        for out in block.rewards:
            moved.setdefault(out.payload, [0, 0])[0] += out.amount
        rtxid = reward_txid(block.hash)
        entries += [(p, len(block.transactions), rtxid, r, s) for p, (r, s) in moved.items()]
    for payload, position, txid, received, sent in entries:
        total = (total + _row_digest(payload, height, position, txid, received, sent)) % _MOD
    return total, rows + len(entries)


async def _check_schema(store: SqliteStore, findings: _Findings) -> None:
    async with store._reading() as conn:
        quick = [row[0] for row in await conn.execute_fetchall("PRAGMA quick_check")]
        (application_id,) = next(iter(await conn.execute_fetchall("PRAGMA application_id")))
        (user_version,) = next(iter(await conn.execute_fetchall("PRAGMA user_version")))
        versions = [row[0] for row in await conn.execute_fetchall("SELECT version FROM schema_version ORDER BY version")]
        tables = {
            row[0]
            for row in await conn.execute_fetchall("SELECT name FROM sqlite_schema WHERE type = 'table'")
            if not row[0].startswith("sqlite_")
        }
    if quick != ["ok"]:
        findings.error("schema", f"SQLite quick_check: {'; '.join(map(str, quick[:5]))}")
    if application_id != APPLICATION_ID:
        findings.error("schema", f"application_id is {application_id:#x}")
    if versions != list(range(1, user_version + 1)):
        findings.error("schema", f"schema_version rows {versions} do not match user_version {user_version}")
    # A store opened read-only is not migrated: compare with the tables of its own version.
    expected = tables_at(user_version)
    if tables != expected:
        findings.error("schema", f"tables differ from the schema: missing {sorted(expected - tables)}, "
                       f"unexpected {sorted(tables - expected)}")


async def _compare_coins(store: SqliteStore, utxos: UtxoSet, findings: _Findings, report: CheckReport) -> None:
    count = 0
    async for coin in store.iter_coins():
        count += 1
        replayed = utxos.coin(coin.outpoint)
        if replayed is None:
            findings.error("utxo", f"stored coin {coin.outpoint} is not in the replayed set")
        elif replayed.output != coin.output or replayed.height != coin.height:
            findings.error("utxo", f"stored coin {coin.outpoint} differs from the replayed one")
    report.coins = count
    if count != len(utxos):
        findings.error("utxo", f"{count} coins stored, {len(utxos)} in the replayed set")


async def _compare_indexes(
    store: SqliteStore, tx_digest: bytes, tx_count: int, history_sum: int, history_rows: int, findings: _Findings
) -> None:
    digest = hashlib.sha256()
    count = 0
    after = -1
    while True:
        async with store._reading() as conn:
            rows = list(
                await conn.execute_fetchall("SELECT id, txid FROM txs WHERE id > ? ORDER BY id LIMIT 4096", (after,))
            )
        for key, txid in rows:
            digest.update(key.to_bytes(8, "big") + bytes(txid))
        count += len(rows)
        if len(rows) < 4096:
            break
        after = rows[-1][0]
    if count != tx_count or digest.digest() != tx_digest:
        findings.error("indexes", f"the transaction index ({count} rows) does not match the blocks ({tx_count} transactions)")
    total = 0
    rows_seen = 0
    last: tuple[bytes, int, int] = (b"", -1, -1)
    while True:
        async with store._reading() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT payload, height, position, txid, received, sent FROM history "
                    "WHERE (payload, height, position) > (?, ?, ?) ORDER BY payload, height, position LIMIT 4096",
                    last,
                )
            )
        for payload, height, position, txid, received, sent in rows:
            total = (total + _row_digest(bytes(payload), height, position, bytes(txid), received, sent)) % _MOD
        rows_seen += len(rows)
        if len(rows) < 4096:
            break
        last = (bytes(rows[-1][0]), rows[-1][1], rows[-1][2])
    if rows_seen != history_rows or total != history_sum:
        findings.error("indexes", f"the address history ({rows_seen} rows) does not match the blocks ({history_rows} entries)")


async def _check_tx_certificates(
    store: SqliteStore,
    voting_sets: dict[int, VotingSet],
    chain_id: int,
    verifier: SyncVerifier,
    verify_signatures: bool,
    findings: _Findings,
) -> None:
    after = -1
    while True:
        async with store._reading() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT id, txid, certificate FROM txs WHERE certificate IS NOT NULL AND id > ? ORDER BY id LIMIT 1024",
                    (after,),
                )
            )
        certificates = []
        for key, txid, raw in rows:
            height, position = key >> TX_ID_SHIFT, key & ((1 << TX_ID_SHIFT) - 1)
            try:
                certificate = FinalityCertificate.from_bytes(bytes(raw))
            except (TimecoinError, ValueError) as exc:
                findings.error("certificates", f"certificate of {bytes(txid).hex()} does not decode: {exc}")
                continue
            if certificate.txid != bytes(txid):
                findings.error("certificates", f"the certificate stored with {bytes(txid).hex()} is for another transaction")
                continue
            stored = await store.block(height)
            digests = stored.block.certificate_digests if stored is not None else ()
            if len(digests) > position and digests[position] != certificate.digest():
                findings.error("certificates", f"block {height} committed to another certificate of {bytes(txid).hex()}")
            certificates.append(certificate)
        verdicts = verify_certificates(
            certificates, voting_sets, chain_id, verifier.verify_many if verify_signatures else _accept_all
        ) if certificates else []
        for certificate, ok in zip(certificates, verdicts, strict=True):
            if not ok:
                findings.error("certificates", f"the finality certificate of {certificate.txid.hex()} does not verify")
        if len(rows) < 1024:
            break
        after = rows[-1][0]


async def _check_voting_sets(store: SqliteStore, voting_sets: dict[int, VotingSet], findings: _Findings) -> None:
    async with store._reading() as conn:
        rows = list(await conn.execute_fetchall("SELECT epoch, raw FROM voting_sets ORDER BY epoch"))
    for epoch, raw in rows:
        try:
            stored = decode_voting_set(bytes(raw))
        except (TimecoinError, ValueError) as exc:
            findings.error("registry", f"voting set of epoch {epoch} does not decode: {exc}")
            continue
        expected = voting_sets.get(epoch)
        if stored.epoch != epoch or expected is None or stored.digest() != expected.digest():
            findings.error("registry", f"stored voting set of epoch {epoch} differs from the replayed registry")


async def _check_records(
    store: SqliteStore,
    utxos: UtxoSet,
    reward_txids: set[bytes],
    voting_sets: dict[int, VotingSet],
    chain_id: int,
    verifier: SyncVerifier,
    verify_signatures: bool,
    findings: _Findings,
    report: CheckReport,
) -> None:
    try:
        finals = await store.final_transactions()
        votes = await store.voted_outpoints()
        await store.signed_votes()
        await store.locked_values()
        await store.evidence()
    except TimecoinError as exc:
        findings.error("records", str(exc))
        return
    report.final_transactions = len(finals)
    report.voted_outpoints = len(votes)
    pending_outputs: set[OutPoint] = set()
    for tx, _ in finals:
        pending_outputs.update(OutPoint(tx.txid, i) for i in range(len(tx.outputs)))
    for tx, certificate in finals:
        if await store.transaction(tx.txid) is not None:
            findings.error("records", f"final transaction {tx.txid.hex()} is also confirmed")
        if certificate.txid != tx.txid:
            findings.error("records", f"final transaction {tx.txid.hex()} holds another transaction's certificate")
        for txin in tx.inputs:
            if txin.outpoint not in utxos and txin.outpoint not in pending_outputs:
                findings.error("records", f"final transaction {tx.txid.hex()} spends {txin.outpoint}, which is spent")
    known = [c for _, c in finals if c.epoch in voting_sets]
    for certificate in (c for _, c in finals if c.epoch not in voting_sets):
        findings.error("records", f"final transaction {certificate.txid.hex()}: no voting set for epoch {certificate.epoch}")
    if known:
        verdicts = verify_certificates(
            known, voting_sets, chain_id, verifier.verify_many if verify_signatures else _accept_all
        )
        for certificate, ok in zip(known, verdicts, strict=True):
            if not ok:
                findings.error("records", f"the certificate of final transaction {certificate.txid.hex()} does not verify")
    for outpoint, txid in votes.items():
        if outpoint in utxos or outpoint in pending_outputs:
            continue
        if outpoint.txid in reward_txids or await store.transaction(outpoint.txid) is not None:
            findings.error(
                "records", f"voted outpoint {outpoint} (for {txid.hex()}) was spent by a block but is still recorded"
            )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check on the command line; print the JSON report; 0 when consistent, 1 otherwise."""
    parser = argparse.ArgumentParser(
        prog="python -m timecoin_core.store.check", description="Verify a Timecoin store without modifying it."
    )
    parser.add_argument("path", help="the store's SQLite file")
    parser.add_argument("--no-signatures", action="store_true", help="skip signature verification (faster)")
    parser.add_argument("--full", action="store_true", help="also validate every block fully (transaction signatures)")
    args = parser.parse_args(argv)
    if args.full and args.no_signatures:
        parser.error("--full validates every transaction signature; it cannot be combined with --no-signatures")
    report = asyncio.run(check_store(args.path, verify_signatures=not args.no_signatures, full=args.full))
    print(report.to_json())
    return 0 if report.consistent else 1


if __name__ == "__main__":
    sys.exit(main())
