"""Network parameters: one frozen value per network, validated when constructed."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Self

from .amount import COIN, MAX_MONEY, check_amount
from .errors import TimecoinError

__all__ = ["DEVNET", "MAINNET", "NETWORKS", "TESTNET", "GenesisMasternode", "GenesisOutput", "Network", "NetworkError", "Tier"]


class NetworkError(TimecoinError, ValueError):
    """Inconsistent network parameters, or an unknown network name."""


class Tier(IntEnum):
    """Masternode tiers; the value is the collateral in whole TIME."""

    FREE = 0
    BRONZE = 1_000
    SILVER = 10_000
    GOLD = 100_000

    @property
    def collateral(self) -> int:
        """Collateral in base units."""
        return int(self) * COIN


@dataclass(frozen=True, slots=True)
class GenesisMasternode:
    """A masternode registered by the genesis block.

    ``operator`` is its 32-byte Ed25519 voting key; its collateral is genesis output
    number ``collateral_index`` (whose amount decides the tier).
    """

    operator: bytes
    collateral_index: int

    def __post_init__(self) -> None:
        if type(self.operator) is not bytes or len(self.operator) != 32:
            raise NetworkError("genesis masternode operator key must be 32 bytes")
        if self.collateral_index < 0:
            raise NetworkError("collateral_index must be non-negative")


@dataclass(frozen=True, slots=True)
class GenesisOutput:
    """An output created by the genesis block: ``amount`` base units to a 20-byte payload."""

    payload: bytes
    amount: int

    def __post_init__(self) -> None:
        if len(self.payload) != 20:
            raise NetworkError("genesis output payload must be 20 bytes")
        check_amount(self.amount)


def _weights(free: int) -> dict[Tier, int]:
    return {Tier.FREE: free, Tier.BRONZE: 1, Tier.SILVER: 10, Tier.GOLD: 100}


@dataclass(frozen=True, slots=True)
class Network:
    """Everything that differs between networks.

    ``chain_id`` is committed to by every signature hash, so a transaction signed for
    one network is invalid on every other. ``address_digit`` is the digit after
    ``"TIME"`` in address strings (0 testnet-like, 1 mainnet).
    """

    name: str
    magic: bytes
    chain_id: int
    address_digit: int
    block_interval: float
    min_fee_per_kb: int = 10_000
    """Minimum relay and validity fee rate, base units per 1,000 bytes."""
    dust_limit: int = 1_000
    min_collateral: int = 100 * COIN
    """Least collateral any masternode registration must lock (the Free tier's floor): it
    prices every registry entry, so a flood of registrations costs real money."""
    max_block_size: int = 4_000_000
    genesis_timestamp: int = 1_767_225_600
    genesis_outputs: tuple[GenesisOutput, ...] = ()
    genesis_masternodes: tuple[GenesisMasternode, ...] = ()
    block_reward: int = 100 * COIN
    reward_weights: dict[Tier, int] = field(
        default_factory=lambda: {Tier.FREE: 1, Tier.BRONZE: 10, Tier.SILVER: 100, Tier.GOLD: 1000}
    )
    voting_weights: dict[Tier, int] = field(default_factory=lambda: _weights(0))
    """Voting weight per tier. Free is 0 on every built-in network: free identities are a
    Sybil vector; a custom network may let Free vote (its voters are then capped,
    deactivated and rewarded like any other)."""
    epoch_length: int = 144
    finality_timeout: float = 30.0
    """Seconds a transaction may wait for a finality quorum before its locks are released."""
    vote_batch_window: float = 0.25
    """Seconds a masternode collects admitted transactions before signing one vote batch
    for all of them: longer windows mean fewer signatures per transaction, later finality."""

    def __post_init__(self) -> None:
        if len(self.magic) != 4:
            raise NetworkError("magic must be 4 bytes")
        if not 0 <= self.chain_id <= 0xFFFFFFFF:
            raise NetworkError("chain_id must fit in u32")
        if self.address_digit not in (0, 1):
            raise NetworkError("address_digit must be 0 or 1")
        if self.block_interval <= 0:
            raise NetworkError("block_interval must be positive")
        if self.min_fee_per_kb < 0 or self.dust_limit < 0:
            raise NetworkError("fees and dust limit must be non-negative")
        if not 0 < self.vote_batch_window < self.finality_timeout:
            raise NetworkError("vote_batch_window must be positive and below finality_timeout")
        if self.epoch_length < 1:
            raise NetworkError("epoch_length must be at least 1")
        for mn in self.genesis_masternodes:
            if mn.collateral_index >= len(self.genesis_outputs):
                raise NetworkError("genesis masternode collateral_index is not a genesis output")
        if len({mn.operator for mn in self.genesis_masternodes}) != len(self.genesis_masternodes):
            raise NetworkError("genesis masternode operator keys must be distinct")
        if sum(o.amount for o in self.genesis_outputs) > MAX_MONEY:
            raise NetworkError("genesis outputs exceed MAX_MONEY")
        if set(self.voting_weights) != set(Tier) or set(self.reward_weights) != set(Tier):
            raise NetworkError("voting and reward weights must name every tier")
        if any(w < 0 for w in self.voting_weights.values()):
            raise NetworkError("voting weights must be non-negative")
        if not 0 < self.min_collateral <= Tier.BRONZE.collateral:
            raise NetworkError("min_collateral must be positive and at most the Bronze collateral")

    def __hash__(self) -> int:
        return hash((self.name, self.magic, self.chain_id))

    def with_genesis(
        self, outputs: tuple[GenesisOutput, ...], masternodes: tuple[GenesisMasternode, ...] = ()
    ) -> Self:
        """A copy of this network whose genesis block creates ``outputs`` and registers ``masternodes``."""
        return replace(self, genesis_outputs=outputs, genesis_masternodes=masternodes)

    @classmethod
    def by_name(cls, name: str) -> Network:
        """One of the built-in networks by name (``"mainnet"``, ``"testnet"``, ``"devnet"``)."""
        try:
            return NETWORKS[name]
        except KeyError:
            raise NetworkError(f"unknown network {name!r}; known: {', '.join(NETWORKS)}") from None


MAINNET = Network(
    name="mainnet", magic=b"TIM1", chain_id=1, address_digit=1, block_interval=600.0
)
TESTNET = Network(
    name="testnet",
    magic=b"TIM0",
    chain_id=2,
    address_digit=0,
    block_interval=600.0,
)
DEVNET = Network(
    name="devnet",
    magic=b"TIMD",
    chain_id=3,
    address_digit=0,
    block_interval=1.0,
    epoch_length=10,
    finality_timeout=5.0,
)
NETWORKS: dict[str, Network] = {n.name: n for n in (MAINNET, TESTNET, DEVNET)}
