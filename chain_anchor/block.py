"""Block headers: fields, JSON form, hash, signatures, and sealing a block onto the log.

A block is a run of consecutive leaves ``[first_leaf_index, tree_size)`` of the ledger's single RFC 6962
log. Its header commits to the previous header's hash, the block's own Merkle root, the log's size and
root after the block, the Kafka offsets it covers, when it was sealed and by which sequencer key.

Bytes (see ``docs/ledger-format.md``):

* ``header_bytes(h) = JCS(h.to_json())`` — hashes as lower-case hex, integers as JSON numbers;
* ``header_hash(h) = SHA-256(TAG_BLOCK_HEADER ‖ header_bytes(h))`` — the next block's ``prev_hash``;
* signatures are Ed25519 over ``TAG_BLOCK_HEADER ‖ header_bytes(h)`` and live *outside* the header, so
  cosigners can be added without changing the header or its hash.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chain_anchor.canonical import MAX_SAFE_INTEGER, canonicalize
from chain_anchor.compact import CompactRange
from chain_anchor.errors import HeaderError, MissingSignature, SignatureError
from chain_anchor.hashing import HASH_SIZE, TAG_BLOCK_HEADER, sha256
from chain_anchor.keys import KeyRing, Signer, is_key_id
from chain_anchor.merkle import root

__all__ = [
    "GENESIS_PREV_HASH",
    "BlockHeader",
    "HeaderSignature",
    "header_bytes",
    "header_hash",
    "header_signing_bytes",
    "seal_block",
    "sign_header",
    "verify_header",
]

GENESIS_PREV_HASH = bytes(HASH_SIZE)
"""``prev_hash`` of the block at height 0: 32 zero bytes."""

_HEX_FIELDS = ("prev_hash", "log_root", "block_root")
_INT_FIELDS = (
    "height",
    "first_leaf_index",
    "leaf_count",
    "tree_size",
    "source_partition",
    "first_offset",
    "last_offset",
)
_STR_FIELDS = ("ledger_id", "source_topic", "sealed_at", "sequencer_key_id")
_FIELDS = frozenset(_HEX_FIELDS + _INT_FIELDS + _STR_FIELDS)
_HASH_HEX = re.compile(r"[0-9a-f]{64}")
_RFC3339_UTC = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?Z", re.ASCII)
RFC3339_UTC = _RFC3339_UTC
"""RFC 3339 UTC date-time with ``Z`` and an optional fraction; groups: year, month, day, hour, minute, second."""


@dataclass(frozen=True, slots=True)
class BlockHeader:
    """A block header. Construction validates every field and raises :class:`HeaderError` naming it."""

    ledger_id: str
    height: int
    prev_hash: bytes
    first_leaf_index: int
    leaf_count: int
    tree_size: int
    log_root: bytes
    block_root: bytes
    source_topic: str
    source_partition: int
    first_offset: int
    last_offset: int
    sealed_at: str
    sequencer_key_id: str

    def __post_init__(self) -> None:
        _check_nonempty_str("ledger_id", self.ledger_id)
        _check_nonempty_str("source_topic", self.source_topic)
        for name in _INT_FIELDS:
            _check_int(name, getattr(self, name))
        for name in _HEX_FIELDS:
            _check_hash(name, getattr(self, name))
        _check_rfc3339_utc("sealed_at", self.sealed_at)
        if not is_key_id(self.sequencer_key_id):
            raise HeaderError("sequencer_key_id", "must be 64 lower-case hex characters")
        self._check_relations()

    def _check_relations(self) -> None:
        if self.leaf_count < 1:
            raise HeaderError("leaf_count", "a block holds at least one leaf")
        if self.tree_size != self.first_leaf_index + self.leaf_count:
            raise HeaderError("tree_size", "must equal first_leaf_index + leaf_count")
        if self.last_offset < self.first_offset:
            raise HeaderError("last_offset", "must be >= first_offset")
        if self.height == 0 and self.prev_hash != GENESIS_PREV_HASH:
            raise HeaderError("prev_hash", "must be 32 zero bytes at height 0")
        if self.height == 0 and self.first_leaf_index != 0:
            raise HeaderError("first_leaf_index", "must be 0 at height 0")
        if self.first_leaf_index == 0 and self.block_root != self.log_root:
            raise HeaderError("block_root", "must equal log_root when the block starts the log")

    def to_json(self) -> dict[str, object]:
        """JSON object: hashes as lower-case hex, integers as numbers, strings as given."""
        out: dict[str, object] = {}
        for name in _STR_FIELDS + _INT_FIELDS:
            out[name] = getattr(self, name)
        for name in _HEX_FIELDS:
            out[name] = getattr(self, name).hex()
        return out

    @classmethod
    def from_json(cls, data: object) -> BlockHeader:
        """Strict inverse of :meth:`to_json`: exactly the fields, exact JSON types, lower-case hex."""
        if not isinstance(data, Mapping):
            raise HeaderError("(header)", "must be a JSON object")
        unknown = sorted(str(k) for k in data if k not in _FIELDS)
        if unknown:
            raise HeaderError(unknown[0], "unknown field")
        values: dict[str, Any] = {}
        for name in sorted(_FIELDS):
            if name not in data:
                raise HeaderError(name, "missing")
            values[name] = _from_json_value(name, data[name])
        return cls(**values)


def _from_json_value(name: str, value: object) -> object:
    if name in _HEX_FIELDS:
        if not isinstance(value, str) or not _HASH_HEX.fullmatch(value):
            raise HeaderError(name, "must be 64 lower-case hex characters")
        return bytes.fromhex(value)
    if name in _INT_FIELDS:
        _check_int(name, value)
    elif not isinstance(value, str):
        raise HeaderError(name, "must be a string")
    return value


def _check_nonempty_str(name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise HeaderError(name, "must be a non-empty string")


def _check_int(name: str, value: object) -> None:
    if type(value) is not int or not 0 <= value <= MAX_SAFE_INTEGER:
        raise HeaderError(name, f"must be an integer in [0, {MAX_SAFE_INTEGER}]")


def _check_hash(name: str, value: object) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise HeaderError(name, f"must be {HASH_SIZE} bytes")


def _check_rfc3339_utc(name: str, value: object) -> None:
    match = _RFC3339_UTC.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise HeaderError(name, "must be RFC 3339 UTC, e.g. 2024-05-01T08:00:00Z")
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        datetime(year, month, day, hour, minute, second)
    except ValueError as e:
        raise HeaderError(name, f"not a valid date/time: {e}") from None


def header_bytes(header: BlockHeader) -> bytes:
    """``JCS(header.to_json())``."""
    return canonicalize(header.to_json())


def header_signing_bytes(header: BlockHeader) -> bytes:
    """``TAG_BLOCK_HEADER ‖ header_bytes(header)`` — what is hashed and what is signed."""
    return TAG_BLOCK_HEADER + header_bytes(header)


def header_hash(header: BlockHeader) -> bytes:
    """``SHA-256(TAG_BLOCK_HEADER ‖ header_bytes(header))``: the next header's ``prev_hash``."""
    return sha256(header_signing_bytes(header))


# --- signatures ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeaderSignature:
    """An Ed25519 signature over ``header_signing_bytes`` by ``key_id``."""

    key_id: str
    signature: bytes

    def to_json(self) -> dict[str, str]:
        """``{"key_id": hex, "signature": padded standard base64}``."""
        return {"key_id": self.key_id, "signature": base64.b64encode(self.signature).decode("ascii")}

    @classmethod
    def from_json(cls, data: object) -> HeaderSignature:
        """Strict inverse of :meth:`to_json`; raises :class:`SignatureError`."""
        if not isinstance(data, Mapping) or set(data) != {"key_id", "signature"}:
            raise SignatureError("header signature must be an object with exactly 'key_id' and 'signature'")
        key_id, signature = data["key_id"], data["signature"]
        if not is_key_id(key_id):
            raise SignatureError("header signature 'key_id' must be 64 lower-case hex characters")
        if not isinstance(signature, str):
            raise SignatureError("header signature 'signature' must be a base64 string")
        try:
            raw = base64.b64decode(signature, validate=True)
        except binascii.Error as e:
            raise SignatureError("header signature is not valid base64") from e
        if base64.b64encode(raw).decode("ascii") != signature:
            raise SignatureError("header signature is not canonical base64")
        return cls(key_id, raw)


def sign_header(header: BlockHeader, signer: Signer) -> HeaderSignature:
    """Sign ``header_signing_bytes(header)``."""
    return HeaderSignature(signer.key_id, signer.sign(header_signing_bytes(header)))


def verify_header(header: BlockHeader, signatures: Iterable[HeaderSignature], keyring: KeyRing) -> None:
    """Check the header's signatures.

    There must be a signature by ``header.sequencer_key_id`` (:class:`MissingSignature`), and every
    signature present must be by a key in ``keyring`` (:class:`UnknownKey`), verify
    (:class:`BadSignature`) and appear once per key (:class:`SignatureError`). What the caller must still
    check: the header's place in the chain (:mod:`chain_anchor.chain`) and its contents.
    """
    signatures = list(signatures)
    message = header_signing_bytes(header)
    if not any(s.key_id == header.sequencer_key_id for s in signatures):
        raise MissingSignature(header.sequencer_key_id)
    seen: set[str] = set()
    for signature in signatures:
        if signature.key_id in seen:
            raise SignatureError(f"two signatures by key id {signature.key_id}")
        seen.add(signature.key_id)
        keyring.verify(signature.key_id, signature.signature, message)


# --- sealing -------------------------------------------------------------------------------------------


def seal_block(
    *,
    ledger_id: str,
    height: int,
    prev_hash: bytes,
    compact_range: CompactRange,
    leaf_hashes: Sequence[bytes],
    source_topic: str,
    source_partition: int,
    first_offset: int,
    last_offset: int,
    sealed_at: str,
    signer: Signer,
) -> tuple[BlockHeader, HeaderSignature, list[tuple[int, int, bytes]]]:
    """Append ``leaf_hashes`` to the log and seal them as block ``height``.

    Returns ``(header, signature, new_nodes)``: ``new_nodes`` are the perfect nodes of level >= 1 this
    block completed (see :meth:`CompactRange.extend`), for the node store. ``compact_range`` is extended
    in place only if the header is valid; on any error it is left unchanged.
    """
    extended = compact_range.copy()
    first_leaf_index = extended.size
    new_nodes = extended.extend(leaf_hashes)
    header = BlockHeader(
        ledger_id=ledger_id,
        height=height,
        prev_hash=prev_hash,
        first_leaf_index=first_leaf_index,
        leaf_count=len(leaf_hashes),
        tree_size=extended.size,
        log_root=extended.root(),
        block_root=root(leaf_hashes),
        source_topic=source_topic,
        source_partition=source_partition,
        first_offset=first_offset,
        last_offset=last_offset,
        sealed_at=sealed_at,
        sequencer_key_id=signer.key_id,
    )
    signature = sign_header(header, signer)
    compact_range.assign(extended)
    return header, signature, new_nodes
