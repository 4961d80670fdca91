"""The participant registry grows through sealed registry events: a participant registered by the
consortium admin can publish once its registration is sealed, not before; trust export includes it."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from chain_anchor.events import sign_event
from chain_anchor.keys import Signer
from services.config import Settings
from services.kafka.topics import Topics
from services.registry import load_genesis
from services.sequencer.service import Sequencer
from services.simulator import participant_signer
from services.validator.worker import Validator
from tests.pipeline.conftest import SEED
from tests.pipeline.helpers import read_topic, running, tree_size, wait_until
from tests.pipeline.test_end_to_end import publish_raw, raw

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples" / "valid"
NEWCOMER = Signer.from_seed(b"\x5a" * 32)


def example(name: str, signer: Signer, **changes: Any) -> dict[str, Any]:
    doc = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    doc = {k: v for k, v in doc.items() if k not in ("signature", "sigkeyid")}
    doc.update(id=str(uuid.uuid4()), **changes)
    return sign_event(doc, signer)


def registration() -> dict[str, Any]:
    doc = json.loads((EXAMPLES / "registry.ParticipantRegistered.json").read_text(encoding="utf-8"))
    data = {**doc["data"], "participant_id": "newcomer-steel", "name": "新来钢厂（示例）", "roles": ["buyer"],
            "mines": [], "public_key": base64.b64encode(NEWCOMER.public_key_raw).decode(),
            "key_id": NEWCOMER.key_id}
    data.pop("name_en", None)
    return example("registry.ParticipantRegistered", participant_signer(SEED, "consortium-admin"),
                   subject="newcomer-steel", data=data)


def newcomer_demand() -> dict[str, Any]:
    doc = json.loads((EXAMPLES / "demand.DemandPosted.json").read_text(encoding="utf-8"))
    order = f"ORD-NEW-{uuid.uuid4().hex[:6].upper()}"
    return example("demand.DemandPosted", NEWCOMER, source="/participants/newcomer-steel", subject=order,
                   data={**doc["data"], "order_id": order, "buyer_id": "newcomer-steel"})


@pytest.fixture(scope="module")
async def pipeline(deployment: Settings) -> AsyncIterator[Settings]:
    validator = Validator(deployment, load_genesis(deployment.genesis_file))  # type: ignore[arg-type]
    async with running(Sequencer(deployment).run), running(validator.run):
        yield deployment


async def test_a_participant_registered_on_the_ledger_can_publish(pipeline: Settings) -> None:
    early = newcomer_demand()
    await publish_raw(pipeline, [raw(early)])

    async def rejected() -> bool:
        return bool(await read_topic(pipeline, Topics.from_settings(pipeline).rejected, partitions=3))

    await wait_until(rejected, what="the unregistered participant's rejection")
    [rejection] = await read_topic(pipeline, Topics.from_settings(pipeline).rejected, partitions=3)
    assert dict(rejection.headers)["reason"] == b"unknown_participant"

    await publish_raw(pipeline, [raw(registration())])

    async def sealed(n: int) -> bool:
        return await tree_size(pipeline.database_url) >= n

    await wait_until(lambda: sealed(1), what="the registration")
    late = newcomer_demand()
    await publish_raw(pipeline, [raw(late)])
    await wait_until(lambda: sealed(2), what="the newcomer's own event")
    conn = await asyncpg.connect(pipeline.database_url)
    try:
        assert await conn.fetchval("SELECT participant FROM ledger_events WHERE event_id = $1",
                                   uuid.UUID(late["id"])) == "newcomer-steel"
    finally:
        await conn.close()

    out = subprocess.run(
        [sys.executable, "-m", "services.cli", "trust", "export"], capture_output=True, check=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": pipeline.database_url, "COALCHAIN_HOME": str(pipeline.home),
             "COALCHAIN_GENESIS_FILE": str(pipeline.genesis_file)},
    )
    trust = json.loads(out.stdout)
    newcomer = next(p for p in trust["participants"] if p["id"] == "newcomer-steel")
    assert newcomer["keys"] == [{"key_id": NEWCOMER.key_id,
                                 "public_key": base64.b64encode(NEWCOMER.public_key_raw).decode()}]
    assert newcomer["roles"] == ["buyer"]
