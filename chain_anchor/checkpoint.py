"""C2SP checkpoints in C2SP signed notes, with Ed25519 log signatures and tlog-cosignature/v1 cosignatures.

* ``c2sp.org/tlog-checkpoint``: the note text is ``<origin>\\n<tree size>\\n<base64 root>\\n`` plus optional
  non-empty extension lines.
* ``c2sp.org/signed-note``: text, a blank line, then signature lines
  ``— <key name> <base64(4-byte key id ‖ signature)>\\n`` (U+2014 em dash). Key id =
  ``SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4]`` read big-endian; type ``0x01`` = Ed25519 over the note
  text; type ``0x04`` = ``tlog-cosignature/v1``: signature = ``timestamp (u64 BE) ‖ Ed25519`` over
  ``"cosignature/v1\\ntime <timestamp>\\n" ‖ note text``.
* verifier keys (vkeys): ``<name>+<8 hex key id>+<base64(type ‖ public key)>``.

Verification follows the signed-note rules: signature lines whose (name, key id) match no trusted
verifier are ignored; a matching one that fails to verify rejects the whole note (:class:`BadSignature`);
fewer than ``quorum_k`` distinct trusted verifiers is :class:`QuorumNotMet`. A typical policy is two
calls: the log's key with ``quorum_k=1``, then the witnesses' keys with ``quorum_k=k``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from chain_anchor.errors import (
    BadSignature,
    CheckpointError,
    KeyFormatError,
    NoteParseError,
    QuorumNotMet,
    SignatureError,
)
from chain_anchor.hashing import HASH_SIZE
from chain_anchor.keys import Signer, verify_signature

__all__ = [
    "MAX_NOTE_SIGNATURES",
    "SIG_TYPE_COSIGNATURE_V1",
    "SIG_TYPE_ED25519",
    "Checkpoint",
    "NoteSignature",
    "NoteVerifier",
    "SignedNote",
    "cosign",
    "cosignature_message",
    "cosignature_timestamp",
    "format_signer_key",
    "note_key_id",
    "parse_checkpoint",
    "parse_note",
    "parse_signer_key",
    "sign_note",
    "verify_checkpoint",
    "verify_note",
]

SIG_TYPE_ED25519 = 0x01
SIG_TYPE_COSIGNATURE_V1 = 0x04
MAX_NOTE_SIGNATURES = 100
"""Notes with more signature lines are rejected (the spec requires accepting at least 16)."""

_SIG_PREFIX = "— "
_MAX_TIMESTAMP = 2**63 - 1
_MAX_TREE_SIZE = 2**64 - 1
_TREE_SIZE = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_HEX8 = re.compile(r"[0-9a-fA-F]{8}", re.ASCII)


# --- checkpoint body -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's tree head: origin, size and RFC 6962 root hash (plus opaque extension lines)."""

    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line("origin", self.origin)
        if type(self.tree_size) is not int or not 0 <= self.tree_size <= _MAX_TREE_SIZE:
            raise CheckpointError("tree_size must be an integer in [0, 2**64 - 1]")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(f"root_hash must be {HASH_SIZE} bytes")
        for line in self.extensions:
            _check_line("extension line", line)

    def text(self) -> str:
        """The note text: ``origin\\nsize\\nbase64(root)\\n`` and any extension lines."""
        lines = [self.origin, str(self.tree_size), _b64(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)

    def body(self) -> bytes:
        """UTF-8 bytes of :meth:`text` — the bytes a log signs."""
        return self.text().encode("utf-8")


def _check_line(what: str, line: object) -> None:
    if not isinstance(line, str) or not line or "\n" in line or _CONTROL.search(line):
        raise CheckpointError(f"{what} must be a non-empty line without control characters")


def parse_checkpoint(text: str | bytes) -> Checkpoint:
    """Parse a checkpoint note text (not the signatures: see :func:`verify_checkpoint`)."""
    text = _as_text(text, CheckpointError)
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("checkpoint needs origin, tree size and root hash lines")
    origin, size_line, root_line, *extensions = lines
    if not _TREE_SIZE.fullmatch(size_line) or int(size_line) > _MAX_TREE_SIZE:
        raise CheckpointError("tree size must be decimal without leading zeros, below 2**64")
    root_hash = _strict_b64decode(root_line, CheckpointError, "root hash")
    if len(root_hash) != HASH_SIZE:
        raise CheckpointError(f"root hash must be {HASH_SIZE} bytes")
    return Checkpoint(origin, int(size_line), root_hash, tuple(extensions))


# --- signed notes --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, 32-bit key id and the signature bytes that follow the key id."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        """``— <name> <base64(key id ‖ signature)>\\n``."""
        return f"{_SIG_PREFIX}{self.name} {_b64(self.key_id.to_bytes(4, 'big') + self.signature)}\n"


@dataclass(frozen=True, slots=True)
class SignedNote:
    """A note text (ending in a newline) and its signature lines."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def serialize(self) -> str:
        """``text ‖ "\\n" ‖ signature lines``."""
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def to_bytes(self) -> bytes:
        """UTF-8 of :meth:`serialize`."""
        return self.serialize().encode("utf-8")

    def with_signatures(self, *signatures: NoteSignature) -> SignedNote:
        """A copy with more signature lines appended (e.g. witness cosignatures)."""
        return SignedNote(self.text, self.signatures + signatures)


def parse_note(note: str | bytes) -> SignedNote:
    """Parse a signed note; raise :class:`NoteParseError` if it is malformed."""
    note = _as_text(note, NoteParseError)
    if _CONTROL.search(note):
        raise NoteParseError("note contains ASCII control characters other than newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteParseError("note has no blank line before its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise NoteParseError("note must end with a newline after its signature lines")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_NOTE_SIGNATURES:
        raise NoteParseError(f"note has more than {MAX_NOTE_SIGNATURES} signatures")
    return SignedNote(text, tuple(_parse_signature_line(line) for line in lines))


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(_SIG_PREFIX):
        raise NoteParseError("signature line must start with an em dash and a space")
    name, space, encoded = line[len(_SIG_PREFIX) :].rpartition(" ")
    if not space or not _is_valid_name(name):
        raise NoteParseError("signature line has an invalid key name")
    raw = _strict_b64decode(encoded, NoteParseError, "signature")
    if len(raw) < 5:
        raise NoteParseError("signature is too short")
    return NoteSignature(name, int.from_bytes(raw[:4], "big"), raw[4:])


def _is_valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


# --- keys ----------------------------------------------------------------------------------------------


def note_key_id(name: str, sig_type: int, public_key: bytes) -> int:
    """``SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4]`` as a big-endian uint32."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True, slots=True)
class NoteVerifier:
    """A trusted note key: name, signature type (0x01 Ed25519 or 0x04 cosignature/v1), raw public key."""

    name: str
    sig_type: int
    public_key: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _is_valid_name(self.name):
            raise KeyFormatError("note key name must be non-empty, without spaces or '+'")
        if self.sig_type not in (SIG_TYPE_ED25519, SIG_TYPE_COSIGNATURE_V1):
            raise KeyFormatError(f"unsupported note signature type {self.sig_type!r}")
        if not isinstance(self.public_key, bytes) or len(self.public_key) != 32:
            raise KeyFormatError("Ed25519 public key must be 32 bytes")

    @classmethod
    def for_signer(cls, name: str, signer: Signer, sig_type: int = SIG_TYPE_ED25519) -> NoteVerifier:
        """The verifier matching ``signer`` under ``name``."""
        return cls(name, sig_type, signer.public_key_raw)

    @property
    def key_id(self) -> int:
        """The 32-bit key id of this (name, type, key)."""
        return note_key_id(self.name, self.sig_type, self.public_key)

    def vkey(self) -> str:
        """``<name>+<8 hex>+<base64(type ‖ key)>``."""
        return f"{self.name}+{self.key_id:08x}+{_b64(bytes([self.sig_type]) + self.public_key)}"

    @classmethod
    def parse(cls, vkey: str) -> NoteVerifier:
        """Parse a vkey; the key id in it must match the key (:class:`KeyFormatError`)."""
        name, key_id, key = _split_key(vkey, "verifier key")
        verifier = cls(name, key[0], key[1:])
        if verifier.key_id != key_id:
            raise KeyFormatError("verifier key id does not match its name and key")
        return verifier

    def verify(self, text: bytes, signature: NoteSignature) -> None:
        """Verify one signature line over the note ``text`` (UTF-8); raise :class:`BadSignature`."""
        if self.sig_type == SIG_TYPE_ED25519:
            verify_signature(self.public_key, signature.signature, text)
            return
        if len(signature.signature) != 8 + 64:
            raise BadSignature("cosignature/v1 must be an 8-byte timestamp and a 64-byte signature")
        timestamp = int.from_bytes(signature.signature[:8], "big")
        if timestamp > _MAX_TIMESTAMP:
            raise BadSignature("cosignature timestamp exceeds 2**63 - 1")
        verify_signature(self.public_key, signature.signature[8:], cosignature_message(text, timestamp))


def _split_key(text: str, what: str) -> tuple[str, int, bytes]:
    name, plus1, rest = text.partition("+")
    key_id_hex, plus2, encoded = rest.partition("+")
    if not plus1 or not plus2 or not _is_valid_name(name) or not _HEX8.fullmatch(key_id_hex):
        raise KeyFormatError(f"{what} must be <name>+<8 hex digits>+<base64>")
    key = _strict_b64decode(encoded, KeyFormatError, what)
    if len(key) != 33:
        raise KeyFormatError(f"{what} must hold a type byte and a 32-byte key")
    return name, int(key_id_hex, 16), key


def format_signer_key(name: str, signer: Signer, sig_type: int = SIG_TYPE_ED25519) -> str:
    """Go ``note`` signer key: ``PRIVATE+KEY+<name>+<8 hex>+<base64(type ‖ seed)>``. Keep it secret."""
    verifier = NoteVerifier.for_signer(name, signer, sig_type)
    return f"PRIVATE+KEY+{name}+{verifier.key_id:08x}+{_b64(bytes([sig_type]) + signer.private_bytes())}"


def parse_signer_key(skey: str) -> tuple[str, int, Signer]:
    """Parse a Go ``note`` signer key into ``(name, sig_type, signer)``."""
    if not skey.startswith("PRIVATE+KEY+"):
        raise KeyFormatError("signer key must start with PRIVATE+KEY+")
    name, key_id, key = _split_key(skey[len("PRIVATE+KEY+") :], "signer key")
    signer = Signer.from_seed(key[1:])
    if NoteVerifier.for_signer(name, signer, key[0]).key_id != key_id:
        raise KeyFormatError("signer key id does not match its name and key")
    return name, key[0], signer


# --- signing -------------------------------------------------------------------------------------------


def sign_note(text: str | bytes, signer: Signer, name: str) -> NoteSignature:
    """An Ed25519 (type 0x01) signature line over the note ``text``."""
    body = _note_text_bytes(text)
    key_id = NoteVerifier.for_signer(name, signer).key_id
    return NoteSignature(name, key_id, signer.sign(body))


def cosignature_message(text: bytes, timestamp: int) -> bytes:
    """``"cosignature/v1\\ntime <timestamp>\\n" ‖ text`` — what a tlog-cosignature/v1 signs."""
    return b"cosignature/v1\ntime %d\n" % timestamp + text


def cosign(checkpoint: Checkpoint | str | bytes, signer: Signer, name: str, timestamp: int) -> NoteSignature:
    """A tlog-cosignature/v1 (type 0x04) signature line over the checkpoint text at ``timestamp`` (POSIX s)."""
    if type(timestamp) is not int or not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise CheckpointError("timestamp must be an integer in [0, 2**63 - 1]")
    text = checkpoint.body() if isinstance(checkpoint, Checkpoint) else _note_text_bytes(checkpoint)
    key_id = NoteVerifier.for_signer(name, signer, SIG_TYPE_COSIGNATURE_V1).key_id
    signature = signer.sign(cosignature_message(text, timestamp))
    return NoteSignature(name, key_id, timestamp.to_bytes(8, "big") + signature)


def cosignature_timestamp(signature: NoteSignature) -> int:
    """The timestamp of a cosignature/v1 signature line (not verified)."""
    if len(signature.signature) != 8 + 64:
        raise NoteParseError("not a cosignature/v1 signature")
    return int.from_bytes(signature.signature[:8], "big")


def _note_text_bytes(text: str | bytes) -> bytes:
    text = _as_text(text, NoteParseError)
    if not text.endswith("\n") or _CONTROL.search(text):
        raise NoteParseError("note text must end with a newline and hold no control characters")
    return text.encode("utf-8")


# --- verifying -----------------------------------------------------------------------------------------


def verify_note(note: str | bytes, verifiers: Iterable[NoteVerifier], quorum_k: int = 1) -> SignedNote:
    """Parse ``note`` and require valid signatures from at least ``quorum_k`` distinct trusted verifiers.

    Returns the parsed note. Raises :class:`NoteParseError`, :class:`BadSignature` (a trusted key's
    signature fails), :class:`QuorumNotMet`, or :class:`CheckpointError` for ``quorum_k < 1``. What the
    caller must still check: what the text says (e.g. with :func:`verify_checkpoint`).
    """
    if quorum_k < 1:
        raise CheckpointError("quorum_k must be >= 1")
    trusted = _index_verifiers(verifiers)
    signed = parse_note(note)
    text = signed.text.encode("utf-8")
    verified: set[tuple[str, int]] = set()
    for signature in signed.signatures:
        verifier = trusted.get((signature.name, signature.key_id))
        if verifier is None:
            continue  # unknown keys are ignored (signed-note spec)
        verifier.verify(text, signature)
        verified.add((signature.name, signature.key_id))
    if len(verified) < quorum_k:
        raise QuorumNotMet(required=quorum_k, verified=len(verified))
    return signed


def _index_verifiers(verifiers: Iterable[NoteVerifier]) -> dict[tuple[str, int], NoteVerifier]:
    index: dict[tuple[str, int], NoteVerifier] = {}
    for verifier in verifiers:
        key = (verifier.name, verifier.key_id)
        if index.setdefault(key, verifier) != verifier:
            raise SignatureError(f"two different verifier keys share name {verifier.name!r} and key id")
    return index


def verify_checkpoint(
    note: str | bytes, verifiers: Iterable[NoteVerifier], quorum_k: int = 1, *, origin: str | None = None
) -> Checkpoint:
    """:func:`verify_note`, then parse the text as a checkpoint and, if given, check its ``origin``."""
    checkpoint = parse_checkpoint(verify_note(note, verifiers, quorum_k).text)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
    return checkpoint


# --- helpers -------------------------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _strict_b64decode(text: str, error: type[Exception], what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise error(f"{what} is not valid base64") from e
    if _b64(raw) != text:
        raise error(f"{what} is not canonical base64")
    return raw


def _as_text(value: str | bytes, error: type[Exception]) -> str:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise error("text is not valid Unicode (lone surrogate)") from e
        return value
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError as e:
        raise error("text is not valid UTF-8") from e
