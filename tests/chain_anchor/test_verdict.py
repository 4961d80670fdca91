"""Validator verdict records: round trip, exact signed bytes, and every malformation and forgery refused."""

from __future__ import annotations

import hashlib
import struct

import pytest

from chain_anchor.errors import BadSignature, UnknownKey, VerdictFormatError
from chain_anchor.hashing import TAG_VERDICT, leaf_hash
from chain_anchor.keys import KeyRing, Signer
from chain_anchor.verdict import (
    VerdictEntry,
    decode_verdict,
    encode_verdict,
    verdict_signing_bytes,
    verify_verdict,
)

VALIDATOR = Signer.from_seed(b"\x42" * 32)
OTHER = Signer.from_seed(b"\x43" * 32)
TRUSTED = KeyRing([VALIDATOR.public_key_raw])
AT = "2026-12-01T08:00:00.123456Z"
ENTRIES = (VerdictEntry(3, 17, b'{"id":"a"}'), VerdictEntry(0, 2**40, b'{"id":"b","note":"\xe7\x85\xa4"}'))


def test_round_trip_and_signature() -> None:
    record = encode_verdict(ENTRIES, AT, VALIDATOR)
    verdict = decode_verdict(record)
    assert verdict.entries == ENTRIES
    assert (verdict.key_id, verdict.verified_at) == (VALIDATOR.key_id, AT)
    assert verify_verdict(verdict, TRUSTED) == [leaf_hash(e.leaf) for e in ENTRIES]


def test_exact_bytes() -> None:
    """The layout of docs/ledger-format.md §9, rebuilt by hand."""
    record = encode_verdict(ENTRIES, AT, VALIDATOR)
    kid = hashlib.sha256(VALIDATOR.public_key_raw).digest()
    signed = (TAG_VERDICT + kid + bytes([len(AT)]) + AT.encode() + struct.pack(">I", 2)
              + b"".join(hashlib.sha256(b"\x00" + e.leaf).digest() + struct.pack(">IQ", e.raw_partition, e.raw_offset)
                         for e in ENTRIES))
    assert verdict_signing_bytes(kid, AT, [leaf_hash(e.leaf) for e in ENTRIES],
                                 [(e.raw_partition, e.raw_offset) for e in ENTRIES]) == signed
    signature = VALIDATOR.sign(signed)
    body = b"".join(struct.pack(">IQI", e.raw_partition, e.raw_offset, len(e.leaf)) + e.leaf for e in ENTRIES)
    assert record == TAG_VERDICT + kid + signature + bytes([len(AT)]) + AT.encode() + struct.pack(">I", 2) + body


def test_unknown_key_and_bad_signature() -> None:
    with pytest.raises(UnknownKey):
        verify_verdict(decode_verdict(encode_verdict(ENTRIES, AT, OTHER)), TRUSTED)
    record = bytearray(encode_verdict(ENTRIES, AT, VALIDATOR))
    record[-1] ^= 1  # one leaf byte changed after signing
    with pytest.raises(BadSignature):
        verify_verdict(decode_verdict(bytes(record)), TRUSTED)
    moved = encode_verdict(ENTRIES, AT, VALIDATOR).replace(struct.pack(">IQI", 3, 17, 10),
                                                           struct.pack(">IQI", 4, 17, 10))
    with pytest.raises(BadSignature):  # a raw position changed after signing
        verify_verdict(decode_verdict(moved), TRUSTED)


def _mutations() -> list[tuple[str, bytes]]:
    good = encode_verdict(ENTRIES, AT, VALIDATOR)
    head = len(TAG_VERDICT) + 32 + 64
    at_end = head + 1 + len(AT)
    return [
        ("empty", b""),
        ("garbage", b"\x00" * 16),
        ("wrong tag", b"X" + good[1:]),
        ("truncated inside verified_at", good[: head + 5]),
        ("truncated in count", good[: at_end + 2]),
        ("truncated in entry head", good[: at_end + 4 + 6]),
        ("truncated in leaf", good[:-1]),
        ("trailing byte", good + b"\x00"),
        ("zero entries", good[:at_end] + struct.pack(">I", 0)),
        ("non-ascii time", good[:head] + bytes([len(AT)]) + "２".encode().ljust(len(AT), b"Z") + good[at_end:]),
        ("not a time", good[:head] + bytes([len(AT)]) + b"x" * len(AT) + good[at_end:]),
        ("impossible date", good[:head] + bytes([len(AT)]) + AT.replace("12-01", "13-01").encode() + good[at_end:]),
    ]


@pytest.mark.parametrize(("what", "value"), _mutations(), ids=[m[0] for m in _mutations()])
def test_malformed_records_are_refused(what: str, value: bytes) -> None:
    with pytest.raises(VerdictFormatError):
        decode_verdict(value)


def test_encoder_refuses_what_it_cannot_encode() -> None:
    with pytest.raises(VerdictFormatError):
        encode_verdict([], AT, VALIDATOR)
    with pytest.raises(VerdictFormatError):
        encode_verdict(ENTRIES, "2026-12-01 08:00:00", VALIDATOR)
    with pytest.raises(VerdictFormatError):
        encode_verdict([VerdictEntry(2**32, 0, b"{}")], AT, VALIDATOR)
    with pytest.raises(VerdictFormatError):
        encode_verdict([VerdictEntry(0, -1, b"{}")], AT, VALIDATOR)
    with pytest.raises(VerdictFormatError):
        encode_verdict(ENTRIES, "2026-12-01T08:00:00." + "1" * 300 + "Z", VALIDATOR)
