"""``NetworkFixture``: a devnet with N genesis masternodes and funded coins, for multi-node tests.

Everything is derived from a seed: the masternode operator keys, the node identity
keys, the wallet key and its coins (one genesis output each, so any two payments are
independent and can be final in any order). :meth:`NetworkFixture.payment` builds a
signed transaction spending one of those coins.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from timecoin_core.amount import COIN
from timecoin_core.block import genesis_block
from timecoin_core.builder import TransactionBuilder
from timecoin_core.errors import InvalidArgumentError
from timecoin_core.hashing import sha256
from timecoin_core.keys import PrivateKey
from timecoin_core.network import DEVNET, GenesisMasternode, GenesisOutput, Network, Tier
from timecoin_core.transaction import OutPoint, Transaction, TxOut

__all__ = ["NetworkFixture"]

COIN_VALUE = 10 * COIN
FEE = 10_000


@dataclass(frozen=True)
class NetworkFixture:
    """A network, its masternodes' keys, node identities and a funded wallet (see the module docstring)."""

    network: Network
    masternode_keys: tuple[PrivateKey, ...]
    node_keys: tuple[PrivateKey, ...]
    wallet: PrivateKey
    coins: tuple[tuple[OutPoint, TxOut], ...]

    @classmethod
    def create(
        cls, masternodes: int = 4, *, coins: int = 64, block_interval: float = 1.0, seed: bytes = b"timecoin-net"
    ) -> NetworkFixture:
        """A devnet whose genesis registers ``masternodes`` masternodes and funds ``coins`` coins."""
        if not 1 <= masternodes <= 64:
            raise InvalidArgumentError("masternodes", "must be in 1..64")
        if not 0 <= coins <= 100_000:
            raise InvalidArgumentError("coins", "must be in 0..100,000")
        keys = tuple(PrivateKey.from_seed(sha256(seed + b"/masternode/%d" % i)) for i in range(masternodes))
        node_keys = tuple(PrivateKey.from_seed(sha256(seed + b"/node/%d" % i)) for i in range(masternodes + 8))
        wallet = PrivateKey.from_seed(sha256(seed + b"/wallet"))
        owner = PrivateKey.from_seed(sha256(seed + b"/owner"))
        outputs = [GenesisOutput(owner.public_key.payload, Tier.BRONZE.collateral) for _ in keys]
        outputs += [GenesisOutput(wallet.public_key.payload, COIN_VALUE) for _ in range(coins)]
        network = replace(DEVNET, block_interval=block_interval).with_genesis(
            tuple(outputs), tuple(GenesisMasternode(k.public_key.data, i) for i, k in enumerate(keys))
        )
        reward_txid = genesis_block(network).reward_txid
        funded = tuple(
            (OutPoint(reward_txid, masternodes + i), TxOut(COIN_VALUE, wallet.public_key.payload)) for i in range(coins)
        )
        return cls(network, keys, node_keys, wallet, funded)

    def payment(self, index: int, *, amount: int = COIN, to: PrivateKey | None = None) -> Transaction:
        """A signed transaction spending coin ``index``: ``amount`` to ``to`` (default: a fixed key), change back."""
        outpoint, output = self.coins[index]
        payee = to or PrivateKey.from_seed(sha256(b"payee"))
        return (
            TransactionBuilder(self.network)
            .spend(outpoint, output, self.wallet)
            .pay(payee.public_key.address(self.network), amount)
            .pay(self.wallet.public_key.address(self.network), output.amount - amount - FEE)
            .build()
        )
