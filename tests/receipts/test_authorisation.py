"""Who may confirm or dispute a delivery, and how often: enforced by the real Validator (its ledger rules)."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from services.receipts.client import sign_confirmation, sign_dispute
from services.receipts.verify import verify_bundle
from services.trust import trust_from_json
from tests.receipts.conftest import Pipeline
from tests.receipts.helpers import (
    BUYER,
    MINE,
    OTHER_BUYER,
    RAILWAY_DESTINATION,
    RAILWAY_ORIGIN,
    confirmation_args,
    forged,
    shipment,
    truck_shipment,
)

pytestmark = pytest.mark.integration


def _rule(detail: dict[str, Any]) -> str:
    return str(detail["errors"][0]["rule"])


async def _sealed_receipts(pipeline: Pipeline, shipment_id: str) -> list[str]:
    conn = await asyncpg.connect(pipeline.settings.database_url)
    try:
        rows = await conn.fetch("SELECT event_id::text FROM ledger_events WHERE subject = $1 AND type LIKE"
                                " 'cn.taijiao.coal.receipt.%'", shipment_id)
        return [r["event_id"] for r in rows]
    finally:
        await conn.close()


async def test_only_the_buyer_of_the_order_confirms_and_only_once(pipeline: Pipeline) -> None:
    c = pipeline.consortium
    s = shipment(c, 11)
    await pipeline.publish(s.all())
    await pipeline.sealed([e["id"] for e in s.all()])

    attempts = {who: forged(c, who, s, 11) for who in (OTHER_BUYER, MINE, RAILWAY_ORIGIN, RAILWAY_DESTINATION)}
    await pipeline.publish(list(attempts.values()))
    rejected = await pipeline.rejections([e["id"] for e in attempts.values()])
    reason, detail = rejected[attempts[OTHER_BUYER]["id"]]
    assert reason == "rule" and _rule(detail) == "receipt.buyer-of-order"
    assert f"only {BUYER}, the buyer of order {s.order_id}" in detail["detail"] and OTHER_BUYER in detail["detail"]
    for who in (MINE, RAILWAY_ORIGIN, RAILWAY_DESTINATION):
        reason, detail = rejected[attempts[who]["id"]]
        assert reason == "forbidden_role", (who, detail)
        assert "DeliveryConfirmed needs one of ['buyer']" in detail["detail"]

    first = sign_confirmation(c.signer(BUYER), **confirmation_args(s))
    await pipeline.publish([first])
    await pipeline.sealed([first["id"]])
    second = sign_confirmation(c.signer(BUYER), **confirmation_args(s), note="second thoughts")
    dispute = sign_dispute(c.signer(BUYER), **{k: v for k, v in confirmation_args(s).items()
                                               if k != "accepted_net_weight_kg"},
                           reason_code="other", measured_net_weight_kg=1, accepted_net_weight_kg=1)
    await pipeline.publish([second, dispute])
    rejected = await pipeline.rejections([second["id"], dispute["id"]])
    for late in (second, dispute):
        reason, detail = rejected[late["id"]]
        assert reason == "rule" and _rule(detail) == "receipt.once-per-shipment"
        assert first["id"] in detail["detail"]
    assert await _sealed_receipts(pipeline, s.shipment_id) == [first["id"]]


async def test_a_sealed_event_sent_again_is_a_replay_receipt_or_not(pipeline: Pipeline) -> None:
    """The same signed bytes again, from a new raw position, once sealed: ``replay``, never sealed twice. For
    receipt the validator says so itself, from the ledger (not a broken once-per-shipment rule); for other
    events the sequencer's dedupe by event id does (the validator does not query the ledger for them)."""
    c = pipeline.consortium
    s = shipment(c, 19)
    first = sign_confirmation(c.signer(BUYER), **confirmation_args(s))
    await pipeline.publish([*s.all(), first])
    await pipeline.sealed([e["id"] for e in (*s.all(), first)])
    loaded = s.all()[0]
    pipeline.validator.seen.clear()  # as after a restart: only the ledger knows these ids now
    await pipeline.publish([first, loaded])
    rejected = await pipeline.rejections([first["id"], loaded["id"]])
    for again in (first, loaded):
        reason, detail = rejected[again["id"]]
        assert reason == "replay", (again["type"], detail)
    assert await _sealed_receipts(pipeline, s.shipment_id) == [first["id"]]


async def test_two_confirmations_validated_together_seal_one(pipeline: Pipeline) -> None:
    c = pipeline.consortium
    s = shipment(c, 12)
    await pipeline.publish(s.all())
    await pipeline.sealed([e["id"] for e in s.all()])
    twins = [sign_confirmation(c.signer(BUYER), **confirmation_args(s), note=f"copy {i}") for i in (1, 2)]
    await pipeline.publish(twins)  # same key → same partition → one validator, one batch
    reason, detail = await pipeline.rejection(twins[1]["id"])
    assert reason == "rule" and _rule(detail) == "receipt.once-per-shipment"
    await pipeline.sealed([twins[0]["id"]])
    assert await _sealed_receipts(pipeline, s.shipment_id) == [twins[0]["id"]]


async def test_a_receipt_needs_a_known_delivered_shipment_of_its_order(pipeline: Pipeline) -> None:
    c = pipeline.consortium
    s = shipment(c, 13)
    await pipeline.publish(s.before_unloading())
    await pipeline.sealed([e["id"] for e in s.before_unloading()])
    early = sign_confirmation(c.signer(BUYER), **confirmation_args(s))
    unknown = sign_confirmation(c.signer(BUYER), **{**confirmation_args(s), "shipment_id": "SHP-NEVER-LOADED"})
    wrong_order = sign_confirmation(c.signer(BUYER), **{**confirmation_args(s), "order_id": "ORD-OTHER"})
    await pipeline.publish([early, unknown, wrong_order])
    rejected = await pipeline.rejections([early["id"], unknown["id"], wrong_order["id"]])
    for event, rule in ((early, "receipt.after-delivery"), (unknown, "receipt.known-shipment"),
                        (wrong_order, "receipt.same-order")):
        reason, detail = rejected[event["id"]]
        assert (reason, _rule(detail)) == ("rule", rule), detail


async def test_a_confirmation_right_behind_its_unloading_is_accepted(pipeline: Pipeline) -> None:
    """The unloading is not sealed yet when the confirmation is validated: the validator remembers it."""
    c = pipeline.consortium
    s = shipment(c, 14)
    await pipeline.publish(s.before_unloading())
    await pipeline.sealed([e["id"] for e in s.before_unloading()])
    confirmation = sign_confirmation(c.signer(BUYER), **confirmation_args(s))
    await pipeline.publish([s.unloading, confirmation])
    await pipeline.sealed([s.unloading["id"], confirmation["id"]])


async def test_a_truck_delivery_is_pending_then_confirmed_and_verifies(pipeline: Pipeline) -> None:
    c = pipeline.consortium
    s = truck_shipment(c, 15)
    await pipeline.publish(s.all())
    await pipeline.sealed([e["id"] for e in s.all()])
    pending = (await pipeline.api.get("/v1/receipts/pending", params={"buyer": BUYER},
                                    headers=await pipeline.headers(BUYER))).json()["pending"]
    item = next(p for p in pending if p["shipment_id"] == s.shipment_id)
    delivered = sum(t["data"]["net_weight_kg"] for t in s.tickets)
    assert item["transport"] == "truck" and item["unloaded_net_weight_kg"] == delivered
    assert sorted(item["weigh_tickets"]) == [t["data"]["ticket_no"] for t in s.tickets]
    station = s.tickets[0]["data"]["station"]
    confirmation = sign_confirmation(c.signer(BUYER), buyer_id=BUYER, shipment_id=s.shipment_id,
                                     order_id=s.order_id, station=station, accepted_net_weight_kg=delivered)
    await pipeline.publish([confirmation])
    await pipeline.sealed([confirmation["id"]])
    bundle = (await pipeline.api.get(f"/v1/receipts/{s.shipment_id}", headers=await pipeline.auditor())).json()
    verified = verify_bundle(bundle, trust_from_json(pipeline.trust()))
    assert verified.shipment.transport == "truck" and len(verified.shipment.trucks) == len(s.tickets)
    assert [e["kind"] for e in bundle["events"]].count("truck") == len(s.tickets)


async def test_receipt_queries_can_use_their_indexes(pipeline: Pipeline) -> None:
    """The reference queries of services.receipts.store look up ledger_receipt_refs by its key (migration 0022)
    and fetch the events they point to by leaf index, not by scanning ledger_events."""
    from services.receipts import store

    conn = await asyncpg.connect(pipeline.settings.database_url)
    try:
        await conn.execute("SET enable_seqscan = off")
        plans = {
            "orders": await conn.fetch("EXPLAIN " + store._ORDERS_OF, BUYER),
            "rail": await conn.fetch("EXPLAIN " + store._PENDING_RAIL, ["O"]),
            "tickets": await conn.fetch("EXPLAIN " + store._TICKETS, "S", 10),
            "tickets of": await conn.fetch("EXPLAIN " + store._TICKETS_OF, ["S"]),
            "truck": await conn.fetch("EXPLAIN " + store._PENDING_TRUCK, ["O"]),
            "answered": await conn.fetch("EXPLAIN " + store._ANSWERED, BUYER, 10),
        }
    finally:
        await conn.close()
    for query, rows in plans.items():
        plan = "\n".join(r[0] for r in rows)
        assert "ledger_receipt_refs_pkey" in plan and "ledger_events_pkey" in plan, (query, plan)
        assert "Seq Scan" not in plan, (query, plan)
