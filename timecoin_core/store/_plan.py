"""What committing a block changes, decided before anything is written.

Both stores call :func:`plan_block` and then only write what it returns, so they agree
on every derived row (UTXO changes, undo data, history, fees, the commitment) by
construction. A plan is all or nothing: every check runs before a store touches its
state.
"""

from __future__ import annotations

import struct
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Final

from ..amount import MAX_MONEY
from ..block import Block, reward_txid
from ..commitment import CoinKey, UtxoAccumulator, element_sum
from ..consensus.bft_messages import CommitCertificate
from ..consensus.records import RECORD_CONFLICTING_VOTES, RECORD_DOUBLE_VOTE, decode_record
from ..errors import DecodeError, InvalidArgumentError
from ..transaction import OutPoint, TxOut, _new_outpoint
from ..utxo import Coin, CoinState
from .errors import BlockSequenceError, InconsistentBlockError
from .records import StoredBlock

TX_ID_SHIFT: Final = 17
"""A transaction's row key is ``height << 17 | position`` (positions stay below 2**17)."""

_UNDO: Final = struct.Struct("<Q20sQ")
_OUTPOINT_KEY: Final = struct.Struct(">32sI")
_CONFIRMED: Final = CoinState.CONFIRMED
_UNSPENT: Final = CoinState.UNSPENT

MAX_PAGE_LIMIT: Final = 10_000
"""Largest page a store returns."""


def outpoint_key(outpoint: OutPoint) -> bytes:
    """``txid | index:u32be``: byte order equals :class:`OutPoint` order."""
    return _OUTPOINT_KEY.pack(outpoint[0], outpoint[1])


def key_outpoint(key: bytes) -> OutPoint:
    """The outpoint of :func:`outpoint_key` bytes (36 bytes, so both fields are valid)."""
    if len(key) != 36:
        raise DecodeError(f"a stored outpoint is 36 bytes, not {len(key)}", 0)
    txid, index = _OUTPOINT_KEY.unpack(key)
    return _new_outpoint(txid, index)


def check_limit(limit: object) -> int:
    """``limit`` if it is an int in 1..:data:`MAX_PAGE_LIMIT`, else :class:`ValueError`."""
    if type(limit) is not int or not 1 <= limit <= MAX_PAGE_LIMIT:
        raise InvalidArgumentError("limit", f"limit must be an int in 1..{MAX_PAGE_LIMIT}")
    return limit


def check_payload(payload: object) -> bytes:
    """``payload`` if it is 20 bytes, else :class:`ValueError`."""
    if type(payload) is not bytes or len(payload) != 20:
        raise InvalidArgumentError("payload", "an address payload is 20 bytes")
    return payload


def check_hash(value: object, what: str) -> bytes:
    """``value`` if it is 32 bytes, else :class:`ValueError`."""
    if type(value) is not bytes or len(value) != 32:
        raise InvalidArgumentError(what, f"{what} must be 32 bytes")
    return value


def check_height(value: object, what: str = "height") -> int:
    """``value`` if it is a non-negative int below 2**46, else :class:`ValueError`."""
    if type(value) is not int or not 0 <= value < 2**46:
        raise InvalidArgumentError(what, f"{what} must be a non-negative int")
    return value


def encode_undo(spent: tuple[Coin, ...]) -> bytes:
    """The spent coins' outputs and creation heights (outpoints and spenders come from the block)."""
    pack = _UNDO.pack
    return b"".join([pack(c.output.amount, c.output.payload, c.height) for c in spent])


def decode_undo(data: bytes, block: Block) -> tuple[Coin, ...]:
    """The ``CONFIRMED`` coins :func:`encode_undo` describes, rebuilt against ``block``."""
    height = block.height
    values = _UNDO.iter_unpack(data)
    coins: list[Coin] = []
    try:
        for tx in block.transactions:
            txid = tx.txid
            for txin in tx.inputs:
                amount, payload, created = next(values)
                coins.append(Coin(txin.outpoint, TxOut(amount, payload), created, _CONFIRMED, txid, height))
    except StopIteration:
        raise DecodeError("undo data shorter than the block's inputs", 0) from None
    if next(values, None) is not None:
        raise DecodeError("undo data longer than the block's inputs", 0)
    return tuple(coins)


@dataclass(slots=True)
class TipState:
    """The stored tip a block must extend, and the running totals it updates."""

    height: int
    hash: bytes
    supply: int
    accumulator: UtxoAccumulator

    def copy(self) -> TipState:
        """An independent copy."""
        return TipState(self.height, self.hash, self.supply, self.accumulator.copy())


@dataclass(slots=True)
class BlockPlan:
    """Everything one block changes. ``removed`` are coins of the set it spends;
    ``created`` the coins it adds that it does not spend itself.

    The UTXO commitment comes last (:func:`finish_plan`): it is the costly part (one
    hash per coin), so a store may compute it while it writes the rest.
    """

    block: Block
    certificate: CommitCertificate | None
    previous: TipState
    fees: int
    subsidy: int
    spent: tuple[Coin, ...]
    removed: dict[OutPoint, tuple[TxOut, int]]
    created: dict[OutPoint, TxOut]
    history: list[tuple[bytes, int, int, bytes, int, int]]
    inputs: list[OutPoint]
    offenders: list[bytes]
    undo: bytes
    added: list[CoinKey]
    gone: list[CoinKey]
    finished: tuple[StoredBlock, TipState] | None = None

    @property
    def stored(self) -> StoredBlock:
        """The stored block (after :func:`finish_plan`)."""
        assert self.finished is not None, "finish_plan first"
        return self.finished[0]

    @property
    def tip(self) -> TipState:
        """The tip after the block (after :func:`finish_plan`)."""
        assert self.finished is not None, "finish_plan first"
        return self.finished[1]


def commitment_sums(plan: BlockPlan) -> tuple[int, int]:
    """The element sums of the coins the block adds and removes (the costly part)."""
    return element_sum(plan.added), element_sum(plan.gone)


def finish_plan(plan: BlockPlan, sums: tuple[int, int] | None = None) -> BlockPlan:
    """Give ``plan`` its UTXO commitment, stored block and new tip; ``sums`` from :func:`commitment_sums`."""
    added_sum, gone_sum = sums if sums is not None else commitment_sums(plan)
    accumulator = plan.previous.accumulator.copy()
    accumulator.add_sums(added_sum, gone_sum, len(plan.added) - len(plan.gone))
    supply = plan.previous.supply + plan.subsidy
    block = plan.block
    stored = StoredBlock(
        block, plan.certificate, plan.fees, plan.subsidy, supply, plan.spent, accumulator.count, accumulator.commitment()
    )
    plan.finished = (stored, TipState(block.height, block.hash, supply, accumulator))
    return plan


def plan_block(
    block: Block,
    certificate: CommitCertificate | None,
    tip: TipState,
    block_reward: int,
    coins: Mapping[OutPoint, tuple[TxOut, int]],
    known_txids: Collection[bytes] = (),
    *,
    finish: bool = True,
) -> BlockPlan:
    """Decide what committing ``block`` on top of ``tip`` changes.

    ``coins`` must hold (at least) every stored coin the block's inputs name, as
    ``(output, creation height)``; ``known_txids`` the block's txids that the store
    already holds. Raises :class:`BlockSequenceError` or :class:`InconsistentBlockError`
    and then nothing has changed anywhere. ``finish=False`` leaves the commitment to
    :func:`finish_plan`.
    """
    height = block.height
    block_hash = block.hash
    if height != tip.height + 1:
        raise BlockSequenceError(f"block {block_hash.hex()} has height {height}, the store's tip is {tip.height}")
    if block.header.prev_hash != tip.hash:
        raise BlockSequenceError(f"block {block_hash.hex()} at {height} does not extend the stored tip {tip.hash.hex()}")
    if certificate is not None and (certificate.height != height or certificate.value_id != block_hash):
        raise InvalidArgumentError("certificate", "the commit certificate is for another block")
    created: dict[OutPoint, TxOut] = {}
    pop_created = created.pop
    removed: dict[OutPoint, tuple[TxOut, int]] = {}
    spent: list[Coin] = []
    inputs: list[OutPoint] = []
    history: list[tuple[bytes, int, int, bytes, int, int]] = []
    seen: set[bytes] = set()
    get = coins.get
    fees = 0
    for position, tx in enumerate(block.transactions):
        txid = tx.txid
        if txid in seen or txid in known_txids:
            raise InconsistentBlockError(f"transaction {txid.hex()} is already stored")
        seen.add(txid)
        moved: dict[bytes, list[int]] = {}
        fee = 0
        for txin in tx.inputs:
            outpoint = txin.outpoint
            inputs.append(outpoint)
            output = pop_created(outpoint, None)
            if output is not None:
                created_at = height
            else:
                found = get(outpoint)
                if found is None or outpoint in removed:
                    raise InconsistentBlockError(f"block {height} spends {outpoint}, which is not an unspent coin")
                output, created_at = found
                removed[outpoint] = found
            spent.append(Coin(outpoint, output, created_at, _CONFIRMED, txid, height))
            fee += output.amount
            row = moved.get(output.payload)
            if row is None:
                moved[output.payload] = [0, output.amount]
            else:
                row[1] += output.amount
        for index, output in enumerate(tx.outputs):
            created[_new_outpoint(txid, index)] = output
            fee -= output.amount
            row = moved.get(output.payload)
            if row is None:
                moved[output.payload] = [output.amount, 0]
            else:
                row[0] += output.amount
        fees += fee
        history += [(payload, height, position, txid, r, s) for payload, (r, s) in moved.items()]
    if block.rewards:
        rtxid = reward_txid(block_hash)
        moved = {}
        for index, output in enumerate(block.rewards):
            created[_new_outpoint(rtxid, index)] = output
            row = moved.get(output.payload)
            if row is None:
                moved[output.payload] = [output.amount, 0]
            else:
                row[0] += output.amount
        position = len(block.transactions)
        history += [(payload, height, position, rtxid, r, s) for payload, (r, s) in moved.items()]
    offenders: list[bytes] = []
    for raw in block.evidence:
        if raw and raw[0] in (RECORD_DOUBLE_VOTE, RECORD_CONFLICTING_VOTES):
            try:
                record = decode_record(raw)
            except DecodeError:
                continue
            offenders.append(record.offender)  # type: ignore[union-attr]
    subsidy = min(block_reward, MAX_MONEY - tip.supply)
    added: list[CoinKey] = [(op[0], op[1], out.amount, out.payload, height) for op, out in created.items()]
    gone: list[CoinKey] = [(op[0], op[1], out.amount, out.payload, at) for op, (out, at) in removed.items()]
    spent_coins = tuple(spent)
    plan = BlockPlan(
        block,
        certificate,
        tip,
        fees,
        subsidy,
        spent_coins,
        removed,
        created,
        history,
        inputs,
        offenders,
        encode_undo(spent_coins),
        added,
        gone,
    )
    return finish_plan(plan) if finish else plan


def genesis_plan(genesis: Block) -> BlockPlan:
    """The plan of the genesis block: its outputs at height 0, its minted supply."""
    rtxid = reward_txid(genesis.hash)
    created = {OutPoint(rtxid, i): out for i, out in enumerate(genesis.rewards)}
    minted = sum(out.amount for out in genesis.rewards)
    moved: dict[bytes, int] = {}
    for out in genesis.rewards:
        moved[out.payload] = moved.get(out.payload, 0) + out.amount
    history = [(payload, 0, 0, rtxid, amount, 0) for payload, amount in moved.items()]
    added: list[CoinKey] = [(op[0], op[1], out.amount, out.payload, 0) for op, out in created.items()]
    empty = TipState(-1, bytes(32), 0, UtxoAccumulator())
    plan = BlockPlan(genesis, None, empty, 0, minted, (), {}, created, history, [], [], b"", added, [])
    return finish_plan(plan)
