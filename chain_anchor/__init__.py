"""chain_anchor: the verifiable ledger core of Taijiao CoalChain.

Pure and synchronous: canonical JSON (RFC 8785), RFC 6962 hashing and Merkle log, block cutter, block
headers, Ed25519 signatures, C2SP checkpoints and cosignatures. No I/O, no asyncio, no clock, no logging.
Every failure raises a subclass of :class:`chain_anchor.errors.ChainAnchorError`.
"""

from chain_anchor.block import (
    BlockHeader,
    HeaderSignature,
    header_bytes,
    header_hash,
    seal_block,
    sign_header,
    verify_header,
)
from chain_anchor.canonical import canonicalize
from chain_anchor.chain import verify_block, verify_chain
from chain_anchor.checkpoint import (
    Checkpoint,
    NoteSignature,
    NoteVerifier,
    SignedNote,
    cosign,
    parse_checkpoint,
    parse_note,
    sign_note,
    verify_checkpoint,
    verify_note,
)
from chain_anchor.compact import CompactRange
from chain_anchor.cutter import BlockCutter
from chain_anchor.errors import ChainAnchorError
from chain_anchor.events import event_signing_bytes, leaf_bytes, sign_event, verify_event
from chain_anchor.hashing import EMPTY_ROOT, TAG_BLOCK_HEADER, TAG_EVENT, TAG_RECEIPT, leaf_hash, node_hash
from chain_anchor.keys import KeyRing, Signer, key_id, verify_signature
from chain_anchor.merkle import (
    consistency_proof,
    inclusion_proof,
    root,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "EMPTY_ROOT",
    "TAG_BLOCK_HEADER",
    "TAG_EVENT",
    "TAG_RECEIPT",
    "BlockCutter",
    "BlockHeader",
    "ChainAnchorError",
    "Checkpoint",
    "CompactRange",
    "HeaderSignature",
    "KeyRing",
    "NoteSignature",
    "NoteVerifier",
    "SignedNote",
    "Signer",
    "canonicalize",
    "consistency_proof",
    "cosign",
    "event_signing_bytes",
    "header_bytes",
    "header_hash",
    "inclusion_proof",
    "key_id",
    "leaf_bytes",
    "leaf_hash",
    "node_hash",
    "parse_checkpoint",
    "parse_note",
    "root",
    "seal_block",
    "sign_event",
    "sign_header",
    "sign_note",
    "verify_block",
    "verify_chain",
    "verify_checkpoint",
    "verify_consistency",
    "verify_event",
    "verify_header",
    "verify_inclusion",
    "verify_note",
    "verify_signature",
]
