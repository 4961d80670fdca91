"""The CloudEvents Kafka binding (pure) and the rejected-topic row decoding: no services needed."""

from __future__ import annotations

import json
import uuid

import pytest

from services.api.rejections import record_row
from services.kafka.cloudevents import BindingError, key_matches, to_structured

EVENT = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/participants/mine-x", "type": "t.v1",
         "subject": "LOT-1", "time": "2026-12-01T00:00:00Z", "sigkeyid": "ab" * 32, "signature": "c2ln"}


def binary_headers(event: dict[str, str], content_type: str = "application/json") -> list[tuple[str, bytes]]:
    return [("content-type", content_type.encode()), *((f"ce_{k}", v.encode()) for k, v in event.items())]


def test_binary_mode_becomes_the_structured_event() -> None:
    out = to_structured(binary_headers(EVENT), json.dumps({"煤": 1}).encode())
    assert isinstance(out, bytes)
    assert json.loads(out) == {**EVENT, "datacontenttype": "application/json", "data": {"煤": 1}}


def test_structured_mode_and_legacy_records_pass_unchanged() -> None:
    value = json.dumps(EVENT).encode()
    assert to_structured([("content-type", b"application/cloudevents+json")], value) is value
    assert to_structured([], value) is value
    assert to_structured([], None) == b""


@pytest.mark.parametrize(("headers", "value", "says"), [
    (binary_headers(EVENT, "text/plain"), b"hello", "only JSON data"),
    (binary_headers(EVENT), b"{not json", "not JSON"),
    ([*binary_headers(EVENT), ("ce_data", b"{}")], b"{}", "ce_data"),
    ([*binary_headers(EVENT), ("ce_id", b"again")], b"{}", "given twice"),
    (binary_headers(EVENT, "application/cloudevents+json"), b"{}", "one mode only"),
    ([("ce_specversion", b"\xff")], b"{}", "not UTF-8"),
])
def test_unusable_binary_records_say_why(headers: list[tuple[str, bytes]], value: bytes, says: str) -> None:
    out = to_structured(headers, value)
    assert isinstance(out, BindingError) and says in out.detail


def test_key_must_be_the_subject() -> None:
    assert key_matches(b"LOT-1", "LOT-1")
    assert not key_matches(None, "LOT-1")
    assert not key_matches(b"LOT-2", "LOT-1")
    assert key_matches("煤-1".encode(), "煤-1")


def test_a_rejected_record_becomes_one_row_even_when_it_is_garbage() -> None:
    detail = json.dumps({"reason": "bad_signature", "detail": "no", "event_id": EVENT["id"]}).encode()
    row = record_row(partition=2, offset=7, timestamp_ms=1_764_547_200_000, value=json.dumps(EVENT).encode(),
                     headers=[("reason", b"bad_signature"), ("detail", detail), ("stage", b"validator"),
                              ("raw-partition", b"4"), ("raw-offset", b"9")])
    assert row[:6] == (2, 7, uuid.UUID(EVENT["id"]), "mine-x", "t.v1", "bad_signature")
    assert row[8:12] == (4, 9, "ab" * 32, "c2ln") and row[12] is not None
    junk = record_row(partition=0, offset=1, timestamp_ms=0, value=b"\xff\xfe", headers=[("detail", b"[1")])
    assert junk[2] is None and junk[3] is None and junk[5] == "unknown"
    assert json.loads(junk[6])["detail"] == "[1"
