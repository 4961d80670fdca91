"""Done-when of issue 14: a brand-new participant, from ``participant keygen`` through its registration to a
sealed event whose inclusion proof the client library verified itself; bad-signature, wrong-role and
wrong-key events come back as rejected with their reason, over HTTP and over Kafka; a CloudEvents
binary-mode event from a foreign (librdkafka) client is sealed; a record keyed other than by its subject is
rejected (``key_mismatch``); a publisher lists its own rejections, and nobody else's.

The client library is synchronous (urllib): it runs in a thread, the API in this test's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import io
import json
import re
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from coalchain_client import Client, Outbox, Refused, Rejected, Sealed, Trust, drain, load_signer, make_event, sign
from coalchain_client.kafka import publish_kafka, record

from chain_anchor.keys import Signer
from services.cli import main
from services.kafka.topics import Topics
from tests.publish.conftest import Stack

pytestmark = pytest.mark.integration

NEWCOMER = "fenghuang-new-sales"
PASSPHRASE = "correct horse battery"
EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples" / "valid"


def example(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    return doc


ASSAY = example("inventory.StockReported")["data"]["assay"]
WAIT_S = 30.0  # an upper bound against a stuck test, not a speed assertion (speed: bench/)


def stock(participant: str, lot: str | None = None) -> dict[str, Any]:
    lot = lot or f"LOT-FH-{uuid.uuid4().hex[:8].upper()}"
    return make_event(participant=participant, type="inventory.StockReported.v1", subject=lot, data={
        "mine_id": "jc-fenghuangshan", "lot_id": lot, "product": "WY-ZK", "quantity_kg": 12_000_000,
        "station": "JCF", "stockpile_id": "JCF-Y1-02", "assay": dict(ASSAY)})


def demand(participant: str) -> dict[str, Any]:
    order = f"ORD-FH-{uuid.uuid4().hex[:6].upper()}"
    return make_event(participant=participant, type="demand.DemandPosted.v1", subject=order,
                      data={**example("demand.DemandPosted")["data"], "order_id": order, "buyer_id": participant})


def bad_events(signer: Signer) -> dict[str, dict[str, Any]]:
    """reason code -> a signed event that must be rejected with it."""
    tampered = sign(stock(NEWCOMER), signer)
    tampered["data"]["quantity_kg"] += 1  # after signing
    return {
        "bad_signature": tampered,
        "forbidden_role": sign(demand(NEWCOMER), signer),  # a mine posting a buyer's demand
        "unknown_key": sign(stock(NEWCOMER), Signer.generate()),  # a key nobody registered
    }


@pytest.fixture(scope="module")
async def newcomer(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Signer:
    """keygen + register through the CLI, exactly as docs/publishing.md does it."""
    home = tmp_path_factory.mktemp("newcomer")
    key, pw = home / "new-mine.key", home / "passphrase"
    pw.write_text(PASSPHRASE + "\n", encoding="utf-8")
    assert await asyncio.to_thread(main, ["participant", "keygen", "-o", str(key), "--passphrase-file", str(pw)]) == 0
    assert key.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert key.stat().st_mode & 0o077 == 0
    signer = load_signer(key, passphrase=PASSPHRASE.encode())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = await asyncio.to_thread(main, [
            "participant", "register", "--id", NEWCOMER, "--name", "凤凰山新运销（示例）", "--role", "mine",
            "--mine", "jc-fenghuangshan", "--key", str(key), "--passphrase-file", str(pw),
            "--admin-key", str(stack.admin_key_file), "--send", "--api", stack.api_url])
    assert code == 0 and out.getvalue().startswith("sealed: event"), out.getvalue()  # the outcome, not "sent"
    return signer


def client(stack: Stack) -> Client:
    return Client(stack.api_url, trust=Trust.from_file(stack.trust_file))


async def test_a_new_participant_publishes_a_sealed_event_with_a_locally_verified_proof(
        stack: Stack, newcomer: Signer) -> None:
    event = sign(stock(NEWCOMER), newcomer)
    outcome = await asyncio.to_thread(client(stack).send, event, timeout_s=WAIT_S)
    assert isinstance(outcome, Sealed), outcome
    assert outcome.event["signature"] == event["signature"] and outcome.leaf_index < outcome.tree_size
    status = await asyncio.to_thread(client(stack).status, event["id"])
    assert status["status"] == "sealed" and status["proof"].endswith(event["id"])


async def _over_http(c: Client, event: dict[str, Any]) -> tuple[str, str]:
    """(reason, detail) of a refused (gateway pre-check, 422) or rejected (validator) event."""
    try:
        await asyncio.to_thread(c.publish, event)
    except Refused as e:
        assert e.status == 422, e
        return " ".join([str(e), *(json.dumps(x) for x in e.errors)]), "gateway"
    outcome = await asyncio.to_thread(c.wait, event["id"], event=event, timeout_s=WAIT_S)
    assert isinstance(outcome, Rejected), outcome
    assert outcome.stage and outcome.rejected_at
    return outcome.reason, outcome.detail


async def test_bad_signature_wrong_role_and_wrong_key_come_back_rejected_over_http(
        stack: Stack, newcomer: Signer) -> None:
    c = client(stack)
    for reason, event in bad_events(newcomer).items():
        got, _ = await _over_http(c, event)
        assert reason in got, (reason, got)


async def test_and_over_kafka_in_both_content_modes(stack: Stack, newcomer: Signer) -> None:
    c = client(stack)
    topic = Topics.from_settings(stack.settings).raw
    for binary in (False, True):
        events = bad_events(newcomer)
        await publish_kafka(list(events.values()), stack.settings.kafka_bootstrap_servers, topic=topic,
                            binary=binary)
        for reason, event in events.items():
            outcome = await asyncio.to_thread(c.wait, event["id"], event=event, timeout_s=WAIT_S)
            assert isinstance(outcome, Rejected) and outcome.reason == reason, (binary, reason, outcome)
            assert outcome.stage == "validator"


async def test_a_binary_mode_event_from_a_foreign_librdkafka_client_is_sealed(stack: Stack, newcomer: Signer) -> None:
    import confluent_kafka

    good = sign(stock(NEWCOMER), newcomer)
    wrong_key = sign(stock(NEWCOMER), newcomer)
    not_json = sign(stock(NEWCOMER), newcomer)
    topic = Topics.from_settings(stack.settings).raw

    def produce() -> None:
        producer = confluent_kafka.Producer({"bootstrap.servers": stack.settings.kafka_bootstrap_servers,
                                             "acks": "all"})
        for event, key, content_type in ((good, None, None), (wrong_key, b"another-key", None),
                                         (not_json, None, "text/plain")):
            k, value, headers = record(event, binary=True)
            if content_type:
                headers = [("content-type", content_type.encode()), *headers[1:]]
                value = b"plain words"
            producer.produce(topic, value, key=key or k, headers=list(headers))
        assert producer.flush(30) == 0

    await asyncio.to_thread(produce)
    c = client(stack)
    sealed = await asyncio.to_thread(c.wait, good["id"], event=good, timeout_s=WAIT_S)
    assert isinstance(sealed, Sealed) and sealed.event == good  # the structured event, byte for byte signed
    mismatch = await asyncio.to_thread(c.wait, wrong_key["id"], event=wrong_key, timeout_s=WAIT_S)
    assert isinstance(mismatch, Rejected) and mismatch.reason == "key_mismatch"
    assert "another-key" in mismatch.detail
    status = await asyncio.to_thread(c.status, not_json["id"])
    assert status["status"] in ("pending", "rejected")  # the data is gone: only the publisher's list has it


async def test_a_publisher_lists_its_own_rejections_and_no_one_else_does(stack: Stack, newcomer: Signer) -> None:
    c = client(stack)
    await asyncio.to_thread(c.sign_in, NEWCOMER, newcomer)

    async def reasons() -> set[str]:
        return {r["reason"] for r in await asyncio.to_thread(c.rejections, NEWCOMER, limit=1000)}

    found = await reasons()
    assert {"bad_signature", "forbidden_role", "unknown_key", "key_mismatch"} <= found, found
    with pytest.raises(Refused) as e:
        await asyncio.to_thread(c.rejections, "luan-coal-sales")
    assert e.value.status == 403
    anonymous = Client(stack.api_url)
    with pytest.raises(Refused) as e:
        await asyncio.to_thread(anonymous.rejections, NEWCOMER)
    assert e.value.status == 401


async def test_the_outcomes_stream_tells_the_publisher_sealed_and_rejected(stack: Stack, newcomer: Signer) -> None:
    import httpx

    c = client(stack)
    token = await asyncio.to_thread(c.sign_in, NEWCOMER, newcomer)
    good, bad = sign(stock(NEWCOMER), newcomer), bad_events(newcomer)["forbidden_role"]
    seen: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=WAIT_S) as http, http.stream(
            "GET", "/v1/outcomes/stream", params={"source": NEWCOMER},
            headers={"authorization": f"Bearer {token}"}) as response:
        assert response.status_code == 200
        await publish_kafka([good, bad], stack.settings.kafka_bootstrap_servers,
                            topic=Topics.from_settings(stack.settings).raw)
        kind = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                seen[json.loads(line[6:])["event_id"]] = kind
            if good["id"] in seen and bad["id"] in seen:
                break
    assert seen[good["id"]] == "sealed" and seen[bad["id"]] == "rejected"


async def test_an_outbox_resubmits_after_a_crash_and_the_ledger_seals_once(
        stack: Stack, newcomer: Signer, tmp_path: Path) -> None:
    c = client(stack)
    event = sign(stock(NEWCOMER), newcomer)
    box = Outbox(tmp_path / "outbox.sqlite")
    assert box.add(event) and not box.add(event)
    await asyncio.to_thread(c.publish, event)  # sent, then the publisher "crashes" before it learns the outcome
    box.close()
    box = Outbox(tmp_path / "outbox.sqlite")  # restarted
    assert [e["id"] for e in box.unsettled()] == [event["id"]]
    outcomes = await asyncio.to_thread(drain, box, c, timeout_s=WAIT_S)
    assert isinstance(outcomes[event["id"]], Sealed)
    assert box.state(event["id"]) == ("sealed", 1) and box.unsettled() == []
    conn = await asyncpg.connect(stack.settings.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM ledger_events WHERE event_id = $1",
                                   uuid.UUID(event["id"])) == 1
    finally:
        await conn.close()


async def test_a_rejection_of_someone_elses_bytes_under_my_id_is_not_my_answer(stack: Stack, newcomer: Signer) -> None:
    c = client(stack)
    mine = sign(stock(NEWCOMER), newcomer)
    forged = copy.deepcopy(mine)
    forged["data"]["quantity_kg"] = 1  # same id, other bytes: rejected (bad_signature)
    topic = Topics.from_settings(stack.settings).raw
    await publish_kafka([forged], stack.settings.kafka_bootstrap_servers, topic=topic)
    forged_outcome = await asyncio.to_thread(c.wait, forged["id"], event=forged, timeout_s=WAIT_S)
    assert isinstance(forged_outcome, Rejected)
    await publish_kafka([mine], stack.settings.kafka_bootstrap_servers, topic=topic)
    outcome = await asyncio.to_thread(c.wait, mine["id"], event=mine, timeout_s=WAIT_S)
    assert isinstance(outcome, Sealed)
    assert re.fullmatch(r"[0-9a-f]{64}", outcome.root)


async def test_receipt_sign_send_waits_and_reports_a_rejection(stack: Stack, tmp_path: Path) -> None:
    """`receipt sign --send` must not say "sent" and exit 0 for an event the validators then reject."""
    from services.simulator import participant_signer
    from tests.pipeline.conftest import SEED

    key = tmp_path / "buyer.key"
    key.write_bytes(participant_signer(SEED, "jiaozuo-power").to_pem())
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = await asyncio.to_thread(main, [
            "receipt", "sign", "--key", str(key), "--buyer", "jiaozuo-power", "--shipment", "SHP-NEVER-LOADED",
            "--order", "ORD-NEVER", "--station", "JOF", "--accept-kg", "1000", "--send", "--api", stack.api_url])
    assert code == 1, err.getvalue()
    assert "rejected (validator): rule: receipt.known-shipment" in err.getvalue(), err.getvalue()
