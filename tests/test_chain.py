from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest

from timecoin_core.amount import MAX_MONEY, coins
from timecoin_core.block import (
    Block,
    genesis_block,
    reward_txid,
    signing_message,
)
from timecoin_core.builder import TransactionBuilder
from timecoin_core.chain import (
    AppliedBlock,
    BadBlockSignatureError,
    BlockError,
    BlockHeightError,
    BlockSizeError,
    BlockTransactionError,
    BlockVersionError,
    CertificatesRootError,
    ChainState,
    EvidenceRootError,
    MerkleRootError,
    PrevHashError,
    ProposerError,
    RewardDistributionError,
    RewardsRootError,
    RewardTotalError,
    SnapshotError,
    TimestampError,
    ZeroRewardError,
    check_proposer_signature,
)
from timecoin_core.keys import PrivateKey
from timecoin_core.network import DEVNET, MAINNET, TESTNET, GenesisOutput, Network
from timecoin_core.transaction import OutPoint, Transaction, TxOut
from timecoin_core.utxo import UtxoSet
from timecoin_core.validation import (
    BadSignatureError,
    FeeTooLowError,
    MissingInputError,
    validate_transaction,
)
from timecoin_core.verify import SignatureCheck, SyncVerifier, Verifier

ALICE = PrivateKey.from_seed(b"\x01" * 32)
BOB = PrivateKey.from_seed(b"\x02" * 32)
PROPOSER = PrivateKey.from_seed(b"\x03" * 32)
COIN_VALUE = coins("10")
FEE = 10_000
NET = DEVNET.with_genesis(tuple(GenesisOutput(ALICE.public_key.payload, COIN_VALUE) for _ in range(6)))
T0 = NET.genesis_timestamp


def genesis_coin(chain: ChainState, index: int) -> tuple[OutPoint, TxOut]:
    outpoint = OutPoint(chain.genesis.reward_txid, index)
    out = chain.get_output(outpoint)
    assert out is not None
    return outpoint, out


def pay(
    spend: tuple[OutPoint, TxOut],
    amount: int,
    to: PrivateKey = BOB,
    key: PrivateKey = ALICE,
    fee: int = FEE,
    network: Network = NET,
) -> Transaction:
    outpoint, out = spend
    builder = TransactionBuilder(network).spend(outpoint, out, key).pay(to.address(network), amount)
    change = out.amount - amount - fee
    if change:
        builder.pay(key.address(network), change)
    return builder.build()


def state(chain: ChainState) -> tuple[object, ...]:
    """Everything apply_block may change, to compare before and after a rejection."""
    txids = [tx.txid for h in range(chain.height + 1) for tx in chain.block_at(h).transactions]  # type: ignore[union-attr]
    return (
        chain.utxos.commitment(),
        len(chain.utxos),
        chain.tip.hash,
        chain.height,
        chain.supply(),
        [chain.transaction_position(t) for t in txids],
        sorted(c.outpoint for c in chain.utxos),
    )


def resign(block: Block, key: PrivateKey = PROPOSER, network: Network = NET, **changes: object) -> Block:
    """The block with header fields changed and signed again, so only the change is wrong."""
    header = dataclasses.replace(block.header, **changes)  # type: ignore[arg-type]
    signature = key.sign(signing_message(network.chain_id, header.hash))
    return Block(header, block.transactions, block.certificate_digests, block.rewards, block.evidence, signature)


def rebuild(block: Block, key: PrivateKey = PROPOSER, network: Network = NET, **body: Sequence[object]) -> Block:
    """The block with its body changed but roots recomputed and signature redone."""
    fields = {
        "transactions": block.transactions,
        "certificate_digests": block.certificate_digests,
        "rewards": block.rewards,
        "evidence": block.evidence,
        **body,
    }
    return Block.create(
        network, key, height=block.height, prev_hash=block.header.prev_hash,
        timestamp=block.header.timestamp, version=block.header.version, **fields,  # type: ignore[arg-type]
    )


def assert_rejected(chain: ChainState, block: Block, error: type[BlockError], verifier: Verifier | None = None) -> BlockError:
    before = state(chain)
    with pytest.raises(error) as info:
        chain.apply_block(block, verifier)
    assert state(chain) == before
    assert info.value.code == error.code
    return info.value


@pytest.fixture
def chain() -> ChainState:
    return ChainState(NET)


# -- genesis --------------------------------------------------------------------------


def test_genesis_is_deterministic_per_network() -> None:
    a, b = ChainState(NET), ChainState(NET)
    assert a.tip == b.tip == genesis_block(NET)
    assert a.utxos.commitment() == b.utxos.commitment()
    assert a.height == 0 and a.tip is a.genesis
    assert len({ChainState(n).tip.hash for n in (MAINNET, TESTNET, DEVNET, NET)}) == 4
    assert ChainState(MAINNET).supply() == 0 and len(ChainState(MAINNET).utxos) == 0


def test_genesis_outputs_are_spendable_coins(chain: ChainState) -> None:
    assert chain.supply() == 6 * COIN_VALUE
    assert chain.utxos.balance(ALICE.public_key.payload).confirmed == 6 * COIN_VALUE
    outpoint, out = genesis_coin(chain, 5)
    assert out == TxOut(COIN_VALUE, ALICE.public_key.payload)
    coin = chain.utxos.coin(outpoint)
    assert coin is not None and coin.height == 0
    assert chain.get_output(OutPoint(chain.genesis.reward_txid, 6)) is None
    assert validate_transaction(pay((outpoint, out), coins("1")), chain, NET) == FEE


# -- applying -------------------------------------------------------------------------


def test_apply_valid_block(chain: ChainState) -> None:
    tx = pay(genesis_coin(chain, 0), coins("3"))
    block = chain.build_block(PROPOSER, [tx], timestamp=T0 + 1)
    applied = chain.apply_block(block)
    assert applied == AppliedBlock(block, FEE, NET.block_reward, applied.spent)
    assert [c.outpoint for c in applied.spent] == [tx.inputs[0].outpoint]
    assert applied.spent[0].spent_height == 1 and applied.spent[0].spender == tx.txid
    assert chain.tip == block and chain.height == 1
    assert chain.block(block.hash) == block and chain.block_at(1) == block
    assert chain.block_at(2) is None and chain.block_at(-1) is None and chain.block(bytes(32)) is None
    assert chain.applied(1) == applied and chain.applied(2) is None
    assert chain.transaction(tx.txid) == (tx, 1)
    assert chain.transaction_position(tx.txid) == (1, 0)
    assert chain.transaction(bytes(32)) is None
    assert chain.get_output(tx.inputs[0].outpoint) is None
    assert chain.get_output(tx.outpoint(0)) == TxOut(coins("3"), BOB.public_key.payload)
    reward = chain.get_output(OutPoint(reward_txid(block.hash), 0))
    assert reward == TxOut(NET.block_reward + FEE, PROPOSER.public_key.payload)
    assert chain.supply() == 6 * COIN_VALUE + NET.block_reward
    assert "height=1" in repr(chain)


def test_empty_blocks_and_reward_outputs_are_spendable(chain: ChainState) -> None:
    first = chain.build_block(PROPOSER, timestamp=T0 + 10)
    chain.apply_block(first)
    reward_at = OutPoint(first.reward_txid, 0)
    reward = chain.get_output(reward_at)
    assert reward is not None
    tx = pay((reward_at, reward), coins("50"), to=ALICE, key=PROPOSER)
    chain.apply_block(chain.build_block(BOB, [tx], timestamp=T0 + 20))
    assert chain.get_output(reward_at) is None
    assert chain.utxos.balance(BOB.public_key.payload).confirmed == NET.block_reward + FEE


def test_chained_spends_within_a_block(chain: ChainState) -> None:
    first = pay(genesis_coin(chain, 0), coins("5"))
    second = pay((first.outpoint(0), first.outputs[0]), coins("2"), to=ALICE, key=BOB)
    third = pay((second.outpoint(1), second.outputs[1]), coins("1"), to=PROPOSER, key=BOB)
    chain.apply_block(chain.build_block(PROPOSER, [first, second, third], timestamp=T0 + 1))
    assert chain.get_output(first.outpoint(0)) is None
    assert chain.get_output(second.outpoint(1)) is None
    assert chain.get_output(third.outpoint(0)) == TxOut(coins("1"), PROPOSER.public_key.payload)
    assert chain.applied(1).fees == 3 * FEE  # type: ignore[union-attr]


def test_out_of_order_chain_is_rejected(chain: ChainState) -> None:
    first = pay(genesis_coin(chain, 0), coins("5"))
    second = pay((first.outpoint(0), first.outputs[0]), coins("2"), to=ALICE, key=BOB)
    block = rebuild(chain.build_block(PROPOSER, [first], timestamp=T0 + 1), transactions=[second, first])
    error = assert_rejected(chain, block, BlockTransactionError)
    assert isinstance(error, BlockTransactionError)
    assert error.position == 0 and isinstance(error.error, MissingInputError)


def test_double_spend_within_a_block(chain: ChainState) -> None:
    spend = genesis_coin(chain, 0)
    one, two = pay(spend, coins("5")), pay(spend, coins("4"))
    block = rebuild(chain.build_block(PROPOSER, [one], timestamp=T0 + 1), transactions=[one, two])
    error = assert_rejected(chain, block, BlockTransactionError)
    assert isinstance(error, BlockTransactionError)
    assert error.position == 1 and isinstance(error.error, MissingInputError)
    assert "missing-input" in str(error)


def test_spending_a_coin_spent_in_an_earlier_block(chain: ChainState) -> None:
    spend = genesis_coin(chain, 0)
    chain.apply_block(chain.build_block(PROPOSER, [pay(spend, coins("5"))], timestamp=T0 + 1))
    again = pay(spend, coins("4"))
    block = rebuild(chain.build_block(PROPOSER, timestamp=T0 + 2), transactions=[again])
    assert_rejected(chain, block, BlockTransactionError)


def test_invalid_transactions(chain: ChainState) -> None:
    good = pay(genesis_coin(chain, 0), coins("5"))
    forged = good.with_witnesses([(ALICE.public_key.data, BOB.sign(b"x" * 32))])
    block = chain.build_block(PROPOSER, [forged], timestamp=T0 + 1)
    error = assert_rejected(chain, block, BlockTransactionError)
    assert isinstance(error, BlockTransactionError) and isinstance(error.error, BadSignatureError)
    cheap = pay(genesis_coin(chain, 1), coins("5"), fee=1)
    error = assert_rejected(chain, chain.build_block(PROPOSER, [cheap], timestamp=T0 + 1), BlockTransactionError)
    assert isinstance(error, BlockTransactionError) and isinstance(error.error, FeeTooLowError)
    other = pay(genesis_coin(chain, 2), coins("5"), network=TESTNET)  # signed for another chain
    assert_rejected(chain, rebuild(block, transactions=[good, other]), BlockTransactionError)


# -- header and body checks -------------------------------------------------------------


@pytest.fixture
def block(chain: ChainState) -> Block:
    tx = pay(genesis_coin(chain, 0), coins("3"))
    return chain.build_block(PROPOSER, [tx], timestamp=T0 + 5, certificate_digests=[b"\x0c" * 32], evidence=[b"e"])


def test_the_fixture_block_is_valid(chain: ChainState, block: Block) -> None:
    assert chain.check_block(block) == FEE
    assert chain.height == 0
    chain.apply_block(block)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"version": 2}, BlockVersionError),
        ({"height": 2}, BlockHeightError),
        ({"height": 0}, BlockHeightError),
        ({"prev_hash": b"\x01" * 32}, PrevHashError),
        ({"timestamp": T0}, TimestampError),
        ({"timestamp": T0 - 1}, TimestampError),
        ({"merkle_root": b"\x01" * 32}, MerkleRootError),
        ({"rewards_root": b"\x01" * 32}, RewardsRootError),
        ({"certificates_root": bytes(32)}, CertificatesRootError),
        ({"evidence_root": bytes(32)}, EvidenceRootError),
    ],
)
def test_header_mismatches(chain: ChainState, block: Block, changes: dict[str, object], error: type[BlockError]) -> None:
    bad = resign(block, **changes)  # type: ignore[arg-type]
    rejected = assert_rejected(chain, bad, error)
    assert rejected.block_hash == bad.hash


def test_roots_cover_the_body(chain: ChainState, block: Block) -> None:
    # Same signed header, different body: each root catches its own part.
    parts = {
        "transactions": (MerkleRootError, ()),
        "rewards": (RewardsRootError, (TxOut(1, bytes(20)),)),
        "certificate_digests": (CertificatesRootError, ()),
        "evidence": (EvidenceRootError, (b"f",)),
    }
    for name, (error, value) in parts.items():
        fields = {
            "transactions": block.transactions,
            "certificate_digests": block.certificate_digests,
            "rewards": block.rewards,
            "evidence": block.evidence,
            name: value,
        }
        assert_rejected(chain, Block(block.header, signature=block.signature, **fields), error)  # type: ignore[arg-type]


def test_signature(chain: ChainState, block: Block) -> None:
    unsigned = Block(block.header, block.transactions, block.certificate_digests, block.rewards, block.evidence)
    assert_rejected(chain, unsigned, BadBlockSignatureError)
    by_other = resign(block, key=BOB)  # proposer field still says PROPOSER
    assert_rejected(chain, by_other, BadBlockSignatureError)
    other_network = resign(block, network=TESTNET)
    assert_rejected(chain, other_network, BadBlockSignatureError)
    assert_rejected(chain, resign(block, proposer=BOB.public_key.data), BadBlockSignatureError)


def test_size_limit(block: Block) -> None:
    small = ChainState(dataclasses.replace(NET, max_block_size=block.size - 1))
    fitted = resign(block, network=small.network, prev_hash=small.tip.hash)
    assert_rejected(small, fitted, BlockSizeError)
    exact = ChainState(dataclasses.replace(NET, max_block_size=block.size))
    exact.apply_block(resign(block, network=exact.network, prev_hash=exact.tip.hash))


def test_rewards_must_total_subsidy_plus_fees(chain: ChainState, block: Block) -> None:
    payload = PROPOSER.public_key.payload
    total = NET.block_reward + FEE
    for rewards in ([TxOut(total + 1, payload)], [TxOut(total - 1, payload)], []):
        error = assert_rejected(chain, rebuild(block, rewards=rewards), RewardTotalError)
        assert isinstance(error, RewardTotalError)
        assert error.expected == total and error.actual == sum(r.amount for r in rewards)
    split = [TxOut(total - 5, payload), TxOut(5, BOB.public_key.payload)]
    chain.apply_block(rebuild(block, rewards=split))
    assert chain.utxos.balance(BOB.public_key.payload).confirmed == coins("3") + 5


def test_zero_reward_output(chain: ChainState, block: Block) -> None:
    rewards = [*block.rewards, TxOut(0, BOB.public_key.payload)]
    assert_rejected(chain, rebuild(block, rewards=rewards), ZeroRewardError)


def test_reward_rule_hook(block: Block) -> None:
    seen: list[tuple[Block, int]] = []

    def one_output_only(candidate: Block, fees: int) -> None:
        seen.append((candidate, fees))
        if len(candidate.rewards) != 1:
            raise RewardDistributionError("expected one reward output", candidate.hash)

    chain = ChainState(NET, reward_rule=one_output_only)
    payload = PROPOSER.public_key.payload
    split = rebuild(block, rewards=[TxOut(NET.block_reward, payload), TxOut(FEE, payload)])
    assert_rejected(chain, split, RewardDistributionError)
    assert seen == [(split, FEE)]
    # The hook only sees blocks whose total is already exact.
    assert_rejected(chain, rebuild(block, rewards=[TxOut(1, payload)]), RewardTotalError)
    assert len(seen) == 1
    chain.apply_block(block)
    assert chain.copy().reward_rule is one_output_only


def test_block_validator_hook(block: Block) -> None:
    allowed = {PROPOSER.public_key.data}

    proofs: list[object] = []

    def leader_only(candidate: Block, chain: ChainState, verifier: Verifier, proof: object) -> None:
        proofs.append(proof)
        if candidate.header.proposer not in allowed:
            raise ProposerError("not the leader", candidate.hash)
        check_proposer_signature(candidate, chain, verifier)

    chain = ChainState(NET, block_validator=leader_only)
    by_bob = rebuild(block, key=BOB)
    assert_rejected(chain, by_bob, ProposerError)
    chain.apply_block(block, proof="the proof")
    assert proofs[-1] == "the proof"  # the hook sees what apply_block was given


def test_all_transaction_signatures_in_one_batch(chain: ChainState) -> None:
    calls: list[int] = []

    class Counting(SyncVerifier):
        def verify_many(self, checks: Sequence[SignatureCheck]) -> list[bool]:
            calls.append(len(checks))
            return super().verify_many(checks)

    txs = [pay(genesis_coin(chain, i), coins("1")) for i in range(4)]
    with Counting() as verifier:
        chain.apply_block(chain.build_block(PROPOSER, txs, timestamp=T0 + 1), verifier)
        assert not verifier.closed
    assert calls == [1, 4]  # the block signature, then every transaction's


def test_checks_run_cheapest_first(chain: ChainState, block: Block) -> None:
    calls: list[int] = []

    class Counting(SyncVerifier):
        def verify_many(self, checks: Sequence[SignatureCheck]) -> list[bool]:
            calls.append(len(checks))
            return super().verify_many(checks)

    # A junk block costs no signature check; an unsigned one costs one.
    assert_rejected(chain, resign(block, merkle_root=bytes(32)), MerkleRootError, Counting())
    assert calls == []
    unsigned = Block(block.header, block.transactions, block.certificate_digests, block.rewards, block.evidence)
    assert_rejected(chain, unsigned, BadBlockSignatureError, Counting())
    assert calls == [1]


class _Boom(Exception):
    pass


class _FlakyIndex(dict[bytes, tuple[int, int]]):
    """A transaction index whose ``fail_at``-th insertion fails."""

    def __init__(self, items: dict[bytes, tuple[int, int]], fail_at: int) -> None:
        super().__init__(items)
        self.left = fail_at

    def __setitem__(self, key: bytes, value: tuple[int, int]) -> None:
        self.left -= 1
        if self.left == 0:
            raise _Boom("disk on fire")
        super().__setitem__(key, value)


@pytest.mark.parametrize("fail_at", ["utxo-set", 1, 2, 3])
def test_failure_while_applying_changes_nothing(
    chain: ChainState, block: Block, monkeypatch: pytest.MonkeyPatch, fail_at: str | int
) -> None:
    # Applying cannot fail for a block that passed validation; simulate a bug anyway,
    # in the UTXO set's batch or after it, while indexing the transactions.
    tx1 = pay(genesis_coin(chain, 1), coins("5"))
    tx2 = pay((tx1.outpoint(0), tx1.outputs[0]), coins("1"), to=ALICE, key=BOB)
    big = chain.build_block(PROPOSER, [tx1, tx2, *block.transactions], timestamp=T0 + 1)
    before = state(chain)
    coins_before = chain.utxos.copy()
    balances = {p: chain.utxos.balance(p) for p in (ALICE.public_key.payload, BOB.public_key.payload)}
    if fail_at == "utxo-set":
        def fail(*args: object) -> None:
            raise _Boom("disk on fire")

        monkeypatch.setattr(UtxoSet, "_apply_change", fail)
    else:
        assert isinstance(fail_at, int)
        monkeypatch.setattr(chain, "_tx_index", _FlakyIndex(chain._tx_index, fail_at))
    with pytest.raises(_Boom):
        chain.apply_block(big)
    monkeypatch.undo()
    assert state(chain) == before
    assert chain.utxos == coins_before
    assert {p: chain.utxos.balance(p) for p in balances} == balances
    applied = chain.apply_block(big)
    reference = ChainState(NET)
    assert reference.apply_block(big) == applied
    assert state(chain) == state(reference) and chain.utxos == reference.utxos


# -- building -------------------------------------------------------------------------


def test_fees_and_build_block_errors(chain: ChainState) -> None:
    tx = pay(genesis_coin(chain, 0), coins("3"))
    chained = pay((tx.outpoint(0), tx.outputs[0]), coins("1"), to=ALICE, key=BOB)
    assert chain.fees([tx, chained]) == 2 * FEE
    with pytest.raises(BlockTransactionError) as missing:
        chain.fees([chained])
    assert isinstance(missing.value.error, MissingInputError)
    with pytest.raises(BlockTransactionError):
        chain.fees([tx, tx])
    from timecoin_core.transaction import TxIn

    inflated = Transaction([TxIn(tx.inputs[0].outpoint)], [TxOut(COIN_VALUE + 1, bytes(20))])
    with pytest.raises(BlockTransactionError, match="inputs-below-outputs"):
        chain.fees([inflated])


def test_build_block_with_explicit_rewards(chain: ChainState) -> None:
    rewards = [TxOut(NET.block_reward // 2, BOB.public_key.payload)] * 2
    block = chain.build_block(PROPOSER, timestamp=T0 + 1, rewards=rewards)
    chain.apply_block(block)
    assert chain.utxos.balance(BOB.public_key.payload).confirmed == NET.block_reward


# -- money ----------------------------------------------------------------------------


def test_subsidy_stops_at_max_money() -> None:
    almost = MAX_MONEY - NET.block_reward - 7
    network = DEVNET.with_genesis((GenesisOutput(ALICE.public_key.payload, almost),))
    chain = ChainState(network)
    assert chain.subsidy() == network.block_reward
    chain.apply_block(chain.build_block(PROPOSER, timestamp=T0 + 1))
    assert chain.subsidy() == 7
    chain.apply_block(chain.build_block(PROPOSER, timestamp=T0 + 2))
    assert chain.supply() == MAX_MONEY and chain.subsidy() == 0
    empty = chain.build_block(PROPOSER, timestamp=T0 + 3)
    assert empty.rewards == ()
    chain.apply_block(empty)
    assert chain.supply() == MAX_MONEY
    with pytest.raises(RewardTotalError):
        chain.apply_block(chain.build_block(PROPOSER, timestamp=T0 + 4, rewards=[TxOut(1, bytes(20))]))


# -- copies and snapshots ---------------------------------------------------------------


def test_copy_is_independent(chain: ChainState, block: Block) -> None:
    clone = chain.copy()
    before = state(chain)
    clone.apply_block(block)
    assert state(chain) == before
    assert clone.height == 1 and chain.height == 0
    chain.apply_block(block)
    assert state(chain) == state(clone)


def test_snapshot_and_revert(chain: ChainState) -> None:
    start = chain.snapshot()
    before = state(chain)
    tx1 = pay(genesis_coin(chain, 0), coins("3"))
    tx2 = pay((tx1.outpoint(0), tx1.outputs[0]), coins("1"), to=ALICE, key=BOB)
    first = chain.build_block(PROPOSER, [tx1, tx2], timestamp=T0 + 1)
    chain.apply_block(first)
    middle = chain.snapshot()
    middle_state = state(chain)
    second = chain.build_block(BOB, [pay(genesis_coin(chain, 1), coins("2"))], timestamp=T0 + 2)
    chain.apply_block(second)
    chain.revert(middle)
    assert state(chain) == middle_state
    chain.revert(start)
    assert state(chain) == before
    assert chain.transaction(tx1.txid) is None and chain.block(first.hash) is None
    with pytest.raises(SnapshotError):
        chain.revert(middle)
    chain.apply_block(first)
    chain.apply_block(second)
    assert chain.height == 2
    with pytest.raises(SnapshotError):
        ChainState(DEVNET).revert(middle)


def test_from_parts_resumes_a_chain_and_refuses_parts_that_do_not_link(chain: ChainState) -> None:
    tx1 = pay(genesis_coin(chain, 0), coins("3"))
    chain.apply_block(chain.build_block(PROPOSER, [tx1], timestamp=T0 + 1))
    chain.apply_block(chain.build_block(BOB, [pay(genesis_coin(chain, 1), coins("2"))], timestamp=T0 + 2))
    parts = [a for a in (chain.applied(h) for h in range(chain.height + 1)) if a is not None]
    resumed = ChainState.from_parts(NET, parts, chain.utxos.copy())
    assert state(resumed) == state(chain)
    assert resumed.transaction(tx1.txid) == chain.transaction(tx1.txid)
    assert resumed.block(parts[2].block.hash) == parts[2].block
    # It keeps going like the original.
    third = resumed.build_block(PROPOSER, [], timestamp=T0 + 3)
    resumed.apply_block(third)
    assert resumed.height == 3
    with pytest.raises(SnapshotError, match="genesis"):
        ChainState.from_parts(DEVNET, parts, chain.utxos.copy())
    with pytest.raises(SnapshotError, match="does not extend"):
        ChainState.from_parts(NET, [parts[0], parts[2]], chain.utxos.copy())
    with pytest.raises(SnapshotError):
        ChainState.from_parts(NET, [], chain.utxos.copy())


def test_block_error_hierarchy() -> None:
    assert issubclass(BlockError, ValueError)
    codes = [cls.code for cls in BlockError.__subclasses__()]
    assert len(codes) == len(set(codes))
    assert BlockTransactionError.code == "bad-transaction"

