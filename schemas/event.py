"""The validated event: typed, immutable, with the original envelope kept for signature checks."""

from __future__ import annotations

import datetime
from typing import Any

import msgspec

from schemas.catalogue import Area
from schemas.errors import EventWarning
from schemas.models import EventData

__all__ = ["Event"]


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """A CloudEvent that passed :func:`schemas.validate` (schema and domain rules).

    ``data`` is the typed payload (e.g. :class:`schemas.models.WagonsLoadedV1`; narrow with
    ``isinstance``). ``envelope`` is the decoded original envelope as a plain dict — the very object
    decoded (or passed in), not a copy: use it for canonicalisation and signature verification and
    **never mutate it**. Nothing here says the signature is valid: that is the validator's job
    (``chain_anchor.events.verify_event(event.envelope, keyring)``). Events compare by value; they are not
    hashable (the envelope is a dict).
    """

    id: str
    source: str
    type: str
    subject: str
    time: datetime.datetime
    """The event's own time (UTC, timezone-aware); views window by it."""
    dataschema: str
    data: EventData
    sigkeyid: str
    signature: str
    participant_id: str
    """The publisher, from ``source`` = ``/participants/<participant_id>``."""
    area: Area
    name: str
    """Event name without area and version, e.g. ``WagonsLoaded``."""
    version: int
    warnings: tuple[EventWarning, ...]
    """Limits the event breaks without being invalid (quality, truck weight)."""
    envelope: dict[str, Any]
