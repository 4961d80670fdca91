"""What the sequencer checks in every accepted-topic record before anything of it can be sealed.

The accepted topic is a transport, not a trust boundary: whoever can write to it must not get an event
sealed. A record is a validator's verdict (``chain_anchor.verdict``) signed by a validator key of the trust
set (genesis ``validators``), or a time-to-cut marker (empty value, ``ttc`` header). Anything else, and any
entry whose leaf the sequencer cannot store, is quarantined with one of the reason codes below; it never
raises and never stops sealing. Pure: no Kafka, no database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import msgspec

from chain_anchor.errors import BadSignature, UnknownKey, VerdictFormatError
from chain_anchor.keys import KeyRing
from chain_anchor.verdict import Verdict, decode_verdict, verify_verdict
from services.sequencer.sealing import Accepted, VerdictBatch, decode_head, parse_event_time

_EVENT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Reason(StrEnum):
    """Reason codes of records the sequencer quarantines (``reason`` header, ``stage: sequencer``)."""

    MALFORMED_RECORD = "malformed-record"  # neither a verdict record nor a ttc marker, or a verdict that does not parse
    UNKNOWN_VALIDATOR_KEY = "unknown-validator-key"  # signed by a key the trust set does not list
    BAD_VERDICT_SIGNATURE = "bad-verdict-signature"  # the signature does not verify over the entries
    MALFORMED_LEAF = "malformed-leaf"  # an entry's leaf is no envelope head (id uuid, type, subject, source, time)
    OVERSIZED = "oversized"  # an entry above max_event_bytes, or a record above absolute_max_bytes
    REPLAY = "replay"  # the event id is already sealed, read from another raw position


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A record, or one entry of it, for the rejected topic."""

    reason: Reason
    detail: str
    value: bytes  # the record's bytes, or the entry's leaf
    offset: int  # accepted-topic offset
    raw_partition: int | None = None
    raw_offset: int | None = None


def ttc_height(headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...] | None) -> bytes | None:
    """The raw value of the ``ttc`` header, if any."""
    for k, v in headers or ():
        if k == "ttc":
            return v
    return None


def check_marker(offset: int, value: bytes | None, ttc: bytes) -> int | Quarantined:
    """A time-to-cut marker: the height it asks to cut, or why it is malformed."""
    if value:
        return Quarantined(Reason.MALFORMED_RECORD, "a record with a ttc header must have an empty value",
                           value, offset)
    if not (ttc.isdigit() and ttc.isascii() and len(ttc) <= 18):
        return Quarantined(Reason.MALFORMED_RECORD, f"ttc header {ttc[:40]!r} is not a block height", b"", offset)
    return int(ttc)


def check_verdict(offset: int, value: bytes | None, validators: KeyRing, *,
                  max_event_bytes: int) -> tuple[VerdictBatch | None, list[Quarantined]]:
    """Check one verdict record: format, validator key, signature, then each entry's leaf.

    Returns the entries fit to seal (None if none is) and what to quarantine. A bad record is quarantined
    whole; a bad entry in a well-signed record alone."""
    if not value:
        return None, [Quarantined(Reason.MALFORMED_RECORD, "an empty record without a ttc header", b"", offset)]
    try:
        verdict = decode_verdict(value)
    except VerdictFormatError as e:
        return None, [Quarantined(Reason.MALFORMED_RECORD, str(e), value, offset)]
    try:
        hashes = verify_verdict(verdict, validators)
    except UnknownKey:
        return None, [Quarantined(Reason.UNKNOWN_VALIDATOR_KEY, f"verdict signed by key {verdict.key_id}, which the"
                                  " trust set (genesis validators) does not list", value, offset)]
    except BadSignature:
        return None, [Quarantined(Reason.BAD_VERDICT_SIGNATURE, f"the signature of validator key {verdict.key_id}"
                                  " does not verify over the record's entries", value, offset)]
    return _entries(offset, verdict, hashes, max_event_bytes)


def _entries(offset: int, verdict: Verdict, hashes: list[bytes],
             max_event_bytes: int) -> tuple[VerdictBatch | None, list[Quarantined]]:
    good: list[Accepted] = []
    bad: list[Quarantined] = []
    for i, (e, digest) in enumerate(zip(verdict.entries, hashes, strict=True)):
        if len(e.leaf) > max_event_bytes:
            bad.append(Quarantined(Reason.OVERSIZED, f"entry {i} is {len(e.leaf)} bytes; the limit is"
                                   f" {max_event_bytes}", e.leaf, offset, e.raw_partition, e.raw_offset))
            continue
        try:
            head = decode_head(e.leaf)
            if _EVENT_ID.fullmatch(head.id) is None:  # the catalogue's EventId: dedupe compares these strings
                raise ValueError(f"id {head.id[:40]!r} is not a UUID in canonical lower-case form")
            event_time = parse_event_time(head.time)
            if event_time.tzinfo is None:
                raise ValueError("time has no UTC offset")
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as err:
            bad.append(Quarantined(Reason.MALFORMED_LEAF, f"entry {i}: {err}", e.leaf, offset,
                                   e.raw_partition, e.raw_offset))
            continue
        good.append(Accepted(offset, i, e.leaf, digest, e.raw_partition, e.raw_offset, head, event_time))
    return (VerdictBatch(offset, verdict.verified_at, good) if good else None), bad
