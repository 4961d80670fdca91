"""The validated event: typed, immutable, with the original envelope kept for signature checks."""

from __future__ import annotations

import datetime
import functools
from typing import Any

import msgspec

from schemas.catalogue import Area
from schemas.errors import EventWarning
from schemas.models import EventData

__all__ = ["Event"]

_decode = msgspec.json.Decoder().decode
_encode_sorted = msgspec.json.Encoder(order="sorted").encode


class Event(msgspec.Struct, frozen=True, dict=True):
    """A CloudEvent that passed :func:`schemas.validate` (schema and domain rules).

    ``data`` is the typed payload (e.g. :class:`schemas.models.WagonsLoadedV1`; narrow with
    ``isinstance``). ``envelope`` is the decoded original envelope as a plain dict — the very object
    passed in when ``validate`` was given a dict, else decoded from the JSON bytes on first use (the same
    decoder, so the same dict, member order included): use it for canonicalisation and signature
    verification and **never mutate it**. ``canonical`` is the RFC 8785 (JCS) bytes of that envelope — the
    Merkle leaf of the event. Nothing here says the signature is valid: that is the validator's job
    (``chain_anchor.events.verify_event(event.envelope, keyring)``). Events compare and hash by value (the
    fields below, not ``envelope`` or ``canonical``).
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

    @functools.cached_property
    def envelope(self) -> dict[str, Any]:
        """The envelope as a plain dict (decoded from the JSON bytes on first use when validated from bytes)."""
        raw = self.__dict__.get("json")
        if raw is None:  # not made by schemas.validate (e.g. built by hand, or unpickled: fields only)
            raise AttributeError("this Event carries no envelope: only schemas.validate attaches one")
        envelope: dict[str, Any] = _decode(raw)
        return envelope

    @functools.cached_property
    def canonical(self) -> bytes:
        """RFC 8785 bytes of :attr:`envelope`: the Merkle leaf. A validated envelope has ASCII member names
        only, no floats and bounded integers, where msgspec's sorted encoding is JCS (see
        ``chain_anchor.canonical``)."""
        return _encode_sorted(self.envelope)
