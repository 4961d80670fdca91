"""The public contract of schemas.validate, Event and SchemaError."""

from __future__ import annotations

import copy
import datetime
import json
import pickle
import types
from typing import Any

import msgspec
import pytest

import schemas
from schemas import models
from tests.schemas.examples_data import example_bytes


def test_accepts_bytes_str_bytearray_memoryview_and_mappings(wagons_loaded: dict[str, Any]) -> None:
    raw = json.dumps(wagons_loaded, ensure_ascii=False).encode()
    inputs: list[Any] = [raw, raw.decode(), bytearray(raw), memoryview(raw), wagons_loaded,
                         types.MappingProxyType(wagons_loaded)]
    events = [schemas.validate(x) for x in inputs]
    assert all(e == events[0] for e in events)


def test_a_dict_is_kept_as_the_envelope_without_copying(wagons_loaded: dict[str, Any]) -> None:
    event = schemas.validate(wagons_loaded)
    assert event.envelope is wagons_loaded


def test_event_exposes_typed_immutable_fields(wagons_loaded: dict[str, Any]) -> None:
    event = schemas.validate(wagons_loaded)
    assert isinstance(event.data, models.WagonsLoadedV1)
    assert event.participant_id == "railway-zhengzhou"
    assert (event.area, event.name, event.version) == ("transport", "WagonsLoaded", 1)
    assert event.time == datetime.datetime(2025, 3, 5, 4, 40, tzinfo=datetime.UTC)
    assert event.time.utcoffset() == datetime.timedelta(0)
    assert event.data.wagons[0].wagon_type == "C80"
    assert event.warnings == ()
    with pytest.raises(AttributeError):
        event.subject = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        event.data.total_net_weight_kg = 1  # type: ignore[misc]


def test_optional_fields_are_unset_when_absent(wagons_loaded: dict[str, Any]) -> None:
    del wagons_loaded["data"]["request_id"], wagons_loaded["data"]["assay"]
    event = schemas.validate(wagons_loaded)
    assert isinstance(event.data, models.WagonsLoadedV1)
    assert event.data.request_id is msgspec.UNSET and event.data.assay is msgspec.UNSET


def test_null_is_not_a_way_to_omit_an_optional_field(wagons_loaded: dict[str, Any]) -> None:
    wagons_loaded["data"]["request_id"] = None
    with pytest.raises(schemas.SchemaError) as info:
        schemas.validate(wagons_loaded)
    assert [(e.path, e.rule) for e in info.value.errors] == [("/data/request_id", "type")]


def test_schema_error_is_readable_and_carries_data(wagons_loaded: dict[str, Any]) -> None:
    wagons_loaded["data"]["wagons"][2]["net_weight_kg"] = 1.5
    wagons_loaded["data"]["station"] = "XYZ"
    with pytest.raises(schemas.SchemaError) as info:
        schemas.validate(wagons_loaded)
    error = info.value
    assert isinstance(error, ValueError)
    assert error.event_type == "cn.taijiao.coal.transport.WagonsLoaded.v1"
    assert error.event_id == wagons_loaded["id"]
    assert [(e.path, e.rule) for e in error.errors] == [
        ("/data/station", "enum"), ("/data/wagons/2/net_weight_kg", "type")]
    text = str(error)
    assert text.startswith("invalid event cn.taijiao.coal.transport.WagonsLoaded.v1 (id ")
    assert "2 errors" in text and "/data/wagons/2/net_weight_kg" in text and "floats are not allowed" in text
    assert "Traceback" not in text and "jsonschema" not in text and "msgspec" not in text
    assert error.__cause__ is None and error.__suppress_context__
    clone = pickle.loads(pickle.dumps(error))
    assert clone.errors == error.errors and str(clone) == text


@pytest.mark.parametrize(("raw", "rule"), [
    (b"", "json"), (b"{", "json"), (b"\xff\xfe", "utf-8"),
    (b"null", "not_object"), (b"[]", "not_object"), (b"42", "not_object"), ('"x"', "not_object"),
])
def test_non_events_are_rejected_at_the_root(raw: bytes | str, rule: str) -> None:
    with pytest.raises(schemas.SchemaError) as info:
        schemas.validate(raw)
    assert [(e.path, e.rule) for e in info.value.errors] == [("", rule)]


def test_deep_nesting_is_rejected_where_it_exceeds_the_limit() -> None:
    with pytest.raises(schemas.SchemaError) as info:
        schemas.validate(b"[" * 10000 + b"]" * 10000)
    assert [(e.path, e.rule) for e in info.value.errors] == [("/0" * schemas.ijson.MAX_DEPTH, "too-deep")]


@pytest.mark.parametrize("value", [None, 42, ["a"], object()])
def test_python_values_that_are_not_mappings_are_rejected(value: Any) -> None:
    with pytest.raises(schemas.SchemaError) as info:
        schemas.validate(value)
    assert info.value.errors[0].rule == "not_object"


@pytest.mark.parametrize(("type_", "rule", "fragment"), [
    ("cn.taijiao.coal.transport.WagonsLoaded.v2", "unknown-version", "has no version 2"),
    ("cn.taijiao.coal.transport.WagonsLoded.v1", "unknown-type", "did you mean"),
    ("com.example.Something", "unknown-type", "cn.taijiao.coal.<area>.<EventName>.v<version>"),
    (7, "type", "must be a string"),
])
def test_unknown_types_and_versions_name_the_type(
    wagons_loaded: dict[str, Any], type_: object, rule: str, fragment: str
) -> None:
    wagons_loaded["type"] = type_
    with pytest.raises(schemas.SchemaError) as info:
        schemas.validate(wagons_loaded)
    [item] = info.value.errors
    assert (item.path, item.rule) == ("/type", rule)
    assert fragment in item.message
    if isinstance(type_, str):
        assert type_ in item.message


def test_all_schema_errors_are_reported_at_once(wagons_loaded: dict[str, Any]) -> None:
    doc = copy.deepcopy(wagons_loaded)
    del doc["specversion"]
    doc["colour"] = "black"
    for wagon in doc["data"]["wagons"]:
        wagon["wagon_type"] = "C90"
    with pytest.raises(schemas.SchemaError) as info:
        schemas.validate(doc)
    assert [(e.path, e.rule) for e in info.value.errors] == [
        ("/colour", "additionalProperties"),
        *[(f"/data/wagons/{i}/wagon_type", "enum") for i in range(4)],
        ("/specversion", "required"),
    ]


def test_rule_errors_are_all_reported(wagons_loaded: dict[str, Any]) -> None:
    w = wagons_loaded["data"]["wagons"]
    w[0]["net_weight_kg"] += 1
    w[1]["wagon_type"] = "C70"
    wagons_loaded["subject"] = "other"
    with pytest.raises(schemas.SchemaError) as info:
        schemas.validate(wagons_loaded)
    assert {(e.path, e.rule) for e in info.value.errors} == {
        ("/subject", "subject-mismatch"),
        ("/data/wagons/0/net_weight_kg", "net-equals-gross-minus-tare"),
        ("/data/wagons/1/net_weight_kg", "wagon-load-limit"),
        ("/data/total_net_weight_kg", "total-equals-sum"),
    }


def test_integers_as_floats_or_strings_are_rejected(wagons_loaded: dict[str, Any]) -> None:
    raw = json.dumps(wagons_loaded).replace('"total_net_weight_kg": 316630', '"total_net_weight_kg": 3.1663e5')
    with pytest.raises(schemas.SchemaError) as info:
        schemas.validate(raw)
    assert [(e.path, e.rule) for e in info.value.errors] == [("/data/total_net_weight_kg", "type")]


def test_trailing_newline_does_not_sneak_past_a_pattern(wagons_loaded: dict[str, Any]) -> None:
    wagons_loaded["data"]["wagons"][0]["wagon_no"] += "\n"
    with pytest.raises(schemas.SchemaError) as info:
        schemas.validate(wagons_loaded)
    assert [(e.path, e.rule) for e in info.value.errors] == [("/data/wagons/0/wagon_no", "pattern")]


def test_time_with_microseconds_and_whole_seconds(wagons_loaded: dict[str, Any]) -> None:
    for text, micro in (("2025-03-05T04:40:00.123456Z", 123456), ("2025-03-05T04:40:00.120Z", 120000)):
        wagons_loaded["time"] = text
        assert schemas.validate(wagons_loaded).time.microsecond == micro


def test_warnings_are_attached_not_raised() -> None:
    event = schemas.validate(example_bytes("valid/transport.TruckWeighed.overweight.json"))
    [warning] = event.warnings
    assert warning.code == "truck-gross-over-limit" and warning.path == "/data/gross_weight_kg"
    assert "45800" in warning.message and "43000" in warning.message
