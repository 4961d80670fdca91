"""The views against the real broker and PostgreSQL: events sealed by the real sequencer, folded by the real
faust worker, served by the real API. Hand-computed figures, replay from block 0, redelivery, a rebuild
while running, the live stream (with its measured seal -> SSE latency), tokens and /healthz."""

from __future__ import annotations

import asyncio
import csv
import datetime
import io
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from services import blockmsg, db
from services.blockverify import BlockVerifier
from services.config import Settings
from services.kafka.topics import Topics
from services.sequencer.service import Sequencer
from services.views.export import cell
from services.views.memory import MemoryViews
from services.views.postgres import ViewStore
from services.views.worker import Outcome, ViewsWorker
from tests.pipeline.helpers import api_server, produce_accepted, read_topic, running, wait_until
from tests.views import events as E
from tests.views import scenario
from tests.views.stack import AUTH, ledger_height, open_stream, tables, views_height, views_worker

pytestmark = pytest.mark.integration
log = logging.getLogger(__name__)

N = len(scenario.events())


class Stack:
    def __init__(self, settings: Settings, base: str) -> None:
        self.settings = settings
        self.base = base
        self.topics = Topics.from_settings(settings)
        self.offset = 0

    async def seal(self, envelopes: list[dict[str, Any]]) -> None:
        await produce_accepted(self.settings, self.topics.accepted, envelopes, raw_offset_base=self.offset)
        self.offset += len(envelopes)

    async def caught_up(self, timeout_s: float = 20) -> int:
        url = self.settings.database_url

        async def done() -> bool:
            h = await ledger_height(url)
            return h >= 0 and await views_height(url) == h

        await wait_until(done, timeout_s, "the views to reach the ledger head")
        return await views_height(url)

    async def get(self, path: str, **params: Any) -> Any:
        async with httpx.AsyncClient(base_url=self.base, headers=AUTH, timeout=10) as c:
            r = await c.get(path, params=params)
            r.raise_for_status()
            return r.json()


@pytest.fixture(scope="module")
async def stack(settings: Settings) -> AsyncIterator[Stack]:
    """Sequencer (small blocks) + views worker + API, with the scenario's day sealed and folded."""
    s = settings.model_copy(update={"max_events_per_block": 4})
    async with running(Sequencer(s).run), views_worker(s), api_server(s) as base:
        st = Stack(s, base)
        await st.seal(scenario.events())
        await wait_until(lambda: _tree_is(s.database_url, N), 20, "the scenario to be sealed")
        await st.caught_up()
        yield st


async def _tree_is(url: str, n: int) -> bool:
    from tests.pipeline.helpers import tree_size

    return await tree_size(url) == n


def _rows_of(t: dict[str, list[tuple[Any, ...]]]) -> dict[Any, dict[str, Any]]:
    """Views tables as the in-memory fold holds them: (view, key) -> figures with the height."""
    from services.views.model import VIEWS

    out: dict[Any, dict[str, Any]] = {}
    for view, spec in VIEWS.items():
        for r in t[spec.table]:
            *key, height, figures = r
            out[(view, tuple(k.isoformat() if isinstance(k, datetime.date) else k for k in key))] = {
                **figures, "height": height}
    return out


def _as_views(rows_by_view: dict[str, list[dict[str, Any]]]) -> dict[str, dict[tuple[str, ...], dict[str, Any]]]:
    from services.views.model import VIEWS

    return {v: {VIEWS[v].key_of(r): r for r in rows} for v, rows in rows_by_view.items()}


async def test_the_sealed_day_folds_to_the_hand_computed_figures(stack: Stack) -> None:
    d = scenario.D
    got = {
        "capacity": (await stack.get("/v1/views/capacity", date=d))["rows"],
        "stock": (await stack.get("/v1/views/stock"))["rows"],
        "demand": (await stack.get("/v1/views/demand", status="all"))["rows"],
        "gaps": (await stack.get("/v1/views/gaps", date=d))["rows"]
        + (await stack.get("/v1/views/gaps", date="2026-03-11"))["rows"]
        + (await stack.get("/v1/views/gaps", date="2026-03-12"))["rows"],
        "trains": (await stack.get("/v1/views/trains", status="all"))["rows"],
        "disputes": (await stack.get("/v1/views/disputes"))["rows"],
    }
    lots = (await stack.get("/v1/views/stock", flagged_lots="true"))["flagged_lots"]
    views = _as_views(got)
    views["lots"] = {(r["lot_id"],): r for r in lots}
    scenario.check(views, flagged_lots_only=True)
    capacity = await stack.get("/v1/views/capacity", date=d, station="JCF")
    assert [r["station"] for r in capacity["rows"]] == ["JCF"]
    assert capacity["as_of_height"] == await ledger_height(stack.settings.database_url)
    assert capacity["lag_blocks"] == 0 and capacity["date"] == d
    assert all(r["height"] <= capacity["as_of_height"] for r in got["capacity"])
    section = next(x for x in (await stack.get("/v1/views/capacity", date=d))["sections"] if x["from_station"] == "CBF")
    assert (section["to_station"], section["capacity_trains"], section["used_trains"]) == ("YBF", 70, 1)


async def test_history_alerts_and_csv_exports_over_the_api(stack: Stack) -> None:
    """(Runs before the tests below, which seal more events.)"""
    d = scenario.D
    h = await stack.get("/v1/views/history", date=d, days=3, station="JCF", mine=scenario.MINE)
    assert h["days"] == ["2026-03-08", "2026-03-09", d] and h["end"] == d
    assert h["station"]["loaded_kg"] == [0, 0, 214_000] and h["station"]["trains_departed"] == [0, 0, 1]
    assert h["mine"]["stock_kg"] == [0, 0, 24_786_000] and h["mine"]["loaded_kg"] == [0, 0, 214_000]
    cbf = next(s for s in h["sections"] if s["from_station"] == "CBF")
    assert (cbf["capacity_trains"], cbf["used_trains"]) == ([0, 0, 70], [0, 0, 1])
    assert h["demand"]["demand_kg"][-1] == 1_500_000 and h["demand"]["shortfall_kg"][-1] == 786_000 + 500_000
    past = await stack.get("/v1/views/dashboard", date="2026-03-09")
    assert past["past"] is True and sum(s["stock_kg"] for s in past["stock"]) == 0  # nothing reported yet
    assert past["trains_in_transit"] == 0

    alerts = (await stack.get("/v1/views/alerts", date=d))["rows"]
    kinds = {a["key"]: a for a in alerts}
    assert kinds["dispute:S2"]["severity"] == "alert" and kinds["lot:L2"]["on_hand_kg"] == 5_000_000
    assert not any(a["kind"] == "section_busy" for a in alerts)  # 1 train of 70
    assert (await stack.get("/v1/views/lots", flagged="true"))["total"] == 1

    async with httpx.AsyncClient(base_url=stack.base, headers=AUTH, timeout=10) as c:
        for table, path, params in (("demand", "/v1/views/demand", {"status": "all"}),
                                    ("gaps", "/v1/views/gaps", {"date": d}),
                                    ("sections", "/v1/views/capacity", {"date": d}),
                                    ("alerts", "/v1/views/alerts", {"date": d})):
            r = await c.get(f"/v1/views/export/{table}.csv", params=params)
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), table
            rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
            body = (await c.get(path, params=params)).json()
            want = body["sections"] if table == "sections" else body["rows"]
            assert rows == [{k: cell(x.get(k)) for k in rows[0]} for x in want], table
        bad = await c.get("/v1/views/export/demand.csv", params={"status": "nope"})
        assert bad.status_code == 422 and "status" in bad.text
        assert (await c.get("/v1/views/export/nothing.csv")).status_code == 404
        assert (await c.get("/v1/views/export/demand.csv", headers={"Authorization": ""})).status_code == 401


async def test_views_need_a_dispatcher_token(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base, timeout=10) as c:
        assert (await c.get("/v1/views/capacity")).status_code == 401
        r = await c.get("/v1/views/stock", headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        assert (await c.get("/v1/views/stock", params={"token": "dev-dispatcher-token"})).status_code == 401
        assert (await c.get("/v1/views/stream")).status_code == 401
        assert (await c.get("/v1/views/reference")).status_code == 200  # public reference data
        page = await c.get("/")
        assert page.status_code == 200 and "太焦线" in page.text
        assert 'data-dev-token="dev-dispatcher-token"' in page.text  # development convenience only
        assert (await c.get("/static/dashboard/app.js")).status_code == 200
        assert (await c.get("/static/dashboard/nope.js")).status_code == 404


async def _blocks(settings: Settings) -> list[bytes]:
    return [r.value for r in await read_topic(settings, Topics.from_settings(settings).blocks)]


async def test_replay_from_block_0_equals_live_and_a_redelivered_block_changes_nothing(
    stack: Stack, make_database: Callable[[str], Awaitable[str]]
) -> None:
    await stack.caught_up()
    live = await tables(stack.settings.database_url)
    blocks = await _blocks(stack.settings)
    assert len(blocks) >= 5
    replay = stack.settings.model_copy(update={"database_url": await make_database("views_replay")})
    pool = await db.create_pool(replay, max_size=2)
    try:
        verifier = BlockVerifier.from_settings(stack.settings)
        worker = ViewsWorker(ViewStore(pool), verifier=verifier, entity_cache=3, row_cache=3)  # tiny caches
        await worker.start()
        assert (await worker.apply(b'{"not": "a block"}')).outcome is Outcome.REJECTED
        memory = MemoryViews()
        for value in blocks:
            memory.apply(blockmsg.decode(value))
            assert (await worker.apply(value)).outcome is Outcome.APPLIED
        replayed = await tables(replay.database_url)
        assert replayed == live
        assert _rows_of(replayed) == memory.rows  # the in-memory reference fold agrees, row for row
        # redelivered blocks: skipped, nothing changes (a fresh worker reads its height from the database)
        again = ViewsWorker(ViewStore(pool), verifier=verifier)
        await again.start()
        for value in (blocks[0], blocks[2], blocks[-1]):
            assert (await again.apply(value)).outcome is Outcome.REDELIVERED
            assert (await worker.apply(value)).outcome is Outcome.REDELIVERED
        assert await tables(replay.database_url) == live
    finally:
        await pool.close()


async def test_a_new_block_reaches_the_stream_within_seconds(stack: Stack) -> None:
    seal_to_sse: list[float] = []
    produce_to_sse: list[float] = []
    async with open_stream(stack.base) as stream:
        for i in range(5):
            head = await stack.caught_up()
            loaded = (await stack.get("/v1/views/capacity", date=scenario.D, station="JCF"))["rows"][0]["loaded_kg"]
            sealed = asyncio.create_task(_commit_time(stack.settings.database_url, head))
            t_produced = time.monotonic()
            await stack.seal([E.wagons_loaded(f"S9{i}", "O1", scenario.BUYER, scenario.MINE, "L1", "WY-MM", "JCF",
                                              "JOF", [80_000], f"2026-03-10T10:0{i}:00Z")])

            def has_it(name: str, data: dict[str, Any], want: int = loaded + 80_000) -> bool:
                rows = data.get("rows", {}).get("capacity", []) if name == "views" else []
                return any(r["station"] == "JCF" and r["loaded_kg"] == want for r in rows)

            t_event, _, data = await stream.wait_for(has_it, 10, "with the new loading")
            t_sealed = await asyncio.wait_for(sealed, 10)
            seal_to_sse.append(t_event - t_sealed)
            produce_to_sse.append(t_event - t_produced)
            assert data["as_of_height"] == head + 1 and data["lag_blocks"] == 0
    log.warning("views latency over %d blocks: block committed -> SSE event %s s (max %.3f); "
                "accepted-topic produce -> SSE event %s s", len(seal_to_sse),
                [round(x, 3) for x in seal_to_sse], max(seal_to_sse), [round(x, 3) for x in produce_to_sse])
    assert all(0 < x < 3.0 for x in seal_to_sse)
    assert max(produce_to_sse) < 5.0


async def _commit_time(url: str, head: int) -> float:
    """When the block after ``head`` becomes visible in the ledger (polled every 5 ms)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        while (await conn.fetchval("SELECT coalesce(max(height), -1) FROM ledger_blocks")) <= head:
            await asyncio.sleep(0.005)
        return time.monotonic()
    finally:
        await conn.close()


async def test_rebuilding_while_running_folds_again_from_block_0(stack: Stack) -> None:
    head = await stack.caught_up()
    live = await tables(stack.settings.database_url)
    pool = await db.create_pool(stack.settings, max_size=2)
    try:
        await ViewStore(pool).reset()  # what `coalchain views --rebuild` does before it starts
    finally:
        await pool.close()
    assert await views_height(stack.settings.database_url) == -1
    await stack.seal([E.truck_weighed("TK9", "GPF", "inbound", 31_000, "2026-03-10T11:00:00Z")])
    assert await stack.caught_up() == head + 1  # the worker found the gap and read the topic again from offset 0
    rebuilt = await tables(stack.settings.database_url)
    assert rebuilt["views_progress"][0][0] == head + 1
    # everything from before the rebuild is back, identical (only rows the new block touched differ)
    key = ("GPF", datetime.date(2026, 3, 10))
    for table, rows in live.items():
        if table in ("views_progress",):
            continue
        mine = [r for r in rebuilt[table] if not (table == "views_station_day" and tuple(r[:2]) == key)]
        theirs = [r for r in rows if not (table == "views_station_day" and tuple(r[:2]) == key)]
        assert mine == theirs, table
    row = (await stack.get("/v1/views/capacity", date=scenario.D, station="GPF"))["rows"][0]
    assert row["truck_in_kg"] == 31_000


async def test_healthz_reports_the_views_lag(stack: Stack) -> None:
    await stack.caught_up()
    async with httpx.AsyncClient(base_url=stack.base, timeout=10) as c:
        body = (await c.get("/healthz")).json()
    views = body["checks"]["views"]
    assert views["ok"] is True and views["lag_blocks"] == 0
    assert views["height"] == views["ledger_height"] == await ledger_height(stack.settings.database_url)
    assert "behind" in views["detail"]


async def test_status_verifies_the_ledger_head(stack: Stack) -> None:
    status = await stack.get("/v1/views/status")
    head = status["head"]
    assert head["verified"] is True, head
    assert head["height"] == status["ledger_height"]
    assert "verified" in head["detail"]



