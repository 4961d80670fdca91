"""What :func:`schemas.validate` reports: errors that reject an event, warnings that travel with it.

Hierarchy::

    SchemaError (ValueError)        the event is rejected; .errors lists every finding (path, rule, message)

A warning (:class:`EventWarning`) never raises: it is attached to the accepted :class:`schemas.Event`
(e.g. a lot above the 2014 商品煤 sulphur limit) so the views can show it.

Rules (``ErrorItem.rule``):

* the JSON Schema keyword that failed — ``required``, ``additionalProperties``, ``type``, ``enum``,
  ``const``, ``pattern``, ``format``, ``minimum``, ``maximum``, ``minLength``, ``maxLength``, ``minItems``,
  ``maxItems``, ``uniqueItems``, ``minProperties``;
* ``json`` (the bytes are not JSON), the strict I-JSON rules of :mod:`schemas.ijson` (``utf-8``,
  ``lone-surrogate``, ``duplicate-key``, ``integer-too-long``, ``number-out-of-range``, ``not-a-number``,
  ``too-deep``, ``trailing-data``), ``not_object`` (JSON, but not an object), ``unknown-type`` and
  ``unknown-version`` (the ``type`` attribute names no schema);
* a domain rule in kebab-case (``net-equals-gross-minus-tare``, ``wagon-load-limit`` …), listed with its
  meaning in ``docs/events.md``.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

__all__ = ["ErrorItem", "EventWarning", "SchemaError"]


class ErrorItem(msgspec.Struct, frozen=True, kw_only=True):
    """One reason an event is invalid."""

    path: str
    """JSON pointer into the event (RFC 6901), e.g. ``/data/wagons/3/net_weight_kg``; ``""`` = the whole."""
    rule: str
    """The schema keyword or domain rule that failed."""
    message: str
    """For people: what is wrong and, where it helps, what would be right."""

    def __str__(self) -> str:
        return f"{self.path or '/'}: {self.message} [{self.rule}]"


class EventWarning(msgspec.Struct, frozen=True, kw_only=True):
    """A limit an accepted event breaks (quality limits, truck gross weight): shown, not rejected."""

    code: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message} [{self.code}]"


class SchemaError(ValueError):
    """The event is invalid. ``errors`` holds every finding, ordered by path; ``str()`` lists them all."""

    retriable = False

    def __init__(
        self, errors: Iterable[ErrorItem], *, event_type: str | None = None, event_id: str | None = None
    ) -> None:
        self.errors: list[ErrorItem] = list(errors)
        self.event_type = event_type
        self.event_id = event_id
        super().__init__(self._text())

    def _text(self) -> str:
        what = "event"
        if self.event_type:
            what += f" {self.event_type}"
        if self.event_id:
            what += f" (id {self.event_id})"
        count = len(self.errors)
        head = f"invalid {what}: {count} error{'s' if count != 1 else ''}"
        return "\n".join([head, *(f"  {item}" for item in self.errors)])

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (self.errors, self.event_type, self.event_id))


def _rebuild(errors: list[ErrorItem], event_type: str | None, event_id: str | None) -> SchemaError:
    return SchemaError(errors, event_type=event_type, event_id=event_id)
