"""Wallet building blocks: BIP-0039 mnemonics and SLIP-0010 Ed25519 key derivation."""

from __future__ import annotations

from .mnemonic import (
    MnemonicError,
    english_wordlist,
    entropy_to_mnemonic,
    generate_mnemonic,
    is_valid_mnemonic,
    mnemonic_to_entropy,
    mnemonic_to_seed,
)
from .slip10 import (
    COIN_TYPE,
    HARDENED_OFFSET,
    PURPOSE,
    DerivationError,
    ExtendedKey,
    account_path,
    address_path,
    derive_key,
    derive_path,
    master_node,
    parse_path,
)

__all__ = [
    "COIN_TYPE",
    "HARDENED_OFFSET",
    "PURPOSE",
    "DerivationError",
    "ExtendedKey",
    "MnemonicError",
    "account_path",
    "address_path",
    "derive_key",
    "derive_path",
    "english_wordlist",
    "entropy_to_mnemonic",
    "generate_mnemonic",
    "is_valid_mnemonic",
    "master_node",
    "mnemonic_to_entropy",
    "mnemonic_to_seed",
    "parse_path",
]
