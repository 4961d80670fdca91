"""The checks of one raw event, in order: size, JSON, schema + rules, participant, key, signature, role,
ownership. Pure given the registry: no Kafka, no database (replays need the ledger: see ``worker``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import schemas
from chain_anchor.errors import BadSignature, EventSignatureError, UnknownKey
from chain_anchor.events import verify_prevalidated_event
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
    def __init__(self, registry: Registry, *, max_event_bytes: int) -> None:
        self.registry = registry
        self.max_event_bytes = max_event_bytes

    def check(self, raw: bytes) -> Decision:
        if len(raw) > self.max_event_bytes:
            return Reject(Reason.OVERSIZED, f"event is {len(raw)} bytes; the limit is {self.max_event_bytes}")
        try:
            event = schemas.validate(raw)
        except schemas.SchemaError as e:
            return _schema_reject(e)
        return self.check_event(event)

    def check_event(self, event: schemas.Event) -> Decision:
        participant = self.registry.get(event.participant_id)
        if participant is None:
            return Reject(Reason.UNKNOWN_PARTICIPANT, f"source {event.source!r} is not a registered participant",
                          event_id=event.id)
        if event.sigkeyid in participant.revoked:
            return Reject(Reason.REVOKED_KEY, f"key {event.sigkeyid} of {participant.id} was revoked",
                          event_id=event.id)
        try:
            leaf = verify_prevalidated_event(event.envelope, participant.keys)  # schemas.validate: no floats
        except UnknownKey:
            return Reject(Reason.UNKNOWN_KEY, f"key {event.sigkeyid} is not a key of {participant.id}",
                          event_id=event.id)
        except (BadSignature, EventSignatureError) as e:
            return Reject(Reason.BAD_SIGNATURE, str(e), event_id=event.id)
        entry = schemas.event_type(event.type)
        if not participant.roles & set(entry.publisher_roles):
            return Reject(Reason.FORBIDDEN_ROLE,
                          f"{participant.id} has roles {sorted(participant.roles)}; {event.name} needs one of"
                          f" {sorted(entry.publisher_roles)}", event_id=event.id)
        if entry.owner_kind is not None and "admin" not in participant.roles:
            value = entry.owner(event.envelope)
            if not owns(participant, entry.owner_kind, value):
                return Reject(Reason.NOT_OWNER, f"{participant.id} may not publish {event.name} for"
                              f" {entry.owner_field}={value!r}", event_id=event.id)
        return Accept(event, leaf)


def _schema_reject(e: schemas.SchemaError) -> Reject:
    errors = tuple({"path": x.path, "rule": x.rule, "message": x.message} for x in e.errors)
    malformed = any(x.rule in ("json", "malformed_json", "not_object") for x in e.errors)
    return Reject(Reason.MALFORMED_JSON if malformed else Reason.SCHEMA, str(e), errors)
