"""The event catalogue: every event type, its area, who may publish it and what it is about.

Built from the ``x-*`` annotations of the JSON Schemas (the source of truth):

* ``x-publisher-roles`` — roles allowed to publish (``mine``, ``railway``, ``carrier``, ``buyer``, ``admin``);
* ``x-owner-field`` / ``x-owner-kind`` — the JSON pointer naming what the publisher must own, and what
  kind of thing it is: ``participant`` (the publisher itself, e.g. ``/data/buyer_id``), ``mine`` (one of its
  mines) or ``station`` (one of its stations); both null for registry events (admin only);
* ``x-subject-field`` — the data field the envelope ``subject`` must equal (the Kafka key).
"""

from __future__ import annotations

import builtins
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from schemas import models
from schemas.resources import load_json, schema_file_names

__all__ = [
    "AREAS",
    "ROLES",
    "Area",
    "EventType",
    "OwnerKind",
    "Role",
    "catalogue",
    "common_schema",
    "event_type",
    "parse_type",
    "resolve_pointer",
]

Area = Literal["demand", "inventory", "transport", "receipt", "registry"]
Role = Literal["mine", "railway", "carrier", "buyer", "admin"]
OwnerKind = Literal["participant", "mine", "station"]
AREAS: tuple[Area, ...] = ("demand", "inventory", "transport", "receipt", "registry")
ROLES: tuple[Role, ...] = ("mine", "railway", "carrier", "buyer", "admin")

TYPE_PREFIX = "cn.taijiao.coal."
_TYPE_RE = re.compile(r"cn\.taijiao\.coal\.([a-z]+)\.([A-Z][A-Za-z]+)\.v([1-9][0-9]{0,3})")


@dataclass(frozen=True, slots=True)
class EventType:
    """One event type and version of the catalogue."""

    type: str
    """CloudEvents ``type``: ``cn.taijiao.coal.<area>.<Name>.v<version>``."""
    area: Area
    name: str
    version: int
    schema_id: str
    """The schema's ``$id`` — also the required ``dataschema`` of the envelope."""
    title: str
    title_zh: str
    description: str
    publisher_roles: tuple[Role, ...]
    owner_field: str | None
    owner_kind: OwnerKind | None
    subject_field: str
    schema: Mapping[str, Any]
    """The JSON Schema (decoded; do not mutate)."""
    data_model: builtins.type[models.Model]
    envelope_model: builtins.type[models.Envelope]

    def owner(self, envelope: Mapping[str, Any]) -> object:
        """The value at :attr:`owner_field` in a (decoded) envelope, or None."""
        return None if self.owner_field is None else resolve_pointer(envelope, self.owner_field)


def resolve_pointer(doc: object, pointer: str) -> object:
    """The value at a JSON pointer (RFC 6901) in decoded JSON, or None when the path does not exist."""
    node = doc
    if not pointer:
        return node
    for raw in pointer[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def parse_type(type_: str) -> tuple[str, str, int] | None:
    """``(area, name, version)`` of a well-formed type string, or None."""
    m = _TYPE_RE.fullmatch(type_)
    return None if m is None else (m.group(1), m.group(2), int(m.group(3)))


def _entry(schema: Mapping[str, Any]) -> EventType:
    type_ = str(schema["properties"]["type"]["const"])
    title = str(schema["title"])
    return EventType(
        type=type_,
        area=schema["x-area"],
        name=str(schema["x-name"]),
        version=int(schema["x-version"]),
        schema_id=str(schema["$id"]),
        title=title.split(" — ", 1)[-1],
        title_zh=str(schema["x-title-zh"]),
        description=str(schema.get("description", "")),
        publisher_roles=tuple(schema["x-publisher-roles"]),
        owner_field=schema["x-owner-field"],
        owner_kind=schema["x-owner-kind"],
        subject_field=str(schema["x-subject-field"]),
        schema=schema,
        data_model=models.DATA_MODELS[type_],
        envelope_model=models.ENVELOPE_MODELS[type_],
    )


@functools.cache
def _load() -> tuple[Mapping[str, Any], tuple[EventType, ...]]:
    common: Mapping[str, Any] | None = None
    entries = []
    for name in schema_file_names():
        schema = load_json("definitions", name)
        if name.startswith("common."):
            common = schema
        else:
            entries.append(_entry(schema))
    if common is None:
        raise RuntimeError("schemas/definitions/common.v1.json is missing")
    entries.sort(key=lambda e: (AREAS.index(e.area), _order(e.name), e.name, e.version))
    return common, tuple(entries)


_LIFECYCLE = (
    "DemandPosted", "DemandAmended", "DemandWithdrawn",
    "LotAssayed", "StockReported", "SupplyOffered",
    "CapacityPublished", "WagonsRequested", "WagonsAllocated", "TruckWeighed", "WagonsLoaded", "TrainDeparted",
    "TrainArrived", "WagonsUnloaded",
    "DeliveryConfirmed", "DeliveryDisputed",
    "ParticipantRegistered", "KeyRotated", "KeyRevoked",
)


def _order(name: str) -> int:
    return _LIFECYCLE.index(name) if name in _LIFECYCLE else len(_LIFECYCLE)


def catalogue() -> tuple[EventType, ...]:
    """Every event type and version, by area, then in lifecycle order (posted before amended …), then version."""
    return _load()[1]


@functools.cache
def _by_type() -> Mapping[str, EventType]:
    return {e.type: e for e in catalogue()}


def event_type(type_: str) -> EventType:
    """The catalogue entry of a CloudEvents ``type``; ``KeyError`` if there is none."""
    return _by_type()[type_]


def common_schema() -> Mapping[str, Any]:
    """The common definitions schema (``$id`` …/common/v1.json)."""
    return _load()[0]
