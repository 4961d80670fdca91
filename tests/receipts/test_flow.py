"""End to end: shipment → sealed unloading → pending receipt → the buyer signs on its side → sealed → bundle
→ offline verification. Then every tampering with the bundle is rejected with its own check and message."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chain_anchor.checkpoint import SIG_TYPE_COSIGNATURE_V1, NoteVerifier, cosign, parse_note
from chain_anchor.events import sign_event
from chain_anchor.keys import Signer
from services import cli
from services.receipts.client import from_pending, sign_confirmation, sign_dispute, submit
from services.receipts.errors import BundleInvalid
from services.receipts.verify import verify_bundle
from services.trust import trust_from_json
from tests.receipts.conftest import Pipeline
from tests.receipts.helpers import BUYER, ShipmentEvents, shipment

pytestmark = pytest.mark.integration


@dataclass
class Delivered:
    confirmed: ShipmentEvents
    disputed: ShipmentEvents
    pending_before: dict[str, Any]
    pending_after: dict[str, Any]
    bundle: dict[str, Any]
    dispute_bundle: dict[str, Any]
    trust: dict[str, Any]


@pytest.fixture(scope="module")
async def delivered(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Delivered:
    c = pipeline.consortium
    ok, short = shipment(c, 1), shipment(c, 2, loss_kg_per_wagon=3_000)  # 2: 3.8 % short, beyond 1 %
    await pipeline.publish(ok.before_unloading() + short.before_unloading())
    await pipeline.publish([ok.unloading, short.unloading])
    await pipeline.sealed([e["id"] for e in ok.all() + short.all()])

    before = (await pipeline.api.get("/v1/receipts/pending", params={"buyer": BUYER},
                                    headers=await pipeline.headers(BUYER))).json()
    item = next(p for p in before["pending"] if p["shipment_id"] == ok.shipment_id)

    key_file = tmp_path_factory.mktemp("buyer") / "rizhao-steel.key"  # the buyer's own key, on its side
    key_file.write_bytes(c.signer(BUYER).to_pem())
    confirmation = sign_confirmation(key_file, **from_pending(item),
                                     accepted_net_weight_kg=item["unloaded_net_weight_kg"], wagon_count=4)
    unloaded = short.unloading["data"]["total_net_weight_kg"]
    dispute = sign_dispute(key_file, **from_pending({**item, "shipment_id": short.shipment_id,
                                                     "order_id": short.order_id}),
                           reason_code="weight_shortfall", measured_net_weight_kg=unloaded,
                           accepted_net_weight_kg=unloaded)
    # the buyer's client is synchronous: run it off the event loop that serves the API
    assert await asyncio.to_thread(submit, confirmation, pipeline.url) == [confirmation["id"]]
    assert await asyncio.to_thread(submit, dispute, pipeline.url) == [dispute["id"]]
    await pipeline.sealed([confirmation["id"], dispute["id"]])

    after = (await pipeline.api.get("/v1/receipts/pending", params={"buyer": BUYER},
                                    headers=await pipeline.headers(BUYER))).json()
    bundle = (await pipeline.api.get(f"/v1/receipts/{ok.shipment_id}", headers=await pipeline.auditor())).json()
    dispute_bundle = (await pipeline.api.get(f"/v1/receipts/{short.shipment_id}",
                                             headers=await pipeline.auditor())).json()
    return Delivered(ok, short, before, after, bundle, dispute_bundle, pipeline.trust())


async def test_pending_receipt_lists_what_the_buyer_needs(delivered: Delivered) -> None:
    ok, short = delivered.confirmed, delivered.disputed
    items = {p["shipment_id"]: p for p in delivered.pending_before["pending"]}
    assert {ok.shipment_id, short.shipment_id} <= set(items)
    item = items[ok.shipment_id]
    loading = ok.loading["data"]
    assert item["order_id"] == ok.order_id and item["buyer_id"] == BUYER and item["transport"] == "rail"
    assert item["waybills"] == [w["waybill_no"] for w in loading["wagons"]]
    assert item["loaded_net_weight_kg"] == loading["total_net_weight_kg"]
    assert item["unloaded_net_weight_kg"] == ok.unloading["data"]["total_net_weight_kg"]
    assert item["assay"] == ok.assay["data"]["assay"] and item["assay_source"]["kind"] == "assay"
    refs = {e["kind"]: e for e in item["events"]}
    assert set(refs) == {"order", "assay", "loading", "unloading"}
    assert refs["unloading"]["event_id"] == ok.unloading["id"]
    assert all(isinstance(r["leaf_index"], int) and isinstance(r["height"], int) for r in refs.values())
    assert item["discrepancies"] == []
    marks = items[short.shipment_id]["discrepancies"]
    assert [m["what"] for m in marks] == ["unloaded_vs_loaded"] and marks[0]["difference_pct"] == "-3.79"
    still = {p["shipment_id"] for p in delivered.pending_after["pending"]}
    assert not still & {ok.shipment_id, short.shipment_id}, "once confirmed or disputed, nothing is pending"


async def test_bundle_verifies_offline_and_marks_discrepancies(pipeline: Pipeline, delivered: Delivered) -> None:
    trust = trust_from_json(delivered.trust)
    v = verify_bundle(delivered.bundle, trust)
    assert v.decision == "confirmed" and v.shipment.shipment_id == delivered.confirmed.shipment_id
    assert sorted(e.kind or "" for e in v.shipment.events()) == ["assay", "loading", "order", "receipt", "unloading"]
    assert v.tree_size == v.anchor.tree_size and v.discrepancies == []
    assert v.key_ids["participants"][BUYER] == [pipeline.consortium.signer(BUYER).key_id]
    d = verify_bundle(delivered.dispute_bundle, trust)
    assert d.decision == "disputed"
    assert [m["what"] for m in d.discrepancies] == ["unloaded_vs_loaded"]


async def test_bundle_is_the_same_whenever_it_is_fetched(pipeline: Pipeline, delivered: Delivered) -> None:
    again = (await pipeline.api.get(f"/v1/receipts/{delivered.confirmed.shipment_id}",
                                    headers=await pipeline.auditor())).json()
    assert again == delivered.bundle
    missing = await pipeline.api.get("/v1/receipts/SHP-NOPE", headers=await pipeline.auditor())
    assert missing.status_code == 404 and "no DeliveryConfirmed" in missing.text


async def test_cli_verify_prints_the_summary_or_the_reason(
    delivered: Delivered, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trust_file, bundle_file = tmp_path / "keys.json", tmp_path / "bundle.json"
    trust_file.write_text(json.dumps(delivered.trust), encoding="utf-8")
    bundle_file.write_text(json.dumps(delivered.bundle, ensure_ascii=False), encoding="utf-8")
    assert cli.main(["receipt", "verify", str(bundle_file), "--trust", str(trust_file)]) == 0
    out = capsys.readouterr().out
    s = delivered.confirmed
    for text in ("RECEIPT VERIFIED", s.shipment_id, f"CONFIRMED by {BUYER}", "railway-zhengzhou", "luan-coal-sales",
                 f"{s.unloading['data']['total_net_weight_kg']:,} kg", "WB-T1-000", "none beyond tolerance"):
        assert text in out, text
    tampered = copy.deepcopy(delivered.bundle)
    _event(tampered, "unloading")["data"]["total_net_weight_kg"] += 1000
    bundle_file.write_text(json.dumps(tampered), encoding="utf-8")
    assert cli.main(["receipt", "verify", str(bundle_file), "--trust", str(trust_file)]) == 1
    assert "RECEIPT INVALID [signature]" in capsys.readouterr().out


# --- tampering ------------------------------------------------------------------------------------------


def _entry(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(e for e in bundle["events"] if e["kind"] == kind)


def _event(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    event: dict[str, Any] = _entry(bundle, kind)["event"]
    return event


def _flip_hex(h: str) -> str:
    return ("0" if h[0] != "0" else "1") + h[1:]


def _weight(b: dict[str, Any]) -> None:
    _event(b, "loading")["data"]["wagons"][0]["net_weight_kg"] -= 500


def _assay(b: dict[str, Any]) -> None:
    _event(b, "assay")["data"]["assay"]["st_d_pct"] = "0.30"


def _accepted(b: dict[str, Any]) -> None:
    _event(b, "receipt")["data"]["accepted_net_weight_kg"] += 10_000


def _proof(b: dict[str, Any]) -> None:
    proof = _entry(b, "unloading")["inclusion_proof"]
    proof[0] = _flip_hex(proof[0])


def _leaf_index(b: dict[str, Any]) -> None:
    _entry(b, "loading")["leaf_index"] += 1


def _header(b: dict[str, Any]) -> None:
    b["blocks"][0]["header"]["sealed_at"] = "2020-01-01T00:00:00Z"


def _header_root(b: dict[str, Any]) -> None:
    header = b["blocks"][-1]["header"]
    header["log_root"] = _flip_hex(header["log_root"])


def _signature(b: dict[str, Any]) -> None:
    _event(b, "receipt")["signature"] = _event(b, "order")["signature"]  # a real signature, of another event


def _unknown_key(b: dict[str, Any]) -> None:
    entry = _entry(b, "receipt")
    entry["event"] = sign_event(entry["event"], Signer.from_seed(b"\x42" * 32))


def _checkpoint(b: dict[str, Any]) -> None:
    lines = b["checkpoint"].split("\n")
    lines[1] = str(int(lines[1]) + 1)
    b["checkpoint"] = "\n".join(lines)


def _drop_unloading(b: dict[str, Any]) -> None:
    b["events"] = [e for e in b["events"] if e["kind"] != "unloading"]
    b["key_ids"]["participants"].pop("railway-jinan")


def _marks(b: dict[str, Any]) -> None:
    b["discrepancies"] = []


def _key_ids(b: dict[str, Any]) -> None:
    b["key_ids"]["sequencer"] = ["0" * 64]


def _other_ledger(b: dict[str, Any]) -> None:
    b["ledger_id"] = "another-line"


TAMPERING: dict[str, tuple[Callable[[dict[str, Any]], None], str, str]] = {
    "loaded wagon weight": (_weight, "signature", "WagonsLoaded"),
    "lot assay value": (_assay, "signature", "LotAssayed"),
    "accepted weight": (_accepted, "signature", "DeliveryConfirmed"),
    "proof hash": (_proof, "inclusion", "does not lead to the checkpoint root"),
    "leaf index": (_leaf_index, "inclusion", "inclusion proof"),
    "header field": (_header, "header", "header does not verify"),
    "header root": (_header_root, "header", "header does not verify"),
    "event signature": (_signature, "signature", "signature of rizhao-steel does not verify"),
    "key not in the trust file": (_unknown_key, "signer", "not a key of rizhao-steel in the trust file"),
    "checkpoint text": (_checkpoint, "checkpoint", "does not verify"),
    "unloading left out": (_drop_unloading, "consistency", "must hold its WagonsLoaded and its WagonsUnloaded"),
    "discrepancy marks": (_marks, "discrepancies", "signed figures give"),
    "key ids": (_key_ids, "key_ids", "do not match"),
    "ledger id": (_other_ledger, "ledger", "trust file is for"),
}


@pytest.mark.parametrize("name", sorted(TAMPERING))
async def test_tampering_is_rejected_with_its_reason(delivered: Delivered, name: str) -> None:
    tamper, check, words = TAMPERING[name]
    bundle = copy.deepcopy(delivered.dispute_bundle if name == "discrepancy marks" else delivered.bundle)
    tamper(bundle)
    with pytest.raises(BundleInvalid) as caught:
        verify_bundle(bundle, trust_from_json(delivered.trust))
    assert caught.value.check == check, str(caught.value)
    assert words in str(caught.value)


async def test_a_sequencer_key_not_in_the_trust_file_is_rejected(delivered: Delivered) -> None:
    trust = dict(delivered.trust, sequencer_keys=[base64.b64encode(bytes(32)).decode()])
    with pytest.raises(BundleInvalid) as caught:
        verify_bundle(delivered.bundle, trust_from_json(trust))
    assert caught.value.check == "checkpoint" and "no signature by a sequencer key" in str(caught.value)



async def test_a_bundle_can_be_anchored_at_a_later_block(pipeline: Pipeline, delivered: Delivered) -> None:
    latest = (await pipeline.api.get("/v1/blocks/latest")).json()["header"]["tree_size"]
    url = f"/v1/receipts/{delivered.confirmed.shipment_id}"
    later = (await pipeline.api.get(url, headers=await pipeline.auditor(), params={"tree_size": latest})).json()
    assert later["tree_size"] == latest >= delivered.bundle["tree_size"]
    assert verify_bundle(later, trust_from_json(delivered.trust)).anchor.tree_size == latest
    between = (await pipeline.api.get(url, headers=await pipeline.auditor(),
                                      params={"tree_size": latest - 1})).status_code
    assert between == 404 or latest - 1 == delivered.bundle["tree_size"]


async def test_witness_cosignatures_are_checked_when_required(delivered: Delivered) -> None:
    witness = Signer.from_seed(b"\x17" * 32)
    vkey = NoteVerifier.for_signer("witness.example", witness, SIG_TYPE_COSIGNATURE_V1).vkey()
    trust = trust_from_json(dict(delivered.trust, witnesses=[vkey]))
    with pytest.raises(BundleInvalid) as caught:
        verify_bundle(delivered.bundle, trust, witness_quorum=1)
    assert caught.value.check == "witness" and "quorum not met" in str(caught.value)
    cosigned = copy.deepcopy(delivered.bundle)
    note = parse_note(cosigned["checkpoint"])
    cosignature = cosign(note.text, witness, "witness.example", 1_767_000_000)
    cosigned["checkpoint"] = note.with_signatures(cosignature).serialize()
    assert verify_bundle(cosigned, trust, witness_quorum=1).witnesses_verified == 1
