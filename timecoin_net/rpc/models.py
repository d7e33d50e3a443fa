"""Request and result models of the JSON-RPC methods (pydantic, validated when built).

Parameter models are strict: a string is never an int, a bool never a number, an
unknown parameter is an error. Hashes travel as 64 lower-case hex digits and are
``bytes`` inside the models; amounts are ints of base units (1 TIME = 10**8), which can
exceed 2**53: JavaScript callers should parse them as BigInt.

Result models have ``of(...)`` constructors from the core's values, so every backend
formats blocks, transactions and coins the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, model_validator
from pydantic_core import PydanticCustomError

from timecoin_core.block import Block
from timecoin_core.consensus.finality_messages import FinalityCertificate
from timecoin_core.consensus.registry import Masternode
from timecoin_core.keys import Address, address_payload
from timecoin_core.network import Network
from timecoin_core.transaction import OutPoint, Transaction, TxOut
from timecoin_core.utxo import Balance, Coin

__all__ = [
    "MAX_LIST_UNSPENT",
    "MAX_WAIT_SECONDS",
    "BalanceInfo",
    "BlockHeaderInfo",
    "BlockInfo",
    "CoinInfo",
    "ConsensusInfo",
    "FinalityInfo",
    "GetBalanceParams",
    "GetBlockHashParams",
    "GetBlockParams",
    "GetRawTransactionParams",
    "Hash32",
    "InputInfo",
    "LatencySummary",
    "ListUnspentParams",
    "MasternodeInfo",
    "MempoolInfo",
    "NodeInfo",
    "Notification",
    "OutputInfo",
    "PeerInfo",
    "SendRawTransactionParams",
    "SubscribeParams",
    "Topic",
    "TransactionInfo",
    "TxStatusFilter",
    "TxStatusInfo",
    "TxStatusName",
    "TxidParams",
    "UnspentPage",
    "UnsubscribeParams",
    "VoterInfo",
    "WaitForTxStatusParams",
]

MAX_LIST_UNSPENT = 1_000
"""The most coins one ``listunspent`` page holds (a page stays far below the 1 MiB body)."""

MAX_WAIT_SECONDS = 3_600.0
"""The longest ``waitfortxstatus`` timeout a caller may ask for."""


def _parse_hash(value: object) -> object:
    if isinstance(value, bytes):
        if len(value) != 32:
            raise PydanticCustomError("hash32", "expected 32 bytes, got {length}", {"length": len(value)})
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("hash32", "expected a hex string of 64 digits, got {kind}", {"kind": type(value).__name__})
    if len(value) != 64:
        raise PydanticCustomError("hash32", "expected 64 hex digits, got {length} characters", {"length": len(value)})
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise PydanticCustomError("hash32", "expected 64 hex digits, got a non-hex character") from None


Hash32 = Annotated[bytes, BeforeValidator(_parse_hash), PlainSerializer(bytes.hex, return_type=str)]
"""32 bytes inside a model, 64 hex digits on the wire (upper case accepted on input)."""

TxStatusName = Literal["pending", "conflicted", "final", "confirmed", "rejected", "unknown"]
"""Where a transaction stands: ``confirmed`` implies final; ``rejected`` is for good."""

Topic = Literal["newBlocks", "txStatus", "finality"]
"""The subscription topics."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


# -- parameters -----------------------------------------------------------------------


class GetBlockHashParams(_Model):
    """``getblockhash``: the hash of the block at ``height``."""

    height: int = Field(ge=0)


class GetBlockParams(_Model):
    """``getblock``: a block by height (int) or hash (hex).

    ``verbosity`` 0 gives the hex encoding, 1 a JSON object with txids, 2 the object with
    every transaction decoded.
    """

    block: Annotated[int, Field(ge=0)] | Hash32
    verbosity: int = Field(default=1, ge=0, le=2)


class GetRawTransactionParams(_Model):
    """``getrawtransaction``: a transaction of the pool or the chain; hex unless ``verbose``."""

    txid: Hash32
    verbose: bool = False


class SendRawTransactionParams(_Model):
    """``sendrawtransaction``: the hex encoding of a signed transaction."""

    hexstring: str = Field(max_length=2 * 1024 * 1024)


class TxidParams(_Model):
    """``gettxstatus``: one transaction id."""

    txid: Hash32


class WaitForTxStatusParams(_Model):
    """``waitfortxstatus``: wait until ``txid`` reaches ``status`` (or a later one).

    The order is pending < final < confirmed; waiting ends early when the transaction is
    rejected (it can never get further), and after ``timeout`` seconds with whatever
    status it has then. The answer is always the status at return.
    """

    txid: Hash32
    status: Literal["pending", "final", "confirmed"] = "final"
    timeout: float = Field(default=60.0, gt=0, le=MAX_WAIT_SECONDS)

    def reached(self, current: TxStatusName) -> bool:
        """Whether ``current`` ends the wait (the target or beyond it, or rejected)."""
        order = {"unknown": 0, "pending": 1, "conflicted": 1, "final": 2, "confirmed": 3, "rejected": 4}
        return order[current] >= order[self.status]


class ListUnspentParams(_Model):
    """``listunspent``: one page of an address's live coins in outpoint order.

    ``cursor`` is the previous page's ``next_cursor`` (``"<txid>:<index>"``).
    """

    address: str = Field(max_length=64)
    limit: int = Field(default=100, ge=1, le=MAX_LIST_UNSPENT)
    cursor: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}:[0-9]{1,10}$")

    def after(self) -> OutPoint | None:
        """The cursor as an outpoint (``None`` for the first page)."""
        if self.cursor is None:
            return None
        txid, _, index = self.cursor.partition(":")
        # The pattern admits 10 digits; an index above u32 is simply past every coin.
        return OutPoint(bytes.fromhex(txid), min(int(index), 0xFFFFFFFF))


class GetBalanceParams(_Model):
    """``getbalance``: what one address holds."""

    address: str = Field(max_length=64)


class TxStatusFilter(_Model):
    """Which transactions a ``txStatus`` subscription follows: one ``txid`` or one ``address``."""

    txid: Hash32 | None = None
    address: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _exactly_one(self) -> TxStatusFilter:
        if (self.txid is None) == (self.address is None):
            raise PydanticCustomError("filter", "give exactly one of txid and address")
        return self


class SubscribeParams(_Model):
    """``subscribe`` (WebSocket only): a topic, and for ``txStatus`` its filter."""

    topic: Topic
    filter: TxStatusFilter | None = None

    @model_validator(mode="after")
    def _filter_matches_topic(self) -> SubscribeParams:
        if self.topic == "txStatus" and self.filter is None:
            raise PydanticCustomError("filter", "txStatus needs a filter with a txid or an address")
        if self.topic != "txStatus" and self.filter is not None:
            raise PydanticCustomError("filter", "only txStatus takes a filter")
        return self


class UnsubscribeParams(_Model):
    """``unsubscribe`` (WebSocket only): the id ``subscribe`` returned."""

    subscription: str = Field(max_length=64)


# -- results --------------------------------------------------------------------------


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NodeInfo(_Result):
    """``getinfo``: what the node is and where it stands."""

    network: str
    chain_id: int
    version: str
    height: int
    tip: Hash32
    peers: int
    syncing: bool


class OutputInfo(_Result):
    """One output: its position, amount (base units) and address."""

    index: int
    amount: int
    address: str

    @classmethod
    def of(cls, index: int, output: TxOut, network: Network) -> OutputInfo:
        """From a core output."""
        return cls(index=index, amount=output.amount, address=str(Address(output.payload, network.address_digit)))


class InputInfo(_Result):
    """One input: the outpoint it spends and the address of its key."""

    txid: Hash32
    index: int
    public_key: str
    address: str


class TransactionInfo(_Result):
    """A decoded transaction; ``hex`` is its canonical encoding."""

    txid: Hash32
    wtxid: Hash32
    size: int
    version: int
    lock_time: int
    memo: str
    inputs: list[InputInfo]
    outputs: list[OutputInfo]
    hex: str

    @classmethod
    def of(cls, tx: Transaction, network: Network) -> TransactionInfo:
        """From a core transaction."""
        digit = network.address_digit
        return cls(
            txid=tx.txid,
            wtxid=tx.wtxid,
            size=tx.size,
            version=tx.version,
            lock_time=tx.lock_time,
            memo=tx.memo.hex(),
            inputs=[
                InputInfo(
                    txid=i.outpoint.txid,
                    index=i.outpoint.index,
                    public_key=i.public_key.hex(),
                    address=str(Address(address_payload(i.public_key), digit)),
                )
                for i in tx.inputs
            ],
            outputs=[OutputInfo.of(n, o, network) for n, o in enumerate(tx.outputs)],
            hex=tx.to_bytes().hex(),
        )


class BlockHeaderInfo(_Result):
    """A block's header and counts (the ``newBlocks`` notification)."""

    hash: Hash32
    height: int
    prev_hash: Hash32
    merkle_root: Hash32
    timestamp: int
    proposer: str
    size: int
    tx_count: int

    @classmethod
    def of(cls, block: Block) -> BlockHeaderInfo:
        """From a core block."""
        header = block.header
        return cls(
            hash=block.hash,
            height=block.height,
            prev_hash=header.prev_hash,
            merkle_root=header.merkle_root,
            timestamp=header.timestamp,
            proposer=header.proposer.hex(),
            size=block.size,
            tx_count=len(block.transactions),
        )


class BlockInfo(_Result):
    """``getblock`` with verbosity 1 (``tx`` holds txids) or 2 (decoded transactions)."""

    hash: Hash32
    height: int
    prev_hash: Hash32
    merkle_root: Hash32
    timestamp: int
    proposer: str
    size: int
    confirmations: int
    tx: list[str] | list[TransactionInfo]
    certificate_digests: list[str]
    rewards: list[OutputInfo]
    evidence_count: int

    @classmethod
    def of(cls, block: Block, network: Network, tip_height: int, verbosity: int = 1) -> BlockInfo:
        """From a core block; ``tip_height`` gives ``confirmations``."""
        header = block.header
        tx: list[str] | list[TransactionInfo]
        if verbosity >= 2:
            tx = [TransactionInfo.of(t, network) for t in block.transactions]
        else:
            tx = [t.txid.hex() for t in block.transactions]
        return cls(
            hash=block.hash,
            height=block.height,
            prev_hash=header.prev_hash,
            merkle_root=header.merkle_root,
            timestamp=header.timestamp,
            proposer=header.proposer.hex(),
            size=block.size,
            confirmations=max(0, tip_height - block.height + 1),
            tx=tx,
            certificate_digests=[d.hex() for d in block.certificate_digests],
            rewards=[OutputInfo.of(n, o, network) for n, o in enumerate(block.rewards)],
            evidence_count=len(block.evidence),
        )


class TxStatusInfo(_Result):
    """``gettxstatus``, ``waitfortxstatus`` and the ``txStatus`` notification.

    ``height`` and ``confirmations`` are set once a block holds it; ``certificate`` (hex
    of the finality certificate) once it is final; ``reason`` when it was rejected;
    ``conflicts`` (rival txids) and ``deadlocked`` (no side can reach a quorum without a
    masternode equivocating: its coins stay frozen) when it is ``conflicted``.
    """

    txid: Hash32
    status: TxStatusName
    height: int | None = None
    confirmations: int = 0
    certificate: str | None = None
    reason: str | None = None
    conflicts: list[Hash32] = []
    deadlocked: bool = False


class FinalityInfo(_Result):
    """The ``finality`` notification: a transaction became final at this node.

    ``latency_seconds`` is from its admission at this node to finality, when known.
    """

    txid: Hash32
    epoch: int
    voters: int
    certificate: str
    latency_seconds: float | None = None

    @classmethod
    def of(cls, certificate: FinalityCertificate, latency_seconds: float | None = None) -> FinalityInfo:
        """From a finality certificate."""
        return cls(
            txid=certificate.txid,
            epoch=certificate.epoch,
            voters=len(certificate.entries),
            certificate=certificate.to_bytes().hex(),
            latency_seconds=latency_seconds,
        )


class CoinInfo(_Result):
    """One live coin; ``height`` is ``None`` while its transaction is final but unconfirmed."""

    txid: Hash32
    index: int
    amount: int
    address: str
    height: int | None
    state: str

    @classmethod
    def of(cls, coin: Coin, network: Network) -> CoinInfo:
        """From a core coin."""
        return cls(
            txid=coin.outpoint.txid,
            index=coin.outpoint.index,
            amount=coin.amount,
            address=str(Address(coin.payload, network.address_digit)),
            height=coin.height,
            state=coin.state.value,
        )


class UnspentPage(_Result):
    """``listunspent``: one page of coins and the cursor of the next (``None`` at the end)."""

    coins: list[CoinInfo]
    next_cursor: str | None

    @classmethod
    def of(cls, coins: Sequence[Coin], next_cursor: OutPoint | None, network: Network) -> UnspentPage:
        """From a page of core coins."""
        cursor = None if next_cursor is None else f"{next_cursor.txid.hex()}:{next_cursor.index}"
        return cls(coins=[CoinInfo.of(c, network) for c in coins], next_cursor=cursor)


class BalanceInfo(_Result):
    """``getbalance``: an address's coins by how settled they are (base units)."""

    address: str
    confirmed: int
    finalized: int
    pending: int
    spendable: int
    total: int

    @classmethod
    def of(cls, address: str, balance: Balance) -> BalanceInfo:
        """From a core balance."""
        return cls(
            address=address,
            confirmed=balance.confirmed,
            finalized=balance.finalized,
            pending=balance.pending,
            spendable=balance.spendable,
            total=balance.total,
        )


class MempoolInfo(_Result):
    """``getmempoolinfo``: the transaction pool's size and limits."""

    size: int
    bytes: int
    final: int
    pending: int
    max_bytes: int
    max_count: int
    min_fee_per_kb: int


class PeerInfo(_Result):
    """One connected peer (``getpeerinfo``)."""

    id: int
    address: str
    inbound: bool
    operator: str | None = None
    user_agent: str = ""
    height: int | None = None
    connected_seconds: float = 0.0
    ping_seconds: float | None = None
    bytes_sent: int = 0
    bytes_received: int = 0


class MasternodeInfo(_Result):
    """One registered masternode (``getmasternodes``)."""

    operator: str
    collateral: str
    owner: str
    tier: str
    registered_height: int
    active: bool
    banned: bool
    weight: int

    @classmethod
    def of(cls, masternode: Masternode, network: Network, *, active: bool, banned: bool, weight: int) -> MasternodeInfo:
        """From a core registry entry."""
        return cls(
            operator=masternode.operator.hex(),
            collateral=f"{masternode.collateral.txid.hex()}:{masternode.collateral.index}",
            owner=str(Address(masternode.owner, network.address_digit)),
            tier=masternode.tier.name.lower(),
            registered_height=masternode.registered_height,
            active=active,
            banned=banned,
            weight=weight,
        )


class VoterInfo(_Result):
    """One member of the voting set and its weight."""

    operator: str
    weight: int


class LatencySummary(_Result):
    """Percentiles of recent finality latencies in seconds (``None`` with no sample)."""

    count: int
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None
    max: float | None = None

    @classmethod
    def of(cls, samples: Sequence[float]) -> LatencySummary:
        """Nearest-rank percentiles of ``samples``."""
        if not samples:
            return cls(count=0)
        ordered = sorted(samples)

        def rank(q: float) -> float:
            return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

        return cls(count=len(ordered), p50=rank(0.5), p90=rank(0.9), p99=rank(0.99), max=ordered[-1])


class ConsensusInfo(_Result):
    """``getconsensusinfo``: the block round in progress, the voting set, finality latency."""

    height: int
    round: int
    step: Literal["propose", "prevote", "precommit"]
    epoch: int
    voting_set: list[VoterInfo]
    total_weight: int
    quorum_weight: int
    finality_latency: LatencySummary


Notification = BlockHeaderInfo | TxStatusInfo | FinalityInfo
"""What a subscription delivers: ``newBlocks`` -> BlockHeaderInfo, ``txStatus`` ->
TxStatusInfo, ``finality`` -> FinalityInfo."""
