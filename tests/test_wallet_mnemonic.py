"""BIP-0039 mnemonics: official vectors, wordlist integrity, error messages, properties."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timecoin_core.errors import TimecoinError
from timecoin_core.wallet import (
    MnemonicError,
    english_wordlist,
    entropy_to_mnemonic,
    generate_mnemonic,
    is_valid_mnemonic,
    mnemonic_to_entropy,
    mnemonic_to_seed,
)

ENGLISH_SHA256 = "2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda"
STRENGTHS = (128, 160, 192, 224, 256)
ZERO_12 = "abandon " * 11 + "about"

_VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "bip39_english.json").read_text(encoding="utf-8")
)
VECTORS: list[dict[str, str]] = _VECTORS["vectors"]
PASSPHRASE: str = _VECTORS["passphrase"]

entropies = st.sampled_from(STRENGTHS).flatmap(
    lambda bits: st.binary(min_size=bits // 8, max_size=bits // 8)
)


def _checksum_ok(indices: list[int]) -> tuple[bool, bytes]:
    """An independent reading of BIP-0039: split the bits, recompute the checksum."""
    total = len(indices) * 11
    cs = total // 33
    bits = 0
    for i in indices:
        bits = (bits << 11) | i
    entropy = (bits >> cs).to_bytes((total - cs) // 8, "big")
    digest_bits = int.from_bytes(hashlib.sha256(entropy).digest(), "big")
    return bits & ((1 << cs) - 1) == digest_bits >> (256 - cs), entropy


# --- wordlist -------------------------------------------------------------------


def test_wordlist_file_is_the_official_english_list() -> None:
    data = resources.files("timecoin_core.wallet").joinpath("english.txt").read_bytes()
    assert hashlib.sha256(data).hexdigest() == ENGLISH_SHA256


def test_wordlist_shape() -> None:
    words = english_wordlist()
    assert len(words) == 2048
    assert words[0] == "abandon" and words[-1] == "zoo"
    assert list(words) == sorted(words)
    # BIP-0039's promise for English: the first four letters identify a word.
    assert len({w[:4] for w in words}) == 2048


# --- official vectors -----------------------------------------------------------


def test_vector_file_has_all_24_cases() -> None:
    assert len(VECTORS) == 24
    assert PASSPHRASE == "TREZOR"


@pytest.mark.parametrize("case", VECTORS, ids=lambda c: c["entropy"][:8] + str(len(c["entropy"])))
def test_official_vector(case: dict[str, str]) -> None:
    entropy = bytes.fromhex(case["entropy"])
    assert entropy_to_mnemonic(entropy) == case["mnemonic"]
    assert mnemonic_to_entropy(case["mnemonic"]) == entropy
    assert is_valid_mnemonic(case["mnemonic"])
    assert mnemonic_to_seed(case["mnemonic"], PASSPHRASE).hex() == case["seed"]


def test_seed_without_passphrase_differs_from_trezor_seed() -> None:
    plain = mnemonic_to_seed(ZERO_12)
    assert len(plain) == 64
    assert plain != mnemonic_to_seed(ZERO_12, "TREZOR")


# --- generation -----------------------------------------------------------------


@pytest.mark.parametrize("strength", STRENGTHS)
def test_generate_mnemonic_strengths(strength: int) -> None:
    words = generate_mnemonic(strength)
    assert len(words.split(" ")) == (strength + strength // 32) // 11
    assert len(mnemonic_to_entropy(words)) == strength // 8


def test_generate_mnemonic_defaults_to_24_words_and_is_random() -> None:
    first, second = generate_mnemonic(), generate_mnemonic()
    assert len(first.split()) == 24
    assert first != second


@pytest.mark.parametrize("strength", [0, 64, 127, 129, 255, 288, 512, True, 256.0, "256"])
def test_generate_mnemonic_rejects_other_strengths(strength: Any) -> None:
    with pytest.raises(MnemonicError, match="strength"):
        generate_mnemonic(strength)


@pytest.mark.parametrize("size", [0, 1, 15, 17, 31, 33, 64])
def test_entropy_to_mnemonic_rejects_other_sizes(size: int) -> None:
    with pytest.raises(MnemonicError, match=f"not {size}"):
        entropy_to_mnemonic(bytes(size))


def test_entropy_to_mnemonic_accepts_bytes_likes_and_rejects_others() -> None:
    assert entropy_to_mnemonic(bytearray(16)) == ZERO_12  # type: ignore[arg-type]
    assert entropy_to_mnemonic(memoryview(bytes(16))) == ZERO_12  # type: ignore[arg-type]
    with pytest.raises(MnemonicError, match="must be bytes"):
        entropy_to_mnemonic("00" * 16)  # type: ignore[arg-type]


# --- errors ---------------------------------------------------------------------


def test_error_hierarchy() -> None:
    assert issubclass(MnemonicError, TimecoinError)
    assert issubclass(MnemonicError, ValueError)


def test_unknown_word_is_named_with_its_position() -> None:
    words = ZERO_12.replace("about", "abuot")
    with pytest.raises(MnemonicError, match=r"unknown word 'abuot' at position 12"):
        mnemonic_to_seed(words)
    assert not is_valid_mnemonic(words)


def test_capitalised_word_gets_a_hint() -> None:
    with pytest.raises(MnemonicError, match=r"'Abandon' at position 1.*lowercase"):
        mnemonic_to_entropy("Abandon" + ZERO_12[len("abandon") :])


@pytest.mark.parametrize("count", [0, 1, 11, 13, 14, 16, 23, 25, 48])
def test_wrong_word_count(count: int) -> None:
    words = " ".join(["abandon"] * count)
    with pytest.raises(MnemonicError, match=f"12, 15, 18, 21 or 24 words, not {count}"):
        mnemonic_to_seed(words)
    assert not is_valid_mnemonic(words)


def test_bad_checksum() -> None:
    words = "abandon " * 12
    with pytest.raises(MnemonicError, match="checksum"):
        mnemonic_to_seed(words)
    with pytest.raises(MnemonicError, match="checksum"):
        mnemonic_to_entropy(words)
    assert not is_valid_mnemonic(words)


def test_word_count_is_checked_before_words() -> None:
    with pytest.raises(MnemonicError, match="not 3"):
        mnemonic_to_entropy("not real words")


def test_non_string_inputs() -> None:
    with pytest.raises(MnemonicError, match="must be a string"):
        mnemonic_to_entropy(ZERO_12.encode())  # type: ignore[arg-type]
    with pytest.raises(MnemonicError, match="passphrase must be a string"):
        mnemonic_to_seed(ZERO_12, b"x")  # type: ignore[arg-type]
    assert not is_valid_mnemonic(None)  # type: ignore[arg-type]


def test_error_message_does_not_echo_the_mnemonic() -> None:
    case = VECTORS[-1]["mnemonic"].split()
    case[-1] = "zzzz"
    with pytest.raises(MnemonicError) as info:
        mnemonic_to_seed(" ".join(case))
    assert " ".join(case[:3]) not in str(info.value)


# --- normalisation --------------------------------------------------------------


def test_whitespace_layout_does_not_change_the_seed() -> None:
    messy = "  " + ZERO_12.replace(" ", " \n\t ", 3) + "\n"
    assert is_valid_mnemonic(messy)
    assert mnemonic_to_seed(messy, "TREZOR") == mnemonic_to_seed(ZERO_12, "TREZOR")
    assert mnemonic_to_seed(messy, "TREZOR").hex() == VECTORS[0]["seed"]


def test_passphrase_is_nfkd_normalised() -> None:
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    assert mnemonic_to_seed(ZERO_12, composed) == mnemonic_to_seed(ZERO_12, decomposed)
    assert mnemonic_to_seed(ZERO_12, composed) != mnemonic_to_seed(ZERO_12, "cafe")


def test_compatibility_forms_of_words_are_normalised() -> None:
    fullwidth = ZERO_12.replace("about", "\uff41bout")  # FULLWIDTH LATIN SMALL LETTER A
    assert mnemonic_to_seed(fullwidth) == mnemonic_to_seed(ZERO_12)


# --- checksum, exhaustively and as a property -----------------------------------


@pytest.mark.parametrize(
    ("count", "valid_last_words"), [(12, 128), (15, 64), (18, 32), (21, 16), (24, 8)]
)
def test_exactly_one_checksum_per_entropy(count: int, valid_last_words: int) -> None:
    # The last word carries 11 - cs entropy bits and cs checksum bits, so with the first
    # words fixed exactly 2**(11 - cs) of the 2048 candidates are valid.
    prefix = "abandon " * (count - 1)
    accepted = [w for w in english_wordlist() if is_valid_mnemonic(prefix + w)]
    assert len(accepted) == valid_last_words


@given(entropies)
def test_entropy_round_trip(entropy: bytes) -> None:
    words = entropy_to_mnemonic(entropy)
    assert len(words.split(" ")) == len(entropy) * 8 * 33 // 32 // 11
    assert mnemonic_to_entropy(words) == entropy
    assert is_valid_mnemonic(words)


@given(entropies, st.data())
def test_single_word_substitution_is_caught_exactly_when_checksum_breaks(
    entropy: bytes, data: st.DataObject
) -> None:
    words = entropy_to_mnemonic(entropy).split(" ")
    position = data.draw(st.integers(0, len(words) - 1), label="position")
    replacement = data.draw(
        st.sampled_from(english_wordlist()).filter(lambda w: w != words[position]),
        label="replacement",
    )
    words[position] = replacement
    index = {w: i for i, w in enumerate(english_wordlist())}
    ok, expected_entropy = _checksum_ok([index[w] for w in words])
    sentence = " ".join(words)
    if ok:
        assert mnemonic_to_entropy(sentence) == expected_entropy
        assert expected_entropy != entropy
    else:
        with pytest.raises(MnemonicError, match="checksum"):
            mnemonic_to_entropy(sentence)
        with pytest.raises(MnemonicError, match="checksum"):
            mnemonic_to_seed(sentence)


def test_most_single_word_substitutions_are_caught() -> None:
    # With a 4-bit checksum about 1 in 16 substitutions slips through; with 8 bits,
    # about 1 in 256. Deterministic sample: every word at three positions.
    long_case = next(c for c in VECTORS if len(c["mnemonic"].split()) == 24)
    for case in (VECTORS[0], long_case):
        words = case["mnemonic"].split()
        cs = len(words) * 11 // 33
        tried = caught = 0
        for position in (0, len(words) // 2, len(words) - 1):
            for word in english_wordlist():
                if word == words[position]:
                    continue
                candidate = words.copy()
                candidate[position] = word
                tried += 1
                caught += not is_valid_mnemonic(" ".join(candidate))
        assert caught / tried > 1 - 2 / 2**cs
