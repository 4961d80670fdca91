"""The checks of one raw event, in order: size, JSON, schema + rules, participant, key, signature, role,
ownership, time window. Pure given the registry and the clock reading passed in: no Kafka, no database
(replays need the ledger: see ``worker``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec

import schemas
from chain_anchor.errors import BadSignature, EventSignatureError, UnknownKey
from chain_anchor.events import verify_canonical_event
from services.registry import Participant, Registry
from services.validator.reasons import Reason

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Accept:
    event: schemas.Event
    leaf: bytes  # canonical (RFC 8785) bytes of the whole signed envelope: the Merkle leaf


@dataclass(frozen=True, slots=True)
class Reject:
    reason: Reason
    detail: str
    errors: tuple[dict[str, str], ...] = ()
    event_id: str | None = None

    def detail_json(self) -> bytes:
        doc: dict[str, Any] = {"reason": self.reason.value, "detail": self.detail}
        if self.errors:
            doc["errors"] = list(self.errors)
        if self.event_id:
            doc["event_id"] = self.event_id
        return json.dumps(doc, ensure_ascii=False).encode()


Decision = Accept | Reject


def owns(participant: Participant, kind: schemas.OwnerKind, value: object) -> bool:
    """Does ``participant`` own what the event is about: itself, one of its mines, one of its stations?"""
    if kind == "mine":
        return value in participant.mines
    if kind == "station":
        return value in participant.stations
    return value == participant.id


class Checker:
    def __init__(self, registry: Registry, *, max_event_bytes: int, max_future_s: int | None = None,
                 max_past_s: int | None = None) -> None:
        """``max_future_s`` / ``max_past_s``: how far an event's ``time`` may be ahead of / behind the clock
        reading passed to :meth:`check` (None: no limit)."""
        self.registry = registry
        self.max_event_bytes = max_event_bytes
        self.max_future = None if max_future_s is None else timedelta(seconds=max_future_s)
        self.max_past = None if max_past_s is None else timedelta(seconds=max_past_s)
        self.now: datetime | None = None  # the clock reading of the batch being checked (set by the worker)

    def check(self, raw: bytes, now: datetime | None = None) -> Decision:
        """Check one raw event; ``now`` (timezone-aware; default :attr:`now`) is the clock the time window is
        checked against (None: the window is not checked)."""
        if len(raw) > self.max_event_bytes:
            return Reject(Reason.OVERSIZED, f"event is {len(raw)} bytes; the limit is {self.max_event_bytes}")
        try:
            event = schemas.validate(raw)
        except schemas.SchemaError as e:
            return _schema_reject(e)
        return self.check_event(event, now or self.now)

    def check_time(self, event: schemas.Event, now: datetime) -> Reject | None:
        """The event's ``time`` must lie in [now − max_past, now + max_future]."""
        if self.max_future is not None and event.time > now + self.max_future:
            limit = int(self.max_future.total_seconds())
            return Reject(Reason.TIME_OUT_OF_RANGE, f"time {event.envelope.get('time')} is more than {limit} s ahead"
                          f" of the validator's clock ({now:%Y-%m-%dT%H:%M:%SZ}; event_time_max_future_s)",
                          ({"path": "/time", "rule": "time-out-of-range", "message": "too far in the future"},),
                          event_id=event.id)
        if self.max_past is not None and event.time < now - self.max_past:
            limit = int(self.max_past.total_seconds())
            return Reject(Reason.TIME_OUT_OF_RANGE, f"time {event.envelope.get('time')} is more than {limit} s behind"
                          f" the validator's clock ({now:%Y-%m-%dT%H:%M:%SZ}; event_time_max_past_s)",
                          ({"path": "/time", "rule": "time-out-of-range", "message": "too far in the past"},),
                          event_id=event.id)
        return None

    def check_event(self, event: schemas.Event, now: datetime | None = None) -> Decision:
        participant = self.registry.get(event.participant_id)
        if participant is None:
            return Reject(Reason.UNKNOWN_PARTICIPANT, f"source {event.source!r} is not a registered participant",
                          event_id=event.id)
        if event.sigkeyid in participant.revoked:
            return Reject(Reason.REVOKED_KEY, f"key {event.sigkeyid} of {participant.id} was revoked",
                          event_id=event.id)
        leaf = event.canonical  # RFC 8785 bytes of the envelope (schemas.validate: no floats, ASCII member names)
        try:
            verify_canonical_event(leaf, event.sigkeyid, event.signature, participant.keys)
        except UnknownKey:
            return Reject(Reason.UNKNOWN_KEY, f"key {event.sigkeyid} is not a key of {participant.id}",
                          event_id=event.id)
        except (BadSignature, EventSignatureError) as e:
            return Reject(Reason.BAD_SIGNATURE, str(e), event_id=event.id)
        policy = _policy(event.type)
        entry = policy.entry
        if participant.roles.isdisjoint(policy.roles):
            return Reject(Reason.FORBIDDEN_ROLE,
                          f"{participant.id} has roles {sorted(participant.roles)}; {event.name} needs one of"
                          f" {sorted(entry.publisher_roles)}", event_id=event.id)
        if entry.owner_kind is not None and "admin" not in participant.roles:
            value = policy.owner(event)
            if not owns(participant, entry.owner_kind, value):
                return Reject(Reason.NOT_OWNER, f"{participant.id} may not publish {event.name} for"
                              f" {entry.owner_field}={value!r}", event_id=event.id)
        if now is not None and (late := self.check_time(event, now)) is not None:
            return late
        return Accept(event, leaf)


@dataclass(frozen=True, slots=True)
class _Policy:
    """Who may publish an event type, ready for one event after another."""

    entry: schemas.EventType
    roles: frozenset[str]
    owner_keys: tuple[str, ...] | None
    """The member names of ``entry.owner_field`` when it names members only (no ``~`` escapes, no array
    index): walked directly instead of parsing the pointer per event."""

    data_attr: str | None
    """The attribute of the typed ``data`` that ``entry.owner_field`` names, when it is ``/data/<member>``."""

    def owner(self, event: schemas.Event) -> object:
        """What ``entry.owner(event.envelope)`` returns. A string read from the typed ``data`` is the very
        string the envelope holds there (one decoder); anything else (an absent member) is looked up in
        the envelope."""
        if self.data_attr is not None:
            value = getattr(event.data, self.data_attr)
            if type(value) is str:
                return value
        envelope = event.envelope
        if self.owner_keys is None:
            return self.entry.owner(envelope)
        node: object = envelope
        for key in self.owner_keys:
            if type(node) is not dict:
                return None
            node = node.get(key)
        return node


_POLICIES: dict[str, _Policy] = {}


def _policy(type_: str) -> _Policy:
    policy = _POLICIES.get(type_)
    if policy is None:
        entry = schemas.event_type(type_)
        field = entry.owner_field
        parts = tuple(field[1:].split("/")) if field else None
        keys = parts if parts and field and "~" not in field and not any(p.isdigit() for p in parts) else None
        attrs = {f.encode_name: f.name for f in msgspec.structs.fields(entry.data_model)}
        data_attr = attrs.get(keys[1]) if keys is not None and len(keys) == 2 and keys[0] == "data" else None
        policy = _POLICIES[type_] = _Policy(entry, frozenset(entry.publisher_roles), keys, data_attr)
    return policy


def _schema_reject(e: schemas.SchemaError) -> Reject:
    errors = tuple({"path": x.path, "rule": x.rule, "message": x.message} for x in e.errors)
    malformed = any(x.rule in ("json", "malformed_json", "not_object") for x in e.errors)
    return Reject(Reason.MALFORMED_JSON if malformed else Reason.SCHEMA, str(e), errors)
