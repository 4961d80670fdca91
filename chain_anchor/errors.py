"""Errors raised by ``chain_anchor``.

Every failure is a subclass of :class:`ChainAnchorError`; each subclass also inherits the builtin that
matches its meaning, so ``except ValueError`` keeps working for callers that do not know this package.
Errors carry the data that explains them (``RootMismatch.expected``/``.calculated``, ``ChainError.height``)
so callers never parse messages. Nothing here is retriable: a verification that failed once fails again on
the same input.

Hierarchy::

    ChainAnchorError (Exception)
    ├── CanonicalizationError (ValueError)         value cannot be RFC 8785-canonicalised
    │   ├── FloatNotAllowed                        a float anywhere in the value (.path)
    │   └── IntegerOutOfRange                      |int| > 2**53 - 1 (.path, .value)
    ├── ProofError (ValueError)                    a Merkle proof does not verify
    │   ├── InclusionProofError                    malformed inclusion proof / arguments
    │   ├── ConsistencyProofError                  malformed consistency proof / arguments
    │   └── RootMismatch                           proof well-formed, root differs (.expected, .calculated)
    ├── TreeError (ValueError)                     bad Merkle tree arguments or state
    │   ├── CompactRangeError                      compact range malformed (hash count/size)
    │   └── MissingNode (LookupError)              node store lacks a planned node (.level, .index)
    ├── SignatureError (ValueError)
    │   ├── BadSignature                           Ed25519 verification failed
    │   ├── UnknownKey (KeyError)                  key id not trusted (.key_id)
    │   ├── MissingSignature                       a required signer did not sign (.key_id)
    │   ├── KeyFormatError                         malformed key bytes / PEM / vkey
    │   └── EventSignatureError                    event envelope signature fields missing/malformed
    ├── HeaderError (ValueError)                   block header malformed (.field)
    ├── BlockError (ValueError)                    block contents disagree with its header (.height, .reason)
    ├── ChainError (ValueError)                    sequence of headers is broken (.height, .reason)
    ├── VerdictFormatError (ValueError)            a validator verdict record is malformed
    ├── CheckpointError (ValueError)               checkpoint body malformed
    │   ├── NoteParseError                         signed note text malformed
    │   └── QuorumNotMet                           fewer than k trusted signatures (.required, .verified)
    └── CutterError (ValueError)
        ├── CutterConfigError                      limits inconsistent
        └── ItemTooLarge                           item above absolute_max_bytes (.size_bytes, .limit_bytes)
"""

from __future__ import annotations

__all__ = [
    "BadSignature",
    "BlockError",
    "CanonicalizationError",
    "ChainAnchorError",
    "ChainError",
    "CheckpointError",
    "CompactRangeError",
    "ConsistencyProofError",
    "CutterConfigError",
    "CutterError",
    "EventSignatureError",
    "FloatNotAllowed",
    "HeaderError",
    "InclusionProofError",
    "IntegerOutOfRange",
    "ItemTooLarge",
    "KeyFormatError",
    "MissingNode",
    "MissingSignature",
    "NoteParseError",
    "ProofError",
    "QuorumNotMet",
    "RootMismatch",
    "SignatureError",
    "TreeError",
    "UnknownKey",
    "VerdictFormatError",
]


class ChainAnchorError(Exception):
    """Root of every error raised by ``chain_anchor``."""

    retriable = False


# --- canonical JSON -------------------------------------------------------------------------------------


class CanonicalizationError(ChainAnchorError, ValueError):
    """The value cannot be serialised as RFC 8785 canonical JSON."""


class FloatNotAllowed(CanonicalizationError):
    """A float was found in data that is to be hashed or signed."""

    def __init__(self, path: str) -> None:
        super().__init__(f"float not allowed in canonical data at {path}")
        self.path = path


class IntegerOutOfRange(CanonicalizationError):
    """An integer outside ±(2**53 - 1): JSON numbers are IEEE doubles and cannot hold it exactly."""

    def __init__(self, path: str, value: int) -> None:
        super().__init__(f"integer at {path} outside ±(2**53 - 1); encode it as a decimal string")
        self.path = path
        self.value = value


# --- Merkle proofs --------------------------------------------------------------------------------------


class ProofError(ChainAnchorError, ValueError):
    """A Merkle proof failed to verify."""


class InclusionProofError(ProofError):
    """An inclusion proof or its arguments are malformed (wrong length, index out of range, ...)."""


class ConsistencyProofError(ProofError):
    """A consistency proof or its arguments are malformed (wrong length, sizes out of order, ...)."""


class RootMismatch(ProofError):
    """The proof is well-formed but the root it yields is not the expected root."""

    def __init__(self, expected: bytes, calculated: bytes) -> None:
        super().__init__(f"root mismatch: expected {expected.hex()}, calculated {calculated.hex()}")
        self.expected = expected
        self.calculated = calculated


class TreeError(ChainAnchorError, ValueError):
    """Bad Merkle tree arguments or state (outside proof verification)."""


class CompactRangeError(TreeError):
    """A compact range is malformed: wrong number of hashes for its size, hashes not 32 bytes, ..."""


class MissingNode(TreeError, LookupError):
    """A proof plan needs the perfect node ``(level, index)`` but the node store does not hold it."""

    def __init__(self, level: int, index: int) -> None:
        super().__init__(f"node (level={level}, index={index}) not available")
        self.level = level
        self.index = index


# --- signatures -----------------------------------------------------------------------------------------


class SignatureError(ChainAnchorError, ValueError):
    """Base of signature and key errors."""


class BadSignature(SignatureError):
    """The Ed25519 signature does not verify against the key and message."""


class UnknownKey(SignatureError, KeyError):
    """The key id is not in the set of trusted keys."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"unknown key id {key_id!r}")
        self.key_id = key_id

    def __str__(self) -> str:  # KeyError.__str__ would repr() the message
        return str(self.args[0])


class MissingSignature(SignatureError):
    """A signature by ``key_id`` is required but absent (e.g. a block header without its sequencer's)."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"no signature by required key id {key_id!r}")
        self.key_id = key_id


class KeyFormatError(SignatureError):
    """Key material is malformed (wrong length, bad PEM, bad verifier key string)."""


class EventSignatureError(SignatureError):
    """An event envelope's ``sigkeyid``/``signature`` attributes are missing or malformed."""


# --- blocks and chains ----------------------------------------------------------------------------------


class VerdictFormatError(ChainAnchorError, ValueError):
    """A validator verdict record does not follow its byte format (``docs/ledger-format.md`` §9)."""


class HeaderError(ChainAnchorError, ValueError):
    """A block header is malformed; ``field`` names the offending field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"header field {field!r}: {reason}")
        self.field = field
        self.reason = reason


class BlockError(ChainAnchorError, ValueError):
    """A block's contents (leaves, roots, signatures) disagree with its header."""

    def __init__(self, height: int, reason: str) -> None:
        super().__init__(f"block {height}: {reason}")
        self.height = height
        self.reason = reason


class ChainError(ChainAnchorError, ValueError):
    """A sequence of block headers is not a valid chain at ``height``."""

    def __init__(self, height: int, reason: str) -> None:
        super().__init__(f"chain broken at height {height}: {reason}")
        self.height = height
        self.reason = reason


# --- checkpoints ----------------------------------------------------------------------------------------


class CheckpointError(ChainAnchorError, ValueError):
    """A checkpoint body is malformed."""


class NoteParseError(CheckpointError):
    """A signed note's text is malformed."""


class QuorumNotMet(CheckpointError):
    """Fewer than ``required`` distinct trusted keys produced valid signatures."""

    def __init__(self, required: int, verified: int) -> None:
        super().__init__(f"quorum not met: {verified} of required {required} trusted signatures verified")
        self.required = required
        self.verified = verified


# --- block cutter ---------------------------------------------------------------------------------------


class CutterError(ChainAnchorError, ValueError):
    """Base of block cutter errors."""


class CutterConfigError(CutterError):
    """The cutter limits are inconsistent (non-positive, preferred above absolute, ...)."""


class ItemTooLarge(CutterError):
    """An item is larger than ``absolute_max_bytes`` and can never be placed in a block."""

    def __init__(self, size_bytes: int, limit_bytes: int) -> None:
        super().__init__(f"item of {size_bytes} bytes exceeds absolute_max_bytes={limit_bytes}")
        self.size_bytes = size_bytes
        self.limit_bytes = limit_bytes
