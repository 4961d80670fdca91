"""Every example under schemas/examples/ behaves exactly as the manifest says."""

from __future__ import annotations

import hashlib
import json

import msgspec
import pytest

import schemas
from chain_anchor.events import verify_event
from chain_anchor.keys import KeyRing, Signer
from schemas.slow import schema_errors
from schemas.validation import fast_structure_ok
from tests.schemas.examples_data import EXAMPLES, example_bytes, manifest

VALID = manifest()["valid"]
INVALID = manifest()["invalid"]


def test_manifest_lists_every_example_file() -> None:
    on_disk = {p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.glob("*/*.json")}
    listed = {e["file"] for e in VALID + INVALID}
    assert on_disk == listed


def test_one_valid_example_per_event_type() -> None:
    types = {json.loads(example_bytes(v["file"]))["type"] for v in VALID}
    assert types == {e.type for e in schemas.catalogue()}


@pytest.mark.parametrize("case", VALID, ids=[v["file"] for v in VALID])
def test_valid_example_is_accepted_with_its_warnings(case: dict[str, object]) -> None:
    raw = example_bytes(str(case["file"]))
    event = schemas.validate(raw)
    assert [{"path": w.path, "code": w.code} for w in event.warnings] == case["warnings"]


@pytest.mark.parametrize("case", VALID, ids=[v["file"] for v in VALID])
def test_valid_example_round_trips(case: dict[str, object]) -> None:
    raw = example_bytes(str(case["file"]))
    doc = json.loads(raw)
    event = schemas.validate(raw)
    assert event.envelope == doc
    assert json.loads(msgspec.json.encode(event.data)) == doc["data"]
    for name in ("id", "source", "type", "subject", "dataschema", "sigkeyid", "signature"):
        assert getattr(event, name) == doc[name]
    assert event.time.isoformat().replace("+00:00", "Z") == doc["time"]
    again = schemas.validate(msgspec.json.encode(event.envelope))
    assert again.data == event.data and again.warnings == event.warnings


@pytest.mark.parametrize("case", INVALID, ids=[c["file"] for c in INVALID])
def test_invalid_example_is_rejected_with_documented_path_and_rule(case: dict[str, object]) -> None:
    with pytest.raises(schemas.SchemaError) as info:
        schemas.validate(example_bytes(str(case["file"])))
    assert [{"path": e.path, "rule": e.rule} for e in info.value.errors] == case["errors"]
    text = str(info.value)
    for expected in case["errors"]:  # type: ignore[attr-defined, unused-ignore]
        assert f"[{expected['rule']}]" in text


@pytest.mark.parametrize("case", VALID + INVALID, ids=[c["file"] for c in VALID + INVALID])
def test_fast_and_slow_paths_agree_on_every_example(case: dict[str, object]) -> None:
    try:
        doc = json.loads(example_bytes(str(case["file"])))
    except json.JSONDecodeError:
        return
    if not isinstance(doc, dict) or doc.get("type") not in {e.type for e in schemas.catalogue()}:
        return
    entry = schemas.event_type(doc["type"])
    assert fast_structure_ok(doc) == (schema_errors(entry, doc) == [])


def test_every_error_rule_and_warning_has_an_example() -> None:
    rules = {e["rule"] for c in INVALID for e in c["errors"]}
    warnings = {w["code"] for v in VALID for w in v["warnings"]}
    assert {r.code for r in schemas.RULES if r.kind == "error"} <= rules
    assert {r.code for r in schemas.RULES if r.kind == "warning"} <= warnings


def test_valid_examples_are_signed_by_the_seed_0_demo_keys() -> None:
    participants = [p.id for p in schemas.refdata().participants]
    keys = [Signer.from_seed(hashlib.sha256(f"coalchain-sim/0/{p}".encode()).digest()) for p in participants]
    ring = KeyRing([k.public_key_raw for k in keys])
    by_id = {k.key_id: p for k, p in zip(keys, participants, strict=True)}
    for case in VALID:
        event = schemas.validate(example_bytes(case["file"]))
        verify_event(event.envelope, ring)
        assert by_id[event.sigkeyid] == event.participant_id, case["file"]

