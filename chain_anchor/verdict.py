"""Validator verdicts: a validator's signed statement "these leaves, read at these raw positions, passed".

A validator sends ONE verdict record to the accepted topic per fetched batch (split in several when large),
and the sequencer checks ONE Ed25519 signature per record, by a validator key of the trust set, instead of
believing whatever the topic holds. Byte format (``docs/ledger-format.md`` §9), all integers big-endian:

    record  = TAG_VERDICT ‖ key_id (32 raw bytes) ‖ signature (64) ‖ u8 len(verified_at) ‖ verified_at
              ‖ u32 n ‖ n × (u32 raw_partition ‖ u64 raw_offset ‖ u32 len(leaf) ‖ leaf)
    signed  = TAG_VERDICT ‖ key_id (32) ‖ u8 len(verified_at) ‖ verified_at
              ‖ u32 n ‖ n × (leaf_hash(leaf) (32) ‖ u32 raw_partition ‖ u64 raw_offset)

``key_id`` is the raw SHA-256 of the validator's public key (its hex is the usual key id), ``verified_at``
the validator's clock reading as RFC 3339 UTC (ASCII), ``leaf_hash`` the RFC 6962 leaf hash. Parsing is
strict: anything else, or a single trailing byte, is :class:`~chain_anchor.errors.VerdictFormatError`.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from chain_anchor.block import RFC3339_UTC
from chain_anchor.errors import VerdictFormatError
from chain_anchor.hashing import HASH_SIZE, TAG_VERDICT, leaf_hash
from chain_anchor.keys import KeyRing, Signer

__all__ = ["Verdict", "VerdictEntry", "decode_verdict", "encode_verdict", "verdict_signing_bytes", "verify_verdict"]

SIGNATURE_SIZE = 64
_ENTRY_HEAD = struct.Struct(">IQI")  # raw partition, raw offset, leaf length
_POSITION = struct.Struct(">IQ")
_COUNT = struct.Struct(">I")
_U32_MAX = 2**32 - 1
_U64_MAX = 2**64 - 1


@dataclass(slots=True)  # not frozen: one per event, and a frozen init costs 4x (object.__setattr__ per field)
class VerdictEntry:
    """One accepted event: its canonical leaf bytes and where the validator read it."""

    raw_partition: int
    raw_offset: int
    leaf: bytes


@dataclass(frozen=True, slots=True)
class Verdict:
    """A parsed verdict record. Parsing checks the format only: :func:`verify_verdict` checks the signature."""

    key_id: str  # hex
    signature: bytes
    verified_at: str
    entries: tuple[VerdictEntry, ...]


def verdict_signing_bytes(key_id_raw: bytes, verified_at: str, hashes: Sequence[bytes],
                          positions: Sequence[tuple[int, int]]) -> bytes:
    """The bytes a validator signs for entries with leaf hashes ``hashes`` read at ``positions``."""
    at = verified_at.encode("ascii")
    parts = [TAG_VERDICT, key_id_raw, bytes([len(at)]), at, _COUNT.pack(len(hashes))]
    for digest, (partition, offset) in zip(hashes, positions, strict=True):
        parts.append(digest)
        parts.append(_POSITION.pack(partition, offset))
    return b"".join(parts)


def encode_verdict(entries: Sequence[VerdictEntry], verified_at: str, signer: Signer) -> bytes:
    """Sign ``entries`` (at least one) as read at ``verified_at`` and return the record bytes."""
    if not entries:
        raise VerdictFormatError("a verdict holds at least one entry")
    _check_time(verified_at)
    for e in entries:
        if not (0 <= e.raw_partition <= _U32_MAX and 0 <= e.raw_offset <= _U64_MAX and len(e.leaf) <= _U32_MAX):
            raise VerdictFormatError("raw partition, raw offset or leaf length out of range")
    kid = bytes.fromhex(signer.key_id)
    hashes = [leaf_hash(e.leaf) for e in entries]
    signature = signer.sign(verdict_signing_bytes(kid, verified_at, hashes,
                                                  [(e.raw_partition, e.raw_offset) for e in entries]))
    at = verified_at.encode("ascii")
    parts = [TAG_VERDICT, kid, signature, bytes([len(at)]), at, _COUNT.pack(len(entries))]
    for e in entries:
        parts.append(_ENTRY_HEAD.pack(e.raw_partition, e.raw_offset, len(e.leaf)))
        parts.append(e.leaf)
    return b"".join(parts)


def decode_verdict(value: bytes) -> Verdict:
    """Parse a verdict record; raise :class:`VerdictFormatError` naming what is wrong."""
    view = memoryview(value)
    fixed = len(TAG_VERDICT) + HASH_SIZE + SIGNATURE_SIZE + 1
    if len(view) < fixed or bytes(view[: len(TAG_VERDICT)]) != TAG_VERDICT:
        raise VerdictFormatError("not a verdict record (tag missing or record too short)")
    pos = len(TAG_VERDICT)
    kid = bytes(view[pos : pos + HASH_SIZE]).hex()
    pos += HASH_SIZE
    signature = bytes(view[pos : pos + SIGNATURE_SIZE])
    pos += SIGNATURE_SIZE
    at_len = view[pos]
    pos += 1
    if len(view) < pos + at_len + _COUNT.size:
        raise VerdictFormatError("record ends inside verified_at or the entry count")
    try:
        verified_at = bytes(view[pos : pos + at_len]).decode("ascii")
    except UnicodeDecodeError:
        raise VerdictFormatError("verified_at is not ASCII") from None
    _check_time(verified_at)
    pos += at_len
    (count,) = _COUNT.unpack_from(view, pos)
    pos += _COUNT.size
    if count == 0:
        raise VerdictFormatError("a verdict holds at least one entry")
    entries = []
    for n in range(count):
        if len(view) < pos + _ENTRY_HEAD.size:
            raise VerdictFormatError(f"record ends inside the head of entry {n}")
        partition, offset, size = _ENTRY_HEAD.unpack_from(view, pos)
        pos += _ENTRY_HEAD.size
        if len(view) < pos + size:
            raise VerdictFormatError(f"record ends inside the leaf of entry {n}")
        entries.append(VerdictEntry(partition, offset, bytes(view[pos : pos + size])))
        pos += size
    if pos != len(view):
        raise VerdictFormatError(f"{len(view) - pos} bytes after the last entry")
    return Verdict(kid, signature, verified_at, tuple(entries))


def verify_verdict(verdict: Verdict, validators: KeyRing) -> list[bytes]:
    """Check the signature with the trusted validator keys; return the entries' leaf hashes.

    Raises :class:`~chain_anchor.errors.UnknownKey` (the key id is not trusted) or
    :class:`~chain_anchor.errors.BadSignature`. The caller must still check what the leaves say."""
    hashes = [leaf_hash(e.leaf) for e in verdict.entries]
    message = verdict_signing_bytes(bytes.fromhex(verdict.key_id), verdict.verified_at, hashes,
                                    [(e.raw_partition, e.raw_offset) for e in verdict.entries])
    validators.verify(verdict.key_id, verdict.signature, message)
    return hashes


def _check_time(value: str) -> None:
    match = RFC3339_UTC.fullmatch(value) if len(value) <= 255 else None
    if match is None:
        raise VerdictFormatError(f"verified_at {value[:40]!r} is not RFC 3339 UTC, e.g. 2024-05-01T08:00:00Z")
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        datetime(year, month, day, hour, minute, second)
    except ValueError as e:
        raise VerdictFormatError(f"verified_at {value!r} is not a valid date/time: {e}") from None
