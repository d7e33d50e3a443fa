"""BIP-0039 mnemonic sentences (English wordlist) and the seeds they stand for.

A mnemonic encodes 128 to 256 bits of entropy plus a checksum of ``entropy_bits / 32``
bits taken from SHA-256 of the entropy, as words of 11 bits each. The 64-byte seed is
PBKDF2-HMAC-SHA512 over the NFKD-normalised sentence, salted with ``"mnemonic"`` plus
the optional passphrase, 2048 rounds.

Parsing is strict about content and lenient about layout: every word must be in the
English wordlist and the checksum must match, but runs of whitespace are accepted and
the seed is always computed from the canonical sentence (words joined by one space), so
``"abandon  abandon ..."`` and ``"abandon abandon ..."`` can never yield two wallets.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from functools import cache
from importlib import resources

from ..errors import TimecoinError

__all__ = [
    "MnemonicError",
    "english_wordlist",
    "entropy_to_mnemonic",
    "generate_mnemonic",
    "is_valid_mnemonic",
    "mnemonic_to_entropy",
    "mnemonic_to_seed",
]

_WORDLIST_SIZE = 2048
_BITS_PER_WORD = 11
_STRENGTHS = (128, 160, 192, 224, 256)
_WORD_COUNTS = tuple((s + s // 32) // _BITS_PER_WORD for s in _STRENGTHS)
_PBKDF2_ROUNDS = 2048


class MnemonicError(TimecoinError, ValueError):
    """A mnemonic that is not valid BIP-0039 English, or entropy of an unsupported size."""


@cache
def english_wordlist() -> tuple[str, ...]:
    """The 2048 words of the official BIP-0039 English wordlist, in index order."""
    text = resources.files(__package__).joinpath("english.txt").read_text(encoding="utf-8")
    words = tuple(text.split())
    if len(words) != _WORDLIST_SIZE or len(set(words)) != _WORDLIST_SIZE:
        raise RuntimeError("english.txt is damaged: expected 2048 distinct words")
    return words


@cache
def _word_index() -> dict[str, int]:
    return {word: i for i, word in enumerate(english_wordlist())}


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFKD", text)


def generate_mnemonic(strength: int = 256) -> str:
    """A fresh mnemonic of ``strength`` bits of entropy from the OS random source.

    ``strength`` is 128, 160, 192, 224 or 256, giving 12, 15, 18, 21 or 24 words.
    """
    if type(strength) is not int or strength not in _STRENGTHS:
        raise MnemonicError(
            f"mnemonic strength must be one of {', '.join(map(str, _STRENGTHS))} bits, "
            f"not {strength!r}"
        )
    return entropy_to_mnemonic(os.urandom(strength // 8))


def entropy_to_mnemonic(entropy: bytes) -> str:
    """The mnemonic sentence (words joined by single spaces) that encodes ``entropy``.

    ``entropy`` is 16, 20, 24, 28 or 32 bytes.
    """
    if not isinstance(entropy, bytes | bytearray | memoryview):
        raise MnemonicError(f"entropy must be bytes, not {type(entropy).__name__}")
    entropy = bytes(entropy)
    entropy_bits = len(entropy) * 8
    if entropy_bits not in _STRENGTHS:
        raise MnemonicError(f"entropy must be 16, 20, 24, 28 or 32 bytes, not {len(entropy)}")
    checksum_bits = entropy_bits // 32
    checksum = hashlib.sha256(entropy).digest()[0] >> (8 - checksum_bits)
    bits = (int.from_bytes(entropy, "big") << checksum_bits) | checksum
    count = (entropy_bits + checksum_bits) // _BITS_PER_WORD
    words = english_wordlist()
    return " ".join(
        words[(bits >> (_BITS_PER_WORD * (count - 1 - i))) & (_WORDLIST_SIZE - 1)]
        for i in range(count)
    )


def _split(words: str) -> list[str]:
    if not isinstance(words, str):
        raise MnemonicError(f"mnemonic must be a string, not {type(words).__name__}")
    parts = _normalize(words).split()
    if len(parts) not in _WORD_COUNTS:
        raise MnemonicError(f"a mnemonic has 12, 15, 18, 21 or 24 words, not {len(parts)}")
    return parts


def _decode(parts: list[str]) -> bytes:
    index = _word_index()
    bits = 0
    for position, word in enumerate(parts, start=1):
        value = index.get(word)
        if value is None:
            hint = " (words are lowercase)" if word.lower() in index else ""
            raise MnemonicError(
                f"unknown word {word!r} at position {position}: not in the BIP-0039 "
                f"English wordlist{hint}"
            )
        bits = (bits << _BITS_PER_WORD) | value
    total_bits = len(parts) * _BITS_PER_WORD
    checksum_bits = total_bits // 33
    entropy_bits = total_bits - checksum_bits
    entropy = (bits >> checksum_bits).to_bytes(entropy_bits // 8, "big")
    expected = hashlib.sha256(entropy).digest()[0] >> (8 - checksum_bits)
    if bits & ((1 << checksum_bits) - 1) != expected:
        raise MnemonicError(
            "mnemonic checksum does not match: a word is mistyped, missing or out of order"
        )
    return entropy


def mnemonic_to_entropy(words: str) -> bytes:
    """The entropy a mnemonic encodes; raises :class:`MnemonicError` if it is not valid.

    The error names an unknown word, a wrong word count, or a bad checksum.
    """
    return _decode(_split(words))


def is_valid_mnemonic(words: str) -> bool:
    """True when ``words`` is a valid English mnemonic (known words, right count, checksum)."""
    try:
        mnemonic_to_entropy(words)
    except MnemonicError:
        return False
    return True


def mnemonic_to_seed(words: str, passphrase: str = "") -> bytes:
    """The 64-byte BIP-0039 seed of a valid mnemonic and an optional passphrase.

    The mnemonic is validated first (raises :class:`MnemonicError`): BIP-0039 itself
    would hash any string, and a typo would silently open an empty wallet.
    """
    parts = _split(words)
    _decode(parts)
    if not isinstance(passphrase, str):
        raise MnemonicError(f"passphrase must be a string, not {type(passphrase).__name__}")
    sentence = " ".join(parts).encode("utf-8")
    salt = ("mnemonic" + _normalize(passphrase)).encode("utf-8")
    return hashlib.pbkdf2_hmac("sha512", sentence, salt, _PBKDF2_ROUNDS)
