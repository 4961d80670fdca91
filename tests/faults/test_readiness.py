"""Readiness tells the truth about the hops that stop silently, against the real broker and PostgreSQL.

* verdicts wait in the accepted topic and no sequencer runs → ``sealing`` red, "sealing stalled", in
  ``coalchain status`` (``health.readiness``) and ``/healthz`` (503) alike, while ``/livez`` stays 200; a
  sequencer started → the events are sealed and ``sealing`` is green again;
* raw events wait and no validator runs → ``validation`` red, "validation stalled"; a validator started →
  green again;
* a service that keeps dying under ``coalchain up``'s supervisor → ``supervisor`` red, "crash-looping", and
  it is still restarted (back-off, never given up).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx
import pytest

from chain_anchor.keys import Signer
from services import health
from services.config import Settings
from services.health import Check
from services.kafka.topics import Topics
from services.pipeline_health import STATE_FILE, check_supervisor
from services.registry import load_genesis
from services.sequencer.service import Sequencer
from services.up import CRASH_LOOP_EXITS, Supervisor
from services.validator.worker import Validator
from tests.pipeline.conftest import deployment  # noqa: F401  (the fixture)
from tests.pipeline.helpers import api_server, envelope, produce_accepted, running, tree_size, wait_until
from tests.pipeline.test_end_to_end import publish_raw, raw, sim_events

pytestmark = pytest.mark.integration

STALL_S = 1.0  # the tests' limit (default 60 s): how long waiting counts as stalled


@pytest.fixture(scope="module")
def own(deployment: Settings) -> Settings:  # noqa: F811
    return deployment.model_copy(update={"health_sealing_stall_s": STALL_S, "health_validation_stall_s": STALL_S})


async def check(settings: Settings, name: str) -> Check:
    ready = await health.readiness(settings)  # what `coalchain status` prints
    return next(c for c in ready.checks if c.name == name)


async def _red(settings: Settings, name: str) -> bool:
    return not (await check(settings, name)).ok


async def _green(settings: Settings, name: str) -> bool:
    return (await check(settings, name)).ok


async def test_sealing_stalled_while_verdicts_wait_then_green_once_a_sequencer_runs(own: Settings) -> None:
    signer = Signer.from_seed(b"\x05" * 32)
    batch = [envelope(signer, "mine-ready", n) for n in range(3)]
    assert (await check(own, "sealing")).ok  # nothing waits yet
    await produce_accepted(own, Topics.from_settings(own).accepted, batch)  # verdicts, and no sequencer
    await wait_until(lambda: _red(own, "sealing"), timeout_s=30, what="sealing red")
    sealing = await check(own, "sealing")
    assert "sealing stalled" in sealing.detail and "accepted offset 0" in sealing.detail, sealing.detail
    async with api_server(own) as base, httpx.AsyncClient(base_url=base, timeout=15) as client:
        r = await client.get("/healthz")
        assert r.status_code == 503, r.text
        body = r.json()["checks"]["sealing"]
        assert body["ok"] is False and "sealing stalled" in body["detail"] and body["waiting_offset"] == 0
        live = await client.get("/livez")
        assert live.status_code == 200 and live.json() == {"ok": True}

    async with running(Sequencer(own).run):
        async def sealed() -> bool:
            return await tree_size(own.database_url) == len(batch)
        await wait_until(sealed, timeout_s=60, what="the waiting verdicts sealed")
        await wait_until(lambda: _green(own, "sealing"), timeout_s=30, what="sealing green again")
    assert "no verdict waits" in (await check(own, "sealing")).detail


async def test_validation_stalled_while_raw_events_wait_then_green_once_a_validator_runs(own: Settings) -> None:
    events = sim_events(5)
    await publish_raw(own, [raw(e) for e in events])  # and no validator
    await wait_until(lambda: _red(own, "validation"), timeout_s=30, what="validation red")
    validation = await check(own, "validation")
    assert "validation stalled" in validation.detail and "5 raw-topic records" in validation.detail, validation.detail
    ready = await health.readiness(own)
    assert ready.ok is False and ready.figures["validation"]["waiting_records"] == 5

    genesis = own.genesis_file
    assert genesis is not None
    async with running(Validator(own, load_genesis(genesis)).run):
        await wait_until(lambda: _green(own, "validation"), timeout_s=60, what="validation green again")
    validation = await check(own, "validation")
    assert "committed every raw-topic record" in validation.detail, validation.detail


async def test_a_crash_looping_service_turns_readiness_red_and_is_still_restarted(own: Settings,
                                                                                 tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    settings = own.model_copy(update={"home": home})
    assert check_supervisor(settings) is None  # no `coalchain up` here
    env = {k: v for k, v in os.environ.items() if not k.startswith("COALCHAIN_")}
    sup = Supervisor(env, tmp_path, state_path=home / STATE_FILE)
    sup.add("sequencer", ["sequencer", "--no-such-option"])  # exits at once with status 2, every time
    deadline = time.monotonic() + 120
    try:
        while sup.children[0].fast_exits < CRASH_LOOP_EXITS and time.monotonic() < deadline:
            sup.tick()
            await asyncio.sleep(0.2)
        sup.tick()
        child = sup.children[0]
        assert child.state == "crash-looping" and child.last_exit == 2 and child.restart_at is not None
        supervisor = check_supervisor(settings)
        assert supervisor is not None and not supervisor.ok
        assert "sequencer is crash-looping" in supervisor.detail, supervisor.detail
        ready = await health.readiness(settings)
        assert ready.ok is False and "supervisor" in {c.name for c in ready.checks if not c.ok}
        restarts = child.restarts
        while child.restarts == restarts and time.monotonic() < deadline:  # never given up on
            sup.tick()
            await asyncio.sleep(0.2)
        assert child.restarts == restarts + 1
    finally:
        sup.stop_all()
        sup.remove_state()
    assert check_supervisor(settings) is None
