"""The receipts pipeline of this test package: real broker, real PostgreSQL, the real Validator (with its
ledger rules), the Sequencer and the API, all in-process, shared by the package's modules (each test uses
its own shipments)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from chain_anchor.events import leaf_bytes
from services import devstack
from services.config import Settings
from services.kafka.topics import Topics, ensure_topics
from services.keyfiles import sequencer_signer
from services.registry import from_genesis
from services.sequencer.service import Sequencer
from services.store.migrate import create_database, drop_database
from services.trust import trust_json
from services.validator.worker import Validator
from tests.pipeline.helpers import api_server, produce_raw, read_topic, running
from tests.receipts.helpers import AUDITOR, Consortium

GATEWAY_REGISTRY_RULES = {"forbidden_role", "not_owner", "unknown_participant", "unknown_key", "revoked_key",
                          "bad_signature"}


@dataclass
class Pipeline:
    settings: Settings
    consortium: Consortium
    api: httpx.AsyncClient
    url: str
    validator: Validator

    async def headers(self, participant: str) -> dict[str, str]:
        """``Authorization`` for a session of ``participant``, signed in with its key (challenge, signature)."""
        signer = self.consortium.signer(participant)
        challenge = (await self.api.post("/v1/auth/challenge", json={"participant": participant})).json()
        signature = base64.b64encode(signer.sign(challenge["message"].encode("utf-8"))).decode()
        r = await self.api.post("/v1/auth/session", json={"participant": participant, "key_id": signer.key_id,
                                                           "challenge": challenge["challenge"], "signature": signature})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    async def auditor(self) -> dict[str, str]:
        return await self.headers(AUDITOR)

    def trust(self) -> dict[str, Any]:
        return trust_json(self.settings.ledger_id, [sequencer_signer(self.settings).public_key_raw],
                          self.consortium.genesis())

    async def publish(self, events: list[dict[str, Any]]) -> None:
        r = await self.api.post("/v1/events", json=events)
        if r.status_code == 202:
            return
        # The gateway refuses what it can check without the ledger (role, ownership, key, signature). A Kafka
        # publisher is not stopped there: send the same events to the raw topic so the validators' verdict is
        # checked as well.
        assert r.status_code == 422, r.text
        assert {e["rule"] for e in r.json()["errors"]} <= GATEWAY_REGISTRY_RULES, r.text
        raw = Topics.from_settings(self.settings).raw
        for e in events:
            await produce_raw(self.settings, raw, leaf_bytes(e), key=str(e["subject"]).encode())

    async def sealed(self, event_ids: list[str], timeout_s: float = 20) -> None:
        """Wait until every event id is in the ledger."""
        conn = await asyncpg.connect(self.settings.database_url)
        try:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                n = await conn.fetchval("SELECT count(*) FROM ledger_events WHERE event_id = ANY($1::uuid[])",
                                        event_ids)
                if n == len(event_ids):
                    return
                await asyncio.sleep(0.05)
        finally:
            await conn.close()
        raise AssertionError(f"timed out waiting for {event_ids} to be sealed")

    async def rejection(self, event_id: str, timeout_s: float = 20) -> tuple[str, dict[str, Any]]:
        """(reason, detail) of the rejected event ``event_id``, waiting for it."""
        return (await self.rejections([event_id], timeout_s))[event_id]

    async def rejections(self, event_ids: list[str], timeout_s: float = 20) -> dict[str, tuple[str, dict[str, Any]]]:
        """event id -> (reason, detail) for each of ``event_ids``, waiting until all are rejected."""
        topic = Topics.from_settings(self.settings).rejected
        deadline = time.monotonic() + timeout_s
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        while time.monotonic() < deadline:
            for record in await read_topic(self.settings, topic, partitions=3, timeout_s=1):
                headers = dict(record.headers)
                found[json.loads(record.value).get("id")] = (headers["reason"].decode(), json.loads(headers["detail"]))
            if set(event_ids) <= set(found):
                return {i: found[i] for i in event_ids}
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for the rejection of {sorted(set(event_ids) - set(found))}")


@pytest.fixture(scope="package")
async def receipts_settings(pg_admin_url: str, broker: devstack.Broker,
                            tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Settings]:
    """One database and one topic prefix for the whole package: its modules share one pipeline, because a
    second Validator joining the same consumer group would wait out the first one's session."""
    name = f"cc_receipts_{uuid.uuid4().hex[:8]}"
    url = await create_database(pg_admin_url, name)
    s = Settings(DATABASE_URL=url, kafka_bootstrap_servers=broker.bootstrap_servers,
                 kafka_topic_prefix=f"t{uuid.uuid4().hex[:8]}.", home=Path(tmp_path_factory.mktemp("home")),
                 batch_timeout_ms=50, event_time_max_past_s=20 * 365 * 86_400)  # 2025 simulated days
    (s.home / "genesis.json").write_text(json.dumps(Consortium().genesis()), encoding="utf-8")  # the API's sign-in
    await ensure_topics(s)
    try:
        yield s
    finally:
        await drop_database(pg_admin_url, name)


@pytest.fixture(scope="package")
async def pipeline(receipts_settings: Settings) -> AsyncIterator[Pipeline]:
    settings = receipts_settings
    consortium = Consortium()
    validator = Validator(settings, from_genesis(consortium.genesis()))
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(running(validator.run))
        await stack.enter_async_context(running(Sequencer(settings).run))
        url = await stack.enter_async_context(api_server(settings))
        api = await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=20))
        yield Pipeline(settings, consortium, api, url, validator)
