"""The masternode registry, derived from committed blocks only.

Theory of operation
-------------------
A masternode registers with an ordinary transaction whose memo is
``b"TCMN" | 0x01 | operator_key:32`` (37 bytes). Output 0 of that transaction is
the *collateral*; its amount decides the tier (the highest tier whose collateral is
at most the amount). Any memo starting with ``b"TCMN"`` claims to be a registration
and must be a valid one (:func:`check_registration`), or the transaction is refused:

* the collateral is at least ``network.min_collateral`` (the Free tier's floor);
* *proof of possession*: one of the transaction's inputs is signed by the operator
  key itself. That input's signature hash commits to the chain id and the txid, and
  the txid to the collateral output (amount and payout address) and the memo, so
  the operator key has signed the collateral outpoint, the chain and the payout
  address — nobody can register (or front-run) a key they do not hold.

The masternode stays registered while the collateral is unspent: spending the
collateral outpoint, by any transaction, is the deregistration. An operator key can
be registered once at a time: registering a key that is live (registered and
active) or banned is refused with :class:`DuplicateRegistrationError`; a key that
was deactivated for absence comes back by registering again with new collateral
(the old registration is replaced).

Voting weight is a network parameter per tier (``Network.voting_weights``), never
something a voter declares, and no voter's weight may reach a third of its epoch's
total: weights are capped (:func:`cap_weights`) so that one key can neither block
nor decide alone (below four voters no cap can do that;
:meth:`Registry.concentrated` says so). The voting set of an epoch is fixed from committed state:
epoch ``e`` covers heights ``e*L + 1 .. (e+1)*L`` (``L = network.epoch_length``) and
its set is taken from the registry as it stands after block ``e*L``: the active
masternodes of positive voting weight, at most :data:`MAX_VOTERS` of them (by weight,
then earliest registration, then key). Within an epoch, registrations,
deregistrations, evidence and absences change nothing; they take effect at the next
boundary, so every honest node computes the same quorum.

A masternode is *active* unless:

* committed evidence proved it equivocated (it is banned for good), or
* it was a voter for :data:`ABSENCE_EPOCHS` consecutive epochs and appeared in none
  of the commit participations recorded in those epochs' blocks (it is deactivated;
  it comes back by registering again). A block records its parent's commit
  certificate, and proposers keep adding precommits that arrive after the quorum
  formed, so a voter that is merely slower than the others is recorded too.

Rewards (:func:`block_rewards`) go only to the height's voters that are still
registered and not banned (:meth:`Registry.reward_recipients`): a node earns only
while it can be held accountable, and a block never needs more than
``MAX_VOTERS + 1`` reward outputs whatever the registry holds.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from ..errors import InvalidArgumentError, TimecoinError
from ..hashing import Tag, tagged_hash
from ..network import Network, Tier
from ..transaction import OutPoint, Transaction, TxOut
from .voting import VotingSet

__all__ = [
    "ABSENCE_EPOCHS",
    "MAX_VOTERS",
    "REGISTRATION_MAGIC",
    "DuplicateRegistrationError",
    "Masternode",
    "RegistrationError",
    "Registry",
    "RegistryError",
    "block_rewards",
    "cap_weights",
    "check_registration",
    "epoch_of",
    "parse_registration",
    "registration_claims",
    "registration_memo",
    "tier_for",
]

REGISTRATION_MAGIC = b"TCMN\x01"
_CLAIM = REGISTRATION_MAGIC[:4]

MAX_VOTERS: Final = 1_000
"""Most voters an epoch's voting set holds (and so most masternodes a block rewards)."""

ABSENCE_EPOCHS: Final = 3
"""Consecutive whole epochs a voter must be absent from every recorded commit before it
is deactivated: one unlucky epoch (a crash, a partition, a proposer leaving it out)
never costs an honest voter its place."""


class RegistryError(TimecoinError, ValueError):
    """A registry query that cannot be answered (e.g. a voting set for an unknown epoch)."""


class RegistrationError(TimecoinError, ValueError):
    """A transaction that claims to register a masternode and is not a valid registration.

    ``code`` is the reject reason; ``txid`` names the transaction.
    """

    code = "bad-registration"

    def __init__(self, message: str, txid: bytes) -> None:
        super().__init__(f"registration {txid.hex()}: {message}")
        self.txid = txid


class DuplicateRegistrationError(RegistrationError):
    """A registration of an operator key that is live (registered and active) or banned."""

    code = "duplicate-registration"


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
        raise InvalidArgumentError("operator", "operator key must be 32 bytes")
    return REGISTRATION_MAGIC + operator


def parse_registration(tx: Transaction) -> tuple[bytes, TxOut] | None:
    """``(operator_key, collateral_output)`` if ``tx``'s memo is a registration memo, else None.

    Reads the memo only; :func:`check_registration` decides whether it is valid.
    """
    memo = tx.memo
    if len(memo) != len(REGISTRATION_MAGIC) + 32 or not memo.startswith(REGISTRATION_MAGIC):
        return None
    return memo[len(REGISTRATION_MAGIC) :], tx.outputs[0]


def registration_claims(tx: Transaction) -> tuple[OutPoint, ...]:
    """The operator-key claim of a registration, as a pseudo-outpoint finality votes lock.

    Two registrations of one key conflict exactly like two spends of one coin: every
    honest masternode votes for at most one of them, so at most one becomes final.
    Empty for any other transaction.
    """
    parsed = parse_registration(tx)
    if parsed is None:
        return ()
    return (OutPoint(tagged_hash(Tag.REGISTRY, b"operator-claim" + parsed[0]), 0xFFFFFFFF),)


def check_registration(tx: Transaction, network: Network) -> tuple[bytes, TxOut] | None:
    """``(operator_key, collateral_output)`` for a valid registration, None for any other transaction.

    Raises :class:`RegistrationError` for a transaction whose memo claims a
    registration (starts with ``b"TCMN"``) but is malformed, locks less than
    ``network.min_collateral``, or carries no proof of possession (no input signed by
    the operator key). The input signatures themselves are checked by transaction
    validation; this only looks at who signed.
    """
    if not tx.memo.startswith(_CLAIM):
        return None
    parsed = parse_registration(tx)
    if parsed is None:
        raise RegistrationError("malformed registration memo", tx.txid)
    operator, collateral = parsed
    if collateral.amount < network.min_collateral:
        raise RegistrationError(
            f"collateral {collateral.amount} is below the minimum {network.min_collateral}", tx.txid
        )
    if not any(txin.public_key == operator for txin in tx.inputs):
        raise RegistrationError("no input is signed by the operator key (proof of possession)", tx.txid)
    return parsed


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
        self._absent_epochs: dict[bytes, int] = {}
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

    def is_live(self, operator: bytes) -> bool:
        """True when ``operator`` is registered and active (a new registration of it is refused)."""
        return operator in self._by_operator and operator not in self._inactive and operator not in self._banned

    def reward_recipients(self, height: int) -> list[Masternode]:
        """Who block ``height`` rewards: its voters still registered and not banned, by key."""
        voters = self.voting_set_for_height(height).voters
        return [
            mn
            for mn in (self._by_operator.get(k) for k in sorted(voters))
            if mn is not None and mn.operator not in self._banned
        ]

    def check_registrations(self, transactions: Sequence[Transaction]) -> None:
        """Refuse ``transactions`` (in block order) if one is an invalid registration here.

        Each must pass :func:`check_registration`, and name an operator key that is
        neither live nor banned, nor registered by an earlier one of ``transactions``
        (:class:`DuplicateRegistrationError`).
        """
        seen: set[bytes] = set()
        for tx in transactions:
            parsed = check_registration(tx, self.network)
            if parsed is None:
                continue
            operator = parsed[0]
            if operator in seen or self.is_live(operator) or operator in self._banned:
                raise DuplicateRegistrationError("the operator key is already registered or banned", tx.txid)
            seen.add(operator)

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
            try:
                parsed = check_registration(tx, self.network)
            except RegistrationError:
                parsed = None  # blocks are validated before they are applied: unreachable
            if parsed is None:
                continue
            operator, collateral = parsed
            if self.is_live(operator) or operator in self._banned:
                continue
            previous = self._by_operator.get(operator)
            if previous is not None:
                # A deactivated node comes back with its new collateral.
                del self._by_collateral[previous.collateral]
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
            absent = self._absent_epochs
            for operator in ending.voters:
                if operator in self._seen_this_epoch or operator not in self._by_operator:
                    absent.pop(operator, None)
                    continue
                absent[operator] = absent.get(operator, 0) + 1
                if absent[operator] >= ABSENCE_EPOCHS:
                    self._inactive.add(operator)
                    del absent[operator]
            for operator in [k for k in absent if k not in ending.voters]:
                del absent[operator]
        self._seen_this_epoch = set()
        self._voting_sets[next_epoch] = self._current_voting_set(next_epoch)
        for old in [e for e in self._voting_sets if e < next_epoch - 2]:
            del self._voting_sets[old]

    def _current_voting_set(self, epoch: int) -> VotingSet:
        weights = self.network.voting_weights
        candidates = [mn for mn in self.active() if weights[mn.tier] > 0]
        candidates.sort(key=lambda mn: (-weights[mn.tier], mn.registered_height, mn.operator))
        chosen = {mn.operator: weights[mn.tier] for mn in candidates[:MAX_VOTERS]}
        return VotingSet(epoch, cap_weights(chosen))

    def concentrated(self, epoch: int) -> bool:
        """True when one voter of ``epoch`` holds a third of the weight or more.

        Weights are capped (:func:`cap_weights`) so this happens only with fewer than
        four voters; then one key (or two colluding ones) can stop or — with one voter —
        finalize alone. A shell should warn loudly and export it as a metric.
        """
        voting_set = self.voting_set(epoch)
        return any(3 * w >= voting_set.total for w in voting_set.weights.values())

    def copy(self) -> Registry:
        """An independent copy (for snapshots and speculative application)."""
        return copy.deepcopy(self)


def cap_weights(weights: dict[bytes, int]) -> dict[bytes, int]:
    """Voting weights with every voter capped below a third of the (capped) total.

    The largest integer cap ``c`` such that ``3 * min(w, c) < sum(min(w_i, c))`` for
    every voter: no single key can block a quorum alone or, above two thirds, decide
    alone, whatever its tier. With four voters or more such a cap always exists (at
    worst equal weights); with fewer, the weights are returned unchanged and
    :meth:`Registry.concentrated` reports it. Only voting weight is capped: rewards
    still follow the tier.
    """
    if len(weights) < 4 or all(3 * w < sum(weights.values()) for w in weights.values()):
        return dict(weights)

    def fits(cap: int) -> bool:
        capped = [min(w, cap) for w in weights.values()]
        return 3 * max(capped) < sum(capped)

    low, high = 1, max(weights.values())  # fits(1) holds: n >= 4 equal weights
    while low < high:
        mid = (low + high + 1) // 2
        if fits(mid):
            low = mid
        else:
            high = mid - 1
    return {k: min(w, low) for k, w in weights.items()}


def block_rewards(
    network: Network,
    masternodes: Sequence[Masternode],
    fees: int,
    proposer_payload: bytes,
    subsidy: int | None = None,
) -> tuple[TxOut, ...]:
    """The reward outputs of a block: a pure function, identical on every node.

    ``subsidy`` is the new money the block mints (``ChainState.subsidy()``: the
    block reward until the supply reaches ``MAX_MONEY``, then what is left, then 0;
    default ``network.block_reward``). It is split among ``masternodes`` (the block's
    reward recipients, :meth:`Registry.reward_recipients`) in proportion to their tier
    reward weight, rounding each share down; the remainder of the split and all
    ``fees`` go to ``proposer_payload``. With no masternode of positive reward
    weight, the whole subsidy goes to the proposer. Zero-amount outputs are left out;
    outputs keep the masternode order (by operator key), then the proposer's output last.
    """
    minted = network.block_reward if subsidy is None else subsidy
    weights = [(mn, network.reward_weights[mn.tier]) for mn in sorted(masternodes, key=lambda m: m.operator)]
    total_weight = sum(w for _, w in weights)
    outputs: list[TxOut] = []
    paid = 0
    if total_weight > 0:
        for mn, weight in weights:
            share = minted * weight // total_weight
            if share:
                outputs.append(TxOut(share, mn.owner))
                paid += share
    proposer_amount = minted - paid + fees
    if proposer_amount:
        outputs.append(TxOut(proposer_amount, proposer_payload))
    return tuple(outputs)
