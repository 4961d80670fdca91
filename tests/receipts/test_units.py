"""Pure parts, no services: the shipment model, discrepancy marks, the buyer's signing, bundle structure."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from chain_anchor.errors import KeyFormatError
from chain_anchor.events import verify_event
from chain_anchor.keys import KeyRing
from services.receipts.client import from_pending, load_signer, sign_confirmation, sign_dispute
from services.receipts.discrepancy import Tolerances, discrepancies
from services.receipts.errors import BundleInvalid, ReceiptInputError
from services.receipts.shipment import LedgerEvent, Shipment, kind_of
from services.receipts.verify import BUNDLE_FORMAT, verify_bundle
from services.trust import trust_from_json, trust_json
from tests.receipts.helpers import BUYER, Consortium, ShipmentEvents, confirmation_args, shipment

C = Consortium()


def _model(s: ShipmentEvents, *extra: dict[str, Any]) -> Shipment:
    return Shipment.from_events(s.shipment_id, [LedgerEvent(e, i, 0) for i, e in enumerate([*s.all(), *extra])])


def _identity(s: ShipmentEvents) -> dict[str, Any]:
    return {k: v for k, v in confirmation_args(s).items() if k != "accepted_net_weight_kg"}


def test_kinds_follow_the_catalogue_names() -> None:
    assert kind_of("cn.taijiao.coal.transport.WagonsLoaded.v1") == "loading"
    assert kind_of("cn.taijiao.coal.receipt.DeliveryDisputed.v2") == "receipt"
    assert kind_of("cn.taijiao.coal.transport.TrainDeparted.v1") is None
    assert kind_of("org.example.WagonsLoaded.v1") is None and kind_of(None) is None


def test_shipment_model_reads_the_figures() -> None:
    s = shipment(C, 1, loss_kg_per_wagon=100)
    m = _model(s)
    assert m.transport == "rail" and m.delivered and m.receipt is None
    assert m.order_id == s.order_id and m.buyer_id == BUYER and m.lot_id == s.lot_id
    assert m.loaded_net_weight_kg - m.unloaded_net_weight_kg == 400  # type: ignore[operator]
    assay, source = m.assay_on_record
    assert assay == s.assay["data"]["assay"] and source is not None and source.kind == "assay"
    assert not Shipment.from_events(s.shipment_id, [LedgerEvent(e, i, 0) for i, e in
                                                    enumerate(s.before_unloading())]).delivered


def test_the_order_names_the_buyer_before_the_consignee() -> None:
    s = shipment(C, 2)
    s.loading["data"]["buyer_id"] = "jiaozuo-power"  # a railway paperwork slip: the order decides
    assert _model(s).buyer_id == BUYER


def test_weight_marks_beyond_tolerance_only() -> None:
    within, beyond = _model(shipment(C, 3, loss_kg_per_wagon=700)), _model(shipment(C, 4, loss_kg_per_wagon=900))
    assert discrepancies(within) == []  # 2 800 kg of 316 630 = 0.88 %
    marks = discrepancies(beyond)  # 3 600 kg = 1.14 %
    assert marks == [{"kind": "weight", "what": "unloaded_vs_loaded", "reference_kg": 316630, "actual_kg": 313030,
                      "difference_kg": -3600, "difference_pct": "-1.14", "tolerance_pct": "1.00"}]
    assert discrepancies(beyond, Tolerances(weight_bp=150)) == []


def test_wagon_and_quality_marks() -> None:
    s = shipment(C, 5, loss_kg_per_wagon=0)
    s.unloading["data"]["wagons"] = s.unloading["data"]["wagons"][:3]
    s.unloading["data"]["total_net_weight_kg"] = sum(w["net_weight_kg"] for w in s.unloading["data"]["wagons"])
    receipt = sign_confirmation(C.signer(BUYER), **confirmation_args(s), assay={
        **s.assay["data"]["assay"], "assay_no": "QC-1", "st_d_pct": "0.70", "qnet_ar_kcal_per_kg": 6300})
    marks = discrepancies(_model(s, receipt))
    assert [(m["kind"], m["what"]) for m in marks] == [
        ("weight", "unloaded_vs_loaded"), ("wagons", "unloaded_vs_loaded"),
        ("quality", "qnet_ar_kcal_per_kg"), ("quality", "st_d_pct")]
    assert marks[1]["missing_at_unloading"] == [s.loading["data"]["wagons"][3]["wagon_no"]]
    assert marks[2]["difference"] == "-220" and marks[3]["difference"] == "0.32" and marks[3]["tolerance"] == "0.20"


def test_tolerances_round_trip_and_refuse_garbage() -> None:
    t = Tolerances(weight_bp=35, assay={"ad_pct": 150, "qnet_ar_kcal_per_kg": 100})
    assert t.to_json() == {"weight_pct": "0.35", "assay": {"ad_pct": "1.50", "qnet_ar_kcal_per_kg": 100}}
    assert Tolerances.from_json(t.to_json()) == t
    bad: dict[str, Any]
    for bad in ({"weight_pct": 1, "assay": {}}, {"weight_pct": "1.0", "assay": {}}, {"assay": {}},
                {"weight_pct": "1.00", "assay": {"hgi": "1"}}):
        with pytest.raises(ValueError):
            Tolerances.from_json(bad)


def test_the_buyer_signs_with_its_own_key_file(tmp_path: Path) -> None:
    pem, hexed = tmp_path / "buyer.pem", tmp_path / "buyer.hex"
    pem.write_bytes(C.signer(BUYER).to_pem())
    hexed.write_text(C.signer(BUYER).to_hex() + "\n")
    assert load_signer(pem).key_id == load_signer(hexed).key_id == C.signer(BUYER).key_id
    s = shipment(C, 6)
    event = sign_confirmation(pem, **confirmation_args(s), wagon_count=4, time="2025-03-08T10:00:00Z")
    assert event["source"] == f"/participants/{BUYER}" and event["subject"] == s.shipment_id
    assert event["type"] == "cn.taijiao.coal.receipt.DeliveryConfirmed.v1" and event["time"] == "2025-03-08T10:00:00Z"
    assert "note" not in event["data"] and event["data"]["wagon_count"] == 4
    verify_event(event, KeyRing([C.signer(BUYER).public_key_raw]))
    dispute = sign_dispute(hexed, **_identity(s), reason_code="quality_below_contract", measured_net_weight_kg=300_000,
                           accepted_net_weight_kg=290_000)
    assert dispute["type"].endswith("DeliveryDisputed.v1")
    assert dispute["data"]["reason_code"] == "quality_below_contract"
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key")
    with pytest.raises(KeyFormatError):
        load_signer(garbage)


def test_signing_refuses_what_the_schema_refuses() -> None:
    s = shipment(C, 7)
    with pytest.raises(ReceiptInputError) as caught:
        sign_confirmation(C.signer(BUYER), **{**confirmation_args(s), "accepted_net_weight_kg": 0, "station": "ZZZ"})
    assert {e["path"] for e in caught.value.errors} >= {"/data/accepted_net_weight_kg", "/data/station"}
    with pytest.raises(ReceiptInputError):
        sign_dispute(C.signer(BUYER), **_identity(s), reason_code="not-a-reason", measured_net_weight_kg=1,
                     accepted_net_weight_kg=1)
    with pytest.raises(ReceiptInputError):
        from_pending({"shipment_id": "S", "buyer_id": BUYER, "order_id": "O"})


def test_malformed_bundles_are_format_errors() -> None:
    trust = trust_from_json(trust_json("taijiao", [C.signer("consortium-admin").public_key_raw], C.genesis()))
    good: dict[str, Any] = {"format": BUNDLE_FORMAT, "ledger_id": "taijiao", "shipment_id": "S", "tree_size": 1,
                            "checkpoint": "", "blocks": [], "events": [], "key_ids": {}, "tolerances": {},
                            "discrepancies": []}
    cases: list[tuple[object, str]] = [
        ([], "JSON object"), ({**good, "format": "v0"}, "'format' must be"), ({**good, "extra": 1}, "unknown"),
        ({**good, "tree_size": "1"}, "tree_size"), ({**good, "blocks": []}, "blocks"),
    ]
    for bundle, words in cases:
        with pytest.raises(BundleInvalid) as caught:
            verify_bundle(copy.deepcopy(bundle), trust)
        assert caught.value.check == "format" and words in str(caught.value), (bundle, str(caught.value))


async def test_the_validators_memory_of_loadings_and_deliveries_reads_the_typed_payload() -> None:
    """What a validator remembers of accepted, maybe unsealed, events (for receipts right behind them) comes
    from the typed payload: loading -> order and consignee, unloading or outbound ticket -> delivered; an
    inbound ticket and other events leave no trace. No database: a batch without receipts touches none."""
    import schemas
    from services.validator.checks import Accept
    from services.validator.rules import LedgerRules, _Seen
    from tests.receipts.helpers import truck_shipment

    rail, truck = shipment(C, 301), truck_shipment(C, 302)
    inbound = copy.deepcopy(truck.tickets[0])
    inbound["data"].update(direction="inbound", shipment_id="SHP-INBOUND")
    events = [*rail.all(), *truck.all(), inbound]
    rules = LedgerRules()
    decisions = [Accept(schemas.validate(e), b"") for e in events]
    assert await rules.apply(None, decisions) == decisions  # type: ignore[arg-type]
    assert dict(rules._seen) == {
        rail.shipment_id: _Seen(order_id=rail.order_id, consignee=BUYER, delivered=True),
        truck.shipment_id: _Seen(order_id=truck.order_id, delivered=True),
    }
