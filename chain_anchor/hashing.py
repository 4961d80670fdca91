"""RFC 6962 hashing and the domain-separation tags of every signed object.

* ``leaf_hash(data) = SHA-256(0x00 ‖ data)``
* ``node_hash(left, right) = SHA-256(0x01 ‖ left ‖ right)``
* the root of the empty tree is ``SHA-256("")`` (:data:`EMPTY_ROOT`).

Signed objects are prefixed with a tag naming their kind and version, ending in a newline, so a signature
over one kind can never be replayed as another. Checkpoints use the C2SP signed-note rules instead (the
note text itself starts with the log's origin line and is signed as is).
"""

from __future__ import annotations

import hashlib

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LEAF_PREFIX",
    "NODE_PREFIX",
    "TAG_BLOCK_HEADER",
    "TAG_EVENT",
    "TAG_RECEIPT",
    "TAG_VERDICT",
    "leaf_hash",
    "node_hash",
    "sha256",
]

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

TAG_EVENT = b"taijiao-coalchain/event/v1\n"
"""Prefix of the bytes an event publisher signs (see :func:`chain_anchor.events.event_signing_bytes`)."""
TAG_BLOCK_HEADER = b"taijiao-coalchain/block-header/v1\n"
"""Prefix of the bytes hashed and signed for a block header (see :mod:`chain_anchor.block`)."""
TAG_RECEIPT = b"taijiao-coalchain/receipt/v1\n"
"""Prefix reserved for signed receipt bundles."""
TAG_VERDICT = b"taijiao-coalchain/verdict/v1\n"
"""Prefix of a validator's verdict record and of the bytes it signs (see :mod:`chain_anchor.verdict`)."""

_sha256 = hashlib.sha256


def sha256(data: bytes) -> bytes:
    """Plain SHA-256 digest of ``data``."""
    return _sha256(data).digest()


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: ``SHA-256(0x00 ‖ data)``."""
    return _sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: ``SHA-256(0x01 ‖ left ‖ right)``."""
    return _sha256(NODE_PREFIX + left + right).digest()
