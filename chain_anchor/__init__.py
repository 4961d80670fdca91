"""chain_anchor: the verifiable ledger core of Taijiao CoalChain (pure, synchronous, no I/O)."""

from chain_anchor.canonical import canonicalize
from chain_anchor.errors import ChainAnchorError
from chain_anchor.events import event_signing_bytes, leaf_bytes, sign_event, verify_event
from chain_anchor.hashing import EMPTY_ROOT, TAG_BLOCK_HEADER, TAG_EVENT, TAG_RECEIPT, leaf_hash, node_hash
from chain_anchor.keys import KeyRing, Signer, key_id, verify_signature

__all__ = [
    "EMPTY_ROOT",
    "TAG_BLOCK_HEADER",
    "TAG_EVENT",
    "TAG_RECEIPT",
    "ChainAnchorError",
    "KeyRing",
    "Signer",
    "canonicalize",
    "event_signing_bytes",
    "key_id",
    "leaf_bytes",
    "leaf_hash",
    "node_hash",
    "sign_event",
    "verify_event",
    "verify_signature",
]
