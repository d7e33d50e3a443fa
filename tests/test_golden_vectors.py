"""Golden vectors for txid, wtxid, sighash, addresses and tagged hashes.

The vectors in tests/vectors/golden.json were generated once by this module
(``python tests/test_golden_vectors.py --write``) and are listed in docs/protocol.md so
another implementation can test against them. The test recomputes them: any change
to the encoding or hashing rules shows up here as a diff, never silently.

Regenerated once since (pre-release format change, see CHANGELOG): the shared
``timecoin/certificate`` and ``timecoin/evidence`` tags were split into one tag per
purpose (finality and commit certificates, the two kinds of evidence), which replaced
one entry of ``tagged_hash_of_empty`` with four; nothing else changed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from timecoin_core.amount import coins
from timecoin_core.builder import TransactionBuilder
from timecoin_core.codec import encode_varint
from timecoin_core.hashing import Tag, tagged_hash
from timecoin_core.keys import PrivateKey
from timecoin_core.network import DEVNET, MAINNET, TESTNET
from timecoin_core.transaction import OutPoint, Transaction, TxIn, TxOut

GOLDEN = Path(__file__).parent / "vectors" / "golden.json"


def compute() -> dict[str, Any]:
    """Every golden vector, computed from the library."""
    keys = [PrivateKey.from_seed(bytes([i]) * 32) for i in range(4)]
    addresses = [
        {
            "seed": k.to_seed().hex(),
            "public_key": k.public_key.data.hex(),
            "payload": k.public_key.payload.hex(),
            "mainnet": str(k.address(MAINNET)),
            "testnet": str(k.address(TESTNET)),
        }
        for k in keys
    ]
    spent = TxOut(coins("50"), keys[0].public_key.payload)
    funding = OutPoint(bytes(range(32)), 7)
    tx = (
        TransactionBuilder(DEVNET)
        .spend(funding, spent, keys[0])
        .pay(keys[1].address(DEVNET), coins("12.5"))
        .pay(keys[0].address(DEVNET), coins("37.4999"))
        .memo(b"golden")
        .build()
    )
    unsigned = Transaction(
        [TxIn(OutPoint(b"\xff" * 32, 0xFFFFFFFF))], [TxOut(1, b"\x00" * 20)], lock_time=500, version=1
    )
    transactions = []
    for t, spent_outputs in ((tx, [spent]), (unsigned, [TxOut(2, b"\x01" * 20)])):
        transactions.append(
            {
                "hex": t.to_bytes().hex(),
                "txid": t.txid.hex(),
                "wtxid": t.wtxid.hex(),
                "sighash": {
                    net.name: [t.sighash(i, o, net).hex() for i, o in enumerate(spent_outputs)]
                    for net in (MAINNET, TESTNET, DEVNET)
                },
                "spent_outputs": [{"amount": o.amount, "payload": o.payload.hex()} for o in spent_outputs],
            }
        )
    return {
        "tagged_hash_of_empty": {tag.value: tagged_hash(tag, b"").hex() for tag in Tag},
        "varint": {str(v): encode_varint(v).hex() for v in (0, 252, 253, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1)},
        "addresses": addresses,
        "transactions": transactions,
    }


def test_golden_vectors_match() -> None:
    expected = json.loads(GOLDEN.read_text())
    assert compute() == expected


def test_every_tag_serves_one_purpose() -> None:
    # An Enum silently aliases equal values; a shared tag string would hide here.
    assert len({tag.value for tag in Tag}) == len(Tag) == len(Tag.__members__)
    sides = {Tag.FINALITY_CERTIFICATE, Tag.COMMIT_CERTIFICATE, Tag.CONFLICTING_VOTES_EVIDENCE, Tag.DOUBLE_VOTE_EVIDENCE}
    assert len(sides | {Tag.EVIDENCE}) == 5


def test_golden_transactions_decode_to_themselves() -> None:
    for entry in json.loads(GOLDEN.read_text())["transactions"]:
        tx = Transaction.from_bytes(bytes.fromhex(entry["hex"]))
        assert tx.txid.hex() == entry["txid"]
        assert tx.to_bytes().hex() == entry["hex"]


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(compute(), indent=1) + "\n")
        print(f"wrote {GOLDEN}")
    else:
        print(json.dumps(compute(), indent=1))
