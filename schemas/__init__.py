"""schemas: the event catalogue of Taijiao CoalChain and ``validate(raw) -> Event``.

JSON Schemas (2020-12, one per event type and version, under ``schemas/definitions/``) are the source of truth;
``schemas.models`` holds the msgspec Structs generated from them; ``schemas/data/`` holds the reference
data of the 太焦线 (stations, mines, products, wagons, limits, demo participants).

    event = schemas.validate(raw_bytes)        # -> Event, or raises SchemaError (.errors: path, rule, message)
    entry = schemas.event_type(event.type)     # -> EventType: area, publisher roles, owner field, subject field

Imports only the standard library and validation libraries; never ``services``.
"""

from schemas import ijson, models
from schemas.catalogue import (
    AREAS,
    ROLES,
    Area,
    EventType,
    OwnerKind,
    Role,
    catalogue,
    common_schema,
    event_type,
    parse_type,
    resolve_pointer,
)
from schemas.errors import ErrorItem, EventWarning, SchemaError
from schemas.event import Event
from schemas.refdata import RefData, refdata
from schemas.rules import RULES, RuleInfo
from schemas.units import format_hundredths, hundredths, kcal_to_kj
from schemas.validation import validate

__all__ = [
    "AREAS",
    "ROLES",
    "RULES",
    "Area",
    "ErrorItem",
    "Event",
    "EventType",
    "EventWarning",
    "OwnerKind",
    "RefData",
    "Role",
    "RuleInfo",
    "SchemaError",
    "catalogue",
    "common_schema",
    "event_type",
    "format_hundredths",
    "hundredths",
    "ijson",
    "kcal_to_kj",
    "models",
    "parse_type",
    "refdata",
    "resolve_pointer",
    "validate",
]
