"""The masternode registry, derived from committed blocks only.

Theory of operation
-------------------
A masternode registers with an ordinary transaction whose memo is
``b"TCMN" | 0x01 | operator_key:32`` (37 bytes). Output 0 of that transaction is
the *collateral*; its amount decides the tier (the highest tier whose collateral is
at most the amount; Free needs none). The masternode stays registered while the
collateral is unspent: spending the collateral outpoint, by any transaction, is the
deregistration. An operator key can be registered once at a time; a second
registration with a key already in use has no registry effect.

Voting weight is a network parameter per tier (``Network.voting_weights``), never
something a voter declares. The voting set of an epoch is fixed from committed state:
epoch ``e`` covers heights ``e*L + 1 .. (e+1)*L`` (``L = network.epoch_length``) and
its set is taken from the registry as it stands after block ``e*L``. Within an epoch,
registrations, deregistrations, evidence and absences change nothing; they take
effect at the next boundary, so every honest node computes the same quorum.

A masternode is *active* unless:

* committed evidence proved it equivocated (it is banned for good), or
* it had positive voting weight for a whole epoch and appeared in none of the
  commit participations recorded in that epoch's blocks (it is deactivated; it comes
  back by registering again).

Rewards (:func:`block_rewards`) go to active masternodes by tier reward weight.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import TimecoinError
from ..network import Network, Tier
from ..transaction import OutPoint, Transaction, TxOut
from .voting import VotingSet

__all__ = [
    "REGISTRATION_MAGIC",
    "Masternode",
    "Registry",
    "RegistryError",
    "block_rewards",
    "epoch_of",
    "parse_registration",
    "registration_memo",
    "tier_for",
]

REGISTRATION_MAGIC = b"TCMN\x01"


class RegistryError(TimecoinError, ValueError):
    """A registry query that cannot be answered (e.g. a voting set for an unknown epoch)."""


def epoch_of(height: int, epoch_length: int) -> int:
    """The epoch of block ``height``: genesis and heights ``1..L`` are epoch 0."""
    return 0 if height <= 0 else (height - 1) // epoch_length


def tier_for(amount: int) -> Tier:
    """The tier a collateral of ``amount`` base units buys."""
    best = Tier.FREE
    for tier in Tier:
        if tier.collateral <= amount and tier.collateral >= best.collateral:
            best = tier
    return best


def registration_memo(operator: bytes) -> bytes:
    """The memo that turns a transaction into a registration of ``operator``."""
    if len(operator) != 32:
        raise ValueError("operator key must be 32 bytes")
    return REGISTRATION_MAGIC + operator


def parse_registration(tx: Transaction) -> tuple[bytes, TxOut] | None:
    """``(operator_key, collateral_output)`` if ``tx`` is a registration, else None."""
    memo = tx.memo
    if len(memo) != len(REGISTRATION_MAGIC) + 32 or not memo.startswith(REGISTRATION_MAGIC):
        return None
    return memo[len(REGISTRATION_MAGIC) :], tx.outputs[0]


@dataclass(frozen=True, slots=True)
class Masternode:
    """A registered masternode."""

    operator: bytes
    """The 32-byte Ed25519 key it votes and proposes with."""
    collateral: OutPoint
    owner: bytes
    """The 20-byte payload of the collateral output: where its rewards go."""
    tier: Tier
    registered_height: int


class Registry:
    """Registered masternodes and the voting set of each epoch, from committed blocks."""

    def __init__(self, network: Network, genesis_reward_txid: bytes) -> None:
        self.network = network
        self._by_operator: dict[bytes, Masternode] = {}
        self._by_collateral: dict[OutPoint, bytes] = {}
        self._banned: set[bytes] = set()
        self._inactive: set[bytes] = set()
        self._seen_this_epoch: set[bytes] = set()
        self._voting_sets: dict[int, VotingSet] = {}
        self._height = 0
        for mn in network.genesis_masternodes:
            out = network.genesis_outputs[mn.collateral_index]
            self._register(
                Masternode(
                    mn.operator,
                    OutPoint(genesis_reward_txid, mn.collateral_index),
                    out.payload,
                    tier_for(out.amount),
                    0,
                )
            )
        self._voting_sets[0] = self._current_voting_set(0)

    # -- queries --------------------------------------------------------------------------

    @property
    def height(self) -> int:
        """Height of the last block applied."""
        return self._height

    def masternode(self, operator: bytes) -> Masternode | None:
        """The registered masternode with this operator key."""
        return self._by_operator.get(operator)

    def masternodes(self) -> list[Masternode]:
        """Every registered masternode, ordered by operator key."""
        return [self._by_operator[k] for k in sorted(self._by_operator)]

    def active(self) -> list[Masternode]:
        """Registered masternodes that are neither banned nor deactivated, by operator key."""
        return [
            mn
            for mn in self.masternodes()
            if mn.operator not in self._banned and mn.operator not in self._inactive
        ]

    def is_banned(self, operator: bytes) -> bool:
        """True when committed evidence proved ``operator`` equivocated."""
        return operator in self._banned

    def voting_set(self, epoch: int) -> VotingSet:
        """The fixed voting set of ``epoch`` (known once block ``epoch * L`` is applied)."""
        try:
            return self._voting_sets[epoch]
        except KeyError:
            raise RegistryError(f"voting set of epoch {epoch} is not known yet") from None

    def voting_set_for_height(self, height: int) -> VotingSet:
        """The voting set that votes on block ``height``."""
        return self.voting_set(epoch_of(height, self.network.epoch_length))

    # -- changes (committed blocks only) ---------------------------------------------------

    def apply_block(
        self,
        height: int,
        transactions: Sequence[Transaction],
        offenders: Iterable[bytes] = (),
        participants: Iterable[bytes] = (),
    ) -> None:
        """Apply committed block ``height``.

        ``offenders`` are the operator keys proved to equivocate by the block's
        evidence; ``participants`` the operator keys its recorded commit names.
        """
        if height != self._height + 1:
            raise RegistryError(f"expected block {self._height + 1}, got {height}")
        for tx in transactions:
            for txin in tx.inputs:
                operator = self._by_collateral.pop(txin.outpoint, None)
                if operator is not None:
                    del self._by_operator[operator]
                    self._inactive.discard(operator)
            parsed = parse_registration(tx)
            if parsed is None:
                continue
            operator, collateral = parsed
            if operator in self._by_operator or operator in self._banned:
                continue
            self._register(
                Masternode(operator, OutPoint(tx.txid, 0), collateral.payload, tier_for(collateral.amount), height)
            )
        self._banned.update(offenders)
        self._seen_this_epoch.update(participants)
        self._height = height
        if height % self.network.epoch_length == 0:
            self._close_epoch(height // self.network.epoch_length)

    def _register(self, mn: Masternode) -> None:
        self._by_operator[mn.operator] = mn
        self._by_collateral[mn.collateral] = mn.operator
        self._inactive.discard(mn.operator)

    def _close_epoch(self, next_epoch: int) -> None:
        ending = self._voting_sets.get(next_epoch - 1)
        if ending is not None:
            for operator in ending.voters:
                if operator not in self._seen_this_epoch and operator in self._by_operator:
                    self._inactive.add(operator)
        self._seen_this_epoch = set()
        self._voting_sets[next_epoch] = self._current_voting_set(next_epoch)
        for old in [e for e in self._voting_sets if e < next_epoch - 2]:
            del self._voting_sets[old]

    def _current_voting_set(self, epoch: int) -> VotingSet:
        weights = self.network.voting_weights
        return VotingSet(epoch, {mn.operator: weights[mn.tier] for mn in self.active()})

    def copy(self) -> Registry:
        """An independent copy (for snapshots and speculative application)."""
        return copy.deepcopy(self)


def block_rewards(
    network: Network, masternodes: Sequence[Masternode], fees: int, proposer_payload: bytes
) -> tuple[TxOut, ...]:
    """The reward outputs of a block: a pure function, identical on every node.

    ``network.block_reward`` is split among ``masternodes`` (the active set, ordered
    by operator key) in proportion to their tier reward weight, rounding each share
    down; the remainder of the split and all ``fees`` go to ``proposer_payload``.
    With no masternode of positive reward weight, the whole reward goes to the
    proposer. Zero-amount outputs are left out; outputs keep the masternode order,
    then the proposer's output last.
    """
    weights = [(mn, network.reward_weights[mn.tier]) for mn in sorted(masternodes, key=lambda m: m.operator)]
    total_weight = sum(w for _, w in weights)
    outputs: list[TxOut] = []
    paid = 0
    if total_weight > 0:
        for mn, weight in weights:
            share = network.block_reward * weight // total_weight
            if share:
                outputs.append(TxOut(share, mn.owner))
                paid += share
    proposer_amount = network.block_reward - paid + fees
    if proposer_amount:
        outputs.append(TxOut(proposer_amount, proposer_payload))
    return tuple(outputs)
