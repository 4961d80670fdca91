"""A receipt bundle carries the checkpoint the witnesses cosigned and verifies offline under a 2-of-3 policy
(the trust file's ``witness_quorum``); with a quorum the cosignatures do not reach, it is refused.

Runs last in the package (file name): the cosigned checkpoints it stores are all before the receipts of the
other modules, so their bundles are unaffected."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import pytest

from chain_anchor.checkpoint import NoteVerifier, parse_note
from services import cli
from services.keyfiles import sequencer_signer
from services.receipts.client import from_pending, sign_confirmation, submit
from services.receipts.errors import BundleInvalid
from services.receipts.verify import verify_bundle
from services.sequencer.sealing import checkpoint_origin
from services.store.postgres import LedgerStore
from services.trust import trust_from_json
from services.witness.config import WitnessEndpoint, WitnessesConfig
from services.witness.core import Witness
from services.witness.publisher import Publisher
from services.witness.server import create_witness_app, load_or_create_witness_key
from services.witness.state import WitnessState
from tests.receipts.conftest import Pipeline
from tests.receipts.helpers import BUYER, shipment
from tests.witness.test_ledger import serve

pytestmark = pytest.mark.integration


async def test_bundle_verifies_offline_under_two_of_three_witnesses(pipeline: Pipeline, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    c = pipeline.consortium
    s = shipment(c, 7)
    await pipeline.publish(s.before_unloading())
    await pipeline.publish([s.unloading])
    await pipeline.sealed([e["id"] for e in s.all()])
    pending = (await pipeline.api.get("/v1/receipts/pending", params={"buyer": BUYER},
                                      headers=await pipeline.headers(BUYER))).json()
    item = next(p for p in pending["pending"] if p["shipment_id"] == s.shipment_id)
    key_file = tmp_path / "rizhao-steel.pem"
    key_file.write_bytes(c.signer(BUYER).to_pem())
    confirmation = sign_confirmation(key_file, **from_pending(item),
                                     accepted_net_weight_kg=item["unloaded_net_weight_kg"], wagon_count=4)
    assert await asyncio.to_thread(submit, confirmation, pipeline.url) == [confirmation["id"]]
    await pipeline.sealed([confirmation["id"]])

    settings = pipeline.settings
    origin = checkpoint_origin(settings.ledger_id)
    log_key = NoteVerifier(origin, 1, sequencer_signer(settings).public_key_raw)
    witnesses = []
    for role in ("mine", "railway", "buyer"):
        name = f"taijiao-coalchain.cn/witness/{role}"
        _, signer = load_or_create_witness_key(tmp_path / f"{role}.key", name)
        witnesses.append(Witness(name, signer, [log_key], WitnessState(tmp_path / role)))
    import asyncpg

    from services import db

    pool: asyncpg.Pool = await db.create_pool(settings, min_size=1, max_size=2)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(pool.close)
        urls = [(await stack.enter_async_context(serve(create_witness_app(w))))[0] for w in witnesses[:2]]
        urls.append("http://127.0.0.1:9")  # the buyer's witness is down: two of three cosign
        endpoints = [WitnessEndpoint(u, w.verifier.vkey()) for u, w in zip(urls, witnesses, strict=True)]
        publisher = Publisher(LedgerStore(pool), WitnessesConfig(tuple(endpoints), 2))
        await publisher.start()
        try:
            result = await publisher.step()
        finally:
            await publisher.close()
    assert result is not None and result.stored and len(result.cosigners) == 2

    bundle = (await pipeline.api.get(f"/v1/receipts/{s.shipment_id}", headers=await pipeline.auditor())).json()
    assert bundle["tree_size"] == result.tree_size
    assert [line.name for line in parse_note(bundle["checkpoint"]).signatures] == [origin, *result.cosigners]

    doc = {**pipeline.trust(), "witnesses": [e.vkey for e in endpoints], "witness_quorum": 2}
    verified = verify_bundle(bundle, trust_from_json(doc), witness_quorum=2)
    assert verified.witnesses_verified == 2
    with pytest.raises(BundleInvalid) as refused:
        verify_bundle(bundle, trust_from_json({**doc, "witness_quorum": 3}), witness_quorum=3)
    assert refused.value.check == "witness"

    trust_file, bundle_file = tmp_path / "trust.json", tmp_path / "bundle.json"
    bundle_file.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
    trust_file.write_text(json.dumps(doc), encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["receipt", "verify", str(bundle_file), "--trust", str(trust_file)]) == 0
    trust_file.write_text(json.dumps({**doc, "witness_quorum": 3}), encoding="utf-8")
    assert cli.main(["receipt", "verify", str(bundle_file), "--trust", str(trust_file)]) == 1
    assert "quorum not met" in capsys.readouterr().out
