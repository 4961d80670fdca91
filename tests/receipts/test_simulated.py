"""End to end on simulated traffic: the simulator's stream up to its first receipt goes through the real
validators and sequencer; the buyer finds the delivery pending, signs its confirmation with `coalchain
receipt sign` on its own key file, the confirmation is sealed, `coalchain receipt fetch` gets the bundle and
`coalchain receipt verify` checks it offline. Then the rest of the stream: every simulated confirmation and
dispute passes the ledger rules, except the simulator's own answer for the shipment already confirmed."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from services import cli
from services.kafka import clients
from services.kafka.topics import Topics
from services.receipts.verify import verify_bundle
from services.simulator import SimConfig, simulate, to_json_bytes, write_keys
from services.trust import trust_from_json
from tests.receipts.conftest import Pipeline
from tests.receipts.helpers import SEED

pytestmark = pytest.mark.integration

STREAM = 2500  # about 1 100 events to the first receipt, ~40 receipts in all
RECEIPTS = ("cn.taijiao.coal.receipt.DeliveryConfirmed.v1", "cn.taijiao.coal.receipt.DeliveryDisputed.v1")


async def _publish_raw(pipeline: Pipeline, events: list[dict[str, Any]]) -> None:
    """As the simulator's Kafka publisher does: raw topic, key = subject."""
    producer = clients.producer(pipeline.settings)
    await producer.start()
    try:
        topic = Topics.from_settings(pipeline.settings).raw
        futures = [await producer.send(topic, to_json_bytes(e), key=e["subject"].encode()) for e in events]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def _cli(*argv: str) -> int:
    return cli.main(list(argv))


async def test_simulated_delivery_confirmed_by_its_buyer_verifies_offline(
    pipeline: Pipeline, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = list(itertools.islice(simulate(SimConfig(seed=SEED)), STREAM))
    first = next(i for i, e in enumerate(stream) if e["type"] in RECEIPTS)
    simulated_answer = stream[first]
    buyer, shipment_id = simulated_answer["data"]["buyer_id"], simulated_answer["data"]["shipment_id"]
    await _publish_raw(pipeline, stream[:first])
    await pipeline.sealed([e["id"] for e in stream[:first]], timeout_s=40)

    pending = (await pipeline.api.get("/v1/receipts/pending", params={"buyer": buyer},
                                    headers=await pipeline.headers(buyer))).json()["pending"]
    item = next(p for p in pending if p["shipment_id"] == shipment_id)
    assert item["transport"] == "rail" and item["unloaded_net_weight_kg"] and item["assay"] is not None
    assert {e["kind"] for e in item["events"]} >= {"order", "loading", "unloading"}

    (key,) = write_keys(tmp_path / "keys", SEED, [p for p in _participants() if p.id == buyer])
    signed = tmp_path / "confirmation.json"
    assert await asyncio.to_thread(
        _cli, "receipt", "sign", "--key", str(key), "--buyer", buyer, "--shipment", shipment_id,
        "--accept-kg", str(item["unloaded_net_weight_kg"]), "--api", pipeline.url, "--send", "-o", str(signed)) == 0
    confirmation = json.loads(signed.read_text(encoding="utf-8"))
    await pipeline.sealed([confirmation["id"]])

    bundle_file, trust_file = tmp_path / "bundle.json", tmp_path / "keys.json"
    trust_file.write_text(json.dumps(pipeline.trust()), encoding="utf-8")
    assert await asyncio.to_thread(_cli, "receipt", "fetch", shipment_id, "--api", pipeline.url, "--buyer", buyer,
                                   "--key", str(key), "-o", str(bundle_file)) == 0
    capsys.readouterr()
    assert _cli("receipt", "verify", str(bundle_file), "--trust", str(trust_file)) == 0
    summary = capsys.readouterr().out
    assert "RECEIPT VERIFIED" in summary and f"CONFIRMED by {buyer}" in summary and shipment_id in summary

    rest = stream[first:]
    await _publish_raw(pipeline, rest)
    await pipeline.sealed([e["id"] for e in rest if e is not simulated_answer], timeout_s=40)
    reason, detail = await pipeline.rejection(simulated_answer["id"])
    assert reason == "rule" and detail["errors"][0]["rule"] == "receipt.once-per-shipment"

    trust = trust_from_json(pipeline.trust())
    answers = [e for e in rest[1:] if e["type"] in RECEIPTS]
    assert answers, "the stream holds more simulated receipts"
    for answer in answers[:3] + [e for e in answers if e["type"].endswith("DeliveryDisputed.v1")][:1]:
        bundle = (await pipeline.api.get(f"/v1/receipts/{answer['subject']}",
                                         headers=await pipeline.auditor())).json()
        verified = verify_bundle(bundle, trust)
        assert verified.shipment.receipt is not None and verified.shipment.receipt.id == answer["id"]


def _participants() -> list[Any]:
    from schemas import refdata

    return list(refdata().participants)
