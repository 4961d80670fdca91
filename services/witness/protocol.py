"""The bytes of C2SP ``tlog-witness`` ``add-checkpoint``: request body, 200 answer, 409 answer. Pure.

Request body (``POST <prefix>/add-checkpoint``)::

    old <size>\\n
    <base64 hash>\\n          (0 to 63 consistency proof lines)
    \\n
    <signed checkpoint note>

200 answer: one or more note signature lines (``— <name> <base64>\\n``), the witness's cosignatures.
409 answer: ``<size of the latest checkpoint the witness cosigned>\\n`` with ``Content-Type: text/x.tlog.size``.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from chain_anchor.checkpoint import NoteSignature, parse_note
from chain_anchor.errors import NoteParseError

__all__ = [
    "MAX_PROOF_LINES",
    "SIZE_CONTENT_TYPE",
    "AddCheckpoint",
    "ProtocolError",
    "format_add_checkpoint",
    "format_cosignatures",
    "format_size",
    "parse_add_checkpoint",
    "parse_cosignatures",
    "parse_size",
]

MAX_PROOF_LINES = 63
SIZE_CONTENT_TYPE = "text/x.tlog.size"
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}", re.ASCII)


class ProtocolError(ValueError):
    """A body that is not of the tlog-witness form (a witness answers 400 Bad Request)."""


@dataclass(frozen=True, slots=True)
class AddCheckpoint:
    """An add-checkpoint request: the old size, the consistency proof and the checkpoint note (bytes)."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: bytes


def _decimal(text: str, what: str) -> int:
    if not _DECIMAL.fullmatch(text) or int(text) > 2**64 - 1:
        raise ProtocolError(f"{what} must be a decimal without leading zeroes, below 2**64")
    return int(text)


def format_add_checkpoint(old_size: int, proof: list[bytes] | tuple[bytes, ...], checkpoint: bytes) -> bytes:
    """The request body for ``old_size``, the proof hashes and the signed checkpoint note."""
    lines = [f"old {old_size}\n".encode()]
    lines += [base64.b64encode(h) + b"\n" for h in proof]
    return b"".join(lines) + b"\n" + checkpoint


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """Parse a request body; raise :class:`ProtocolError` naming what is wrong."""
    head, sep, checkpoint = body.partition(b"\n\n")
    if not sep:
        raise ProtocolError("body needs an old size line, proof lines, an empty line and a checkpoint")
    try:
        lines = head.decode("ascii").split("\n")
    except UnicodeDecodeError:
        raise ProtocolError("old size and proof lines must be ASCII") from None
    if not lines[0].startswith("old "):
        raise ProtocolError("first line must be 'old <size>'")
    old_size = _decimal(lines[0][4:], "old size")
    proof_lines = lines[1:]
    if len(proof_lines) > MAX_PROOF_LINES:
        raise ProtocolError(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = []
    for n, line in enumerate(proof_lines, start=1):
        try:
            digest = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError(f"proof line {n} is not base64") from None
        if len(digest) != 32 or base64.b64encode(digest).decode() != line:
            raise ProtocolError(f"proof line {n} is not one base64 SHA-256 hash")
        proof.append(digest)
    return AddCheckpoint(old_size, tuple(proof), checkpoint)


def format_cosignatures(signatures: list[NoteSignature] | tuple[NoteSignature, ...]) -> bytes:
    """The 200 answer: the signature lines, each ``— <name> <base64>\\n``."""
    return "".join(s.line() for s in signatures).encode("utf-8")


def parse_cosignatures(body: bytes) -> tuple[NoteSignature, ...]:
    """Parse a 200 answer into signature lines (not verified: verify them against the checkpoint)."""
    if not body:
        raise ProtocolError("a cosignature answer holds at least one signature line")
    try:
        return parse_note(b"x\n\n" + body).signatures
    except NoteParseError as e:
        raise ProtocolError(f"not signature lines: {e}") from None


def format_size(size: int) -> bytes:
    """The 409 answer body: the witness's latest cosigned size, in decimal, then a newline."""
    return f"{size}\n".encode()


def parse_size(body: bytes) -> int:
    """Parse a 409 answer body."""
    if not body.endswith(b"\n"):
        raise ProtocolError("size answer must end with a newline")
    try:
        return _decimal(body[:-1].decode("ascii"), "size")
    except UnicodeDecodeError:
        raise ProtocolError("size answer must be ASCII") from None
