"""Sign-in by key possession and who may read which receipts: each buyer its own, an auditor all; and the
CLI's messages for the cases a buyer trips over."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

from chain_anchor.keys import Signer
from services import cli
from services.receipts.client import sign_confirmation
from tests.receipts.conftest import Pipeline
from tests.receipts.helpers import BUYER, OTHER_BUYER, confirmation_args, shipment, truck_shipment

pytestmark = pytest.mark.integration


async def _challenge(pipeline: Pipeline, participant: str) -> dict[str, str]:
    r = await pipeline.api.post("/v1/auth/challenge", json={"participant": participant})
    assert r.status_code == 200, r.text
    body: dict[str, str] = r.json()
    return body


async def _answer(pipeline: Pipeline, participant: str, challenge: dict[str, str], signer: Signer) -> tuple[int, str]:
    signature = base64.b64encode(signer.sign(challenge["message"].encode("utf-8"))).decode()
    r = await pipeline.api.post("/v1/auth/session", json={"participant": participant, "key_id": signer.key_id,
                                                          "challenge": challenge["challenge"], "signature": signature})
    return r.status_code, r.text


async def test_sign_in_needs_the_participants_own_key_and_a_fresh_challenge(pipeline: Pipeline) -> None:
    c = pipeline.consortium
    challenge = await _challenge(pipeline, BUYER)
    assert challenge["message"].startswith("taijiao-coalchain/sign-in/v1\n") and BUYER in challenge["message"]
    status, text = await _answer(pipeline, BUYER, challenge, c.signer(OTHER_BUYER))  # another buyer's key
    assert status == 401 and "not a registered, unrevoked key of rizhao-steel" in text
    status, text = await _answer(pipeline, BUYER, challenge, Signer.from_seed(b"\x42" * 32))
    assert status == 401
    assert (await _answer(pipeline, BUYER, challenge, c.signer(BUYER)))[0] == 200
    status, text = await _answer(pipeline, BUYER, challenge, c.signer(BUYER))  # replayed
    assert status == 401 and "already used" in text
    stolen = await _challenge(pipeline, OTHER_BUYER)  # a challenge issued for someone else
    status, text = await _answer(pipeline, BUYER, stolen, c.signer(BUYER))
    assert status == 401 and "for this participant" in text
    r = await pipeline.api.post("/v1/auth/challenge", json={"participant": "nobody-here"})
    assert r.status_code == 404 and "no participant 'nobody-here'" in r.text
    forged = await pipeline.api.get("/v1/auth/whoami", headers={"Authorization": "Bearer v1.e30.AAAA"})
    assert forged.status_code == 401


async def test_a_buyer_sees_its_own_receipts_only(pipeline: Pipeline) -> None:
    c = pipeline.consortium
    mine, theirs = shipment(c, 41), shipment(c, 42, buyer=OTHER_BUYER)
    await pipeline.publish(mine.all() + theirs.all())
    confirmation = sign_confirmation(c.signer(OTHER_BUYER), **confirmation_args(theirs))
    await pipeline.publish([confirmation])
    await pipeline.sealed([e["id"] for e in mine.all() + theirs.all()] + [confirmation["id"]])
    me = await pipeline.headers(BUYER)

    own = await pipeline.api.get("/v1/receipts/pending", params={"buyer": BUYER}, headers=me)
    assert own.status_code == 200
    items = own.json()["pending"]
    assert mine.shipment_id in {p["shipment_id"] for p in items}
    assert {p["buyer_id"] for p in items} == {BUYER}

    other = await pipeline.api.get("/v1/receipts/pending", params={"buyer": OTHER_BUYER}, headers=me)
    assert other.status_code == 403 and "only jiaozuo-power or an auditor" in other.text
    anonymous = await pipeline.api.get("/v1/receipts/pending", params={"buyer": OTHER_BUYER})
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Bearer")
    assert theirs.shipment_id not in anonymous.text
    bundle = await pipeline.api.get(f"/v1/receipts/{theirs.shipment_id}", headers=me)
    assert bundle.status_code == 403 and theirs.shipment_id not in bundle.text
    assert (await pipeline.api.get(f"/v1/receipts/{theirs.shipment_id}")).status_code == 401
    answered = await pipeline.api.get("/v1/receipts/answered", params={"buyer": OTHER_BUYER}, headers=me)
    assert answered.status_code == 403

    their_session = await pipeline.headers(OTHER_BUYER)
    assert (await pipeline.api.get(f"/v1/receipts/{theirs.shipment_id}", headers=their_session)).status_code == 200
    done = (await pipeline.api.get("/v1/receipts/answered", params={"buyer": OTHER_BUYER},
                                   headers=their_session)).json()["answered"]
    assert done[0]["shipment_id"] == theirs.shipment_id and done[0]["decision"] == "confirmed"
    auditor = await pipeline.auditor()
    assert (await pipeline.api.get(f"/v1/receipts/{theirs.shipment_id}", headers=auditor)).status_code == 200
    assert (await pipeline.api.get("/v1/receipts/pending", params={"buyer": OTHER_BUYER},
                                   headers=auditor)).status_code == 200


async def test_unknown_or_non_buyer_participants_are_named(pipeline: Pipeline) -> None:
    r = await pipeline.api.get("/v1/receipts/pending", params={"buyer": "nobody-here"})
    assert r.status_code == 404 and "no participant 'nobody-here' is registered" in r.text
    r = await pipeline.api.get("/v1/receipts/pending", params={"buyer": "luan-coal-sales"})
    assert r.status_code == 422 and "not as a buyer" in r.text


def _cli(*argv: str) -> int:
    return cli.main(list(argv))


async def test_cli_says_what_is_wrong_and_what_to_do(pipeline: Pipeline, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    c = pipeline.consortium
    key = tmp_path / "rizhao-steel.pem"
    key.write_bytes(c.signer(BUYER).to_pem())
    api = ("--api", pipeline.url)

    assert await asyncio.to_thread(_cli, "receipt", "pending", "--buyer", "nobody-here", *api) == 2
    err = capsys.readouterr().err
    assert "no participant 'nobody-here' is registered" in err and "Traceback" not in err

    done = shipment(c, 43)
    confirmation = sign_confirmation(c.signer(BUYER), **confirmation_args(done))
    await pipeline.publish(done.all())
    await pipeline.publish([confirmation])
    await pipeline.sealed([e["id"] for e in done.all()] + [confirmation["id"]])
    assert await asyncio.to_thread(_cli, "receipt", "sign", "--key", str(key), "--buyer", BUYER, "--shipment",
                                   done.shipment_id, "--accept-kg", "1", *api) == 2
    err = capsys.readouterr().err
    assert f"shipment {done.shipment_id} is already confirmed by {BUYER}" in err and "receipt fetch" in err

    truck = truck_shipment(c, 44)
    await pipeline.publish(truck.all())
    await pipeline.sealed([e["id"] for e in truck.all()])
    out = tmp_path / "truck.json"
    assert await asyncio.to_thread(_cli, "receipt", "sign", "--key", str(key), "--buyer", BUYER, "--shipment",
                                   truck.shipment_id, "--station", "JCF", "--accept-kg", "1000", "-o", str(out),
                                   *api) == 0, capsys.readouterr().err
    assert '"order_id": "ORD-T44"' in out.read_text(encoding="utf-8")
    assert await asyncio.to_thread(_cli, "receipt", "sign", "--key", str(key), "--buyer", BUYER, "--shipment",
                                   truck.shipment_id, "--accept-kg", "1000", *api) == 2
    err = capsys.readouterr().err
    assert "names no receiving station" in err and "give --station" in err

    assert await asyncio.to_thread(_cli, "receipt", "pending", "--buyer", BUYER, "--key", str(key), *api) == 0
    assert truck.shipment_id in capsys.readouterr().out
    assert await asyncio.to_thread(_cli, "receipt", "pending", "--buyer", BUYER, *api) == 2
    assert "give --key" in capsys.readouterr().err
