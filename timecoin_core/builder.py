"""TransactionBuilder: collect inputs and outputs, get back a fully signed transaction."""

from __future__ import annotations

from typing import Self

from .amount import check_amount
from .errors import AddressError, InvalidArgumentError, TimecoinError
from .keys import Address, PrivateKey
from .network import Network
from .transaction import MAX_MEMO, OutPoint, Transaction, TxIn, TxOut

__all__ = ["BuilderArgumentError", "BuilderError", "TransactionBuilder"]


class BuilderError(TimecoinError, ValueError):
    """The builder was asked for something that cannot make a valid transaction."""


class BuilderArgumentError(BuilderError, InvalidArgumentError):
    """A builder argument of the wrong type; ``parameter`` names it.

    Both a :class:`BuilderError` and an :class:`~timecoin_core.InvalidArgumentError`
    (so also a ``TypeError``).
    """


class TransactionBuilder:
    """Builds and signs a transaction for one network.

    >>> tx = (TransactionBuilder(DEVNET)
    ...       .spend(outpoint, spent_output, key)
    ...       .pay(address, coins("1"))
    ...       .build())  # doctest: +SKIP

    The builder checks what it can locally (the key owns the spent output, addresses
    belong to the network, amounts are in range); fee and existence of the inputs are
    checked by validation against a UTXO view.
    """

    def __init__(self, network: Network) -> None:
        if not isinstance(network, Network):
            raise BuilderArgumentError("network", f"expected a Network, not {type(network).__name__}")
        self.network = network
        self._spends: list[tuple[OutPoint, TxOut, PrivateKey]] = []
        self._outputs: list[TxOut] = []
        self._memo = b""
        self._lock_time = 0

    def spend(self, outpoint: OutPoint, spent_output: TxOut, private_key: PrivateKey) -> Self:
        """Add an input spending ``outpoint`` (whose output is ``spent_output``) with ``private_key``."""
        for parameter, value, expected in (
            ("outpoint", outpoint, OutPoint),
            ("spent_output", spent_output, TxOut),
            ("private_key", private_key, PrivateKey),
        ):
            if not isinstance(value, expected):
                raise BuilderArgumentError(
                    parameter, f"expected {expected.__name__}, not {type(value).__name__}"
                )
        if private_key.public_key.payload != spent_output.payload:
            raise BuilderError(f"the key for {outpoint} does not own the output it spends")
        if any(o == outpoint for o, _, _ in self._spends):
            raise BuilderError(f"outpoint {outpoint} is already spent by this transaction")
        self._spends.append((outpoint, spent_output, private_key))
        return self

    def pay(self, address: Address | str, amount: int) -> Self:
        """Add an output paying ``amount`` base units (an ``int``) to ``address``.

        ``address`` is an :class:`~timecoin_core.keys.Address` or an address string of
        the builder's network. Raises :class:`BuilderError` naming the parameter for a
        value of the wrong type, :class:`~timecoin_core.errors.AddressError` for an
        address of another network.
        """
        if isinstance(address, str):
            address = Address.parse(address, self.network)
        elif not isinstance(address, Address):
            raise BuilderError(f"address must be an Address or an address string, not {type(address).__name__}")
        if type(amount) is not int:
            raise BuilderError(
                f"amount must be an int of base units, not {type(amount).__name__} (use coins('1.5') for TIME)"
            )
        if address.digit != self.network.address_digit:
            raise AddressError(f"address {address} is not a {self.network.name} address")
        if check_amount(amount) == 0:
            raise BuilderError("cannot pay an amount of zero")
        self._outputs.append(TxOut(amount, address.payload))
        return self

    def memo(self, memo: bytes) -> Self:
        """Attach a short memo (at most MAX_MEMO bytes)."""
        if not isinstance(memo, bytes | bytearray):
            raise BuilderError(f"memo must be bytes, not {type(memo).__name__}")
        if len(memo) > MAX_MEMO:
            raise BuilderError(f"memo is {len(memo)} bytes, at most {MAX_MEMO} allowed")
        self._memo = bytes(memo)
        return self

    def lock_time(self, lock_time: int) -> Self:
        """Set the transaction's lock_time (u32)."""
        if not 0 <= lock_time <= 0xFFFFFFFF:
            raise BuilderError("lock_time must be a u32")
        self._lock_time = lock_time
        return self

    def build(self) -> Transaction:
        """The transaction with every input signed over its sighash."""
        if not self._spends:
            raise BuilderError("a transaction needs at least one input")
        if not self._outputs:
            raise BuilderError("a transaction needs at least one output")
        unsigned = Transaction(
            [TxIn(o) for o, _, _ in self._spends], self._outputs, self._lock_time, self._memo
        )
        witnesses = [
            (key.public_key.data, key.sign(unsigned.sighash(i, spent, self.network)))
            for i, (_, spent, key) in enumerate(self._spends)
        ]
        return unsigned.with_witnesses(witnesses)
