"""The CloudEvents Kafka protocol binding (v1.0.2), as far as the raw topic needs it. Pure: no I/O.

* **Structured** content mode: the record value is the whole event as JSON; the ``content-type`` header is
  ``application/cloudevents+json`` (optional here: a record without any ``ce_`` header is read as structured,
  the way CoalChain publishers always wrote).
* **Binary** content mode: each attribute is a header ``ce_<name>`` (UTF-8 text), ``content-type`` is the
  ``datacontenttype`` and the value is ``data``. :func:`to_structured` turns such a record into the
  structured JSON bytes the validators check; the signature (``ce_sigkeyid``, ``ce_signature``) is over
  that structured envelope (``docs/ledger-format.md``), so a binary-mode publisher signs exactly what a
  structured one would. Only JSON data (``application/json`` or ``…+json``) can be carried.

The binding's rule for the key ("the partitioning key") is the event's ``subject`` here:
:func:`key_matches` is the check the validators apply to every record, whatever its mode.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["STRUCTURED_CONTENT_TYPE", "BindingError", "key_matches", "to_structured"]

STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
_PREFIX = "ce_"


@dataclass(frozen=True)
class BindingError:
    """The record is binary mode but cannot become an event; ``detail`` says why (and names structured mode)."""

    detail: str


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def to_structured(headers: Sequence[tuple[str, bytes | None]], value: bytes | None) -> bytes | BindingError:
    """The record's event as structured-mode JSON bytes: ``value`` itself unless the record is binary mode
    (it has a ``ce_specversion`` header), else the event rebuilt from the ``ce_*`` headers and the data."""
    ce: dict[str, str] = {}
    content_type: str | None = None
    try:
        for name, raw in headers:
            lower = name.lower()
            if lower.startswith(_PREFIX):
                attribute = lower[len(_PREFIX):]
                if attribute in ce:
                    return BindingError(f"header {name}: given twice")
                ce[attribute] = (raw or b"").decode("utf-8")
            elif lower == "content-type":
                content_type = (raw or b"").decode("utf-8")
    except UnicodeDecodeError:
        return BindingError(f"header {name}: not UTF-8 text")
    if "specversion" not in ce:
        return value or b""
    for reserved in ("data", "data_base64", "datacontenttype"):
        if reserved in ce:
            return BindingError(f"header ce_{reserved}: not an attribute in binary mode (use content-type and the"
                                " record value)")
    if content_type is not None and content_type.lower().startswith("application/cloudevents"):
        return BindingError(f"content-type {content_type!r} is structured mode, but ce_* headers are present;"
                            " send one mode only")
    envelope: dict[str, object] = dict(ce)
    if value:
        if content_type is None or not _is_json(content_type):
            return BindingError(f"binary mode with content-type {content_type!r}: only JSON data"
                                " (application/json) can be carried; or send structured mode"
                                f" ({STRUCTURED_CONTENT_TYPE}, the whole event as the value)")
        try:
            envelope["data"] = json.loads(value)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            return BindingError(f"binary mode: the value (data) is not JSON: {e}")
    if content_type is not None:
        envelope["datacontenttype"] = content_type
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def key_matches(key: bytes | None, subject: str) -> bool:
    """Is the record's key the event's subject (UTF-8)?"""
    return key is not None and key == subject.encode("utf-8")
