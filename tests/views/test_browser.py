"""The dashboard in headless Chromium against a running stack fed by the simulator: validator, sequencer,
views worker and API, with simulated 太焦线 traffic published to the raw topic like any participant would.

The simulated world starts a few days ago at a CST midnight, so every simulated day lands on its own past
date (as ``coalchain up --demo`` does). Each test opens the page once with ``?token=`` and never reloads it:
figures that change prove the live update. Checked on screen: the tiles against their tables and the API,
the capacity bars, a chart that changes live, a filter, a CSV export whose rows are the API's, an alert that
appears when the simulator is driven over capacity, a past day as it was, and the layout at 390 px.
Screenshots at 1600 and 390 px go to ``COALCHAIN_SCREENSHOT_DIR`` (default a pytest temp dir).
"""

from __future__ import annotations

import asyncio
import csv
import datetime
import io
import itertools
import json
import logging
import os
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.config import Settings
from services.kafka import clients
from services.kafka.topics import Topics
from services.sequencer.service import Sequencer
from services.simulator import SimConfig, genesis, simulate
from services.simulator.kafka import publish_kafka
from services.simulator.keys import write_genesis
from services.validator.worker import run_validator
from services.views.export import cell
from tests.pipeline.helpers import api_server, running, tree_size, wait_until
from tests.views.cdp import Page, browser, chromium_binary
from tests.views.stack import AUTH, TOKEN, ledger_height, open_stream, views_height, views_worker

pytestmark = [pytest.mark.integration, pytest.mark.browser,
              pytest.mark.skipif(chromium_binary() is None, reason="chromium is not installed")]
log = logging.getLogger(__name__)

SEED = 5
FIRST, MORE = 7000, 500  # into the simulation's 8th day (CST): yesterday
LINE = ["修文", "东阳", "聂村", "子洪", "沁县", "夏店", "大平", "长治北", "长治", "高平", "晋城", "月山"]
_today_cst = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=8)).date()
START = datetime.datetime.combine(_today_cst - datetime.timedelta(days=9), datetime.time(16), datetime.UTC)
"""00:00 CST eight days ago: every published day lies in the past (the last one is yesterday), each on its own date.
7,500 events reach the 8th simulated day's early morning (05:28 CST with seed 5): with a start seven days ago
they ran past the clock whenever the test ran between 00:00 and ~05:30 CST."""


def _sim(**kw: Any) -> Iterator[dict[str, Any]]:
    return simulate(SimConfig(seed=SEED, start=START, **kw))


class Feed:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.events: Iterator[dict[str, Any]] = _sim()
        self.sent = 0
        self.last_time = ""

    async def publish(self, n: int) -> None:
        batch = list(itertools.islice(self.events, n))
        self.last_time = batch[-1]["time"]
        assert datetime.datetime.fromisoformat(self.last_time) < datetime.datetime.now(datetime.UTC)  # never ahead
        await self.send(batch)

    async def send(self, events: Iterable[dict[str, Any]]) -> None:
        producer = clients.producer(self.settings)
        await producer.start()
        try:
            self.sent += await publish_kafka(events, producer, Topics.from_settings(self.settings).raw)
        finally:
            await producer.stop()

    async def sealed(self, timeout_s: float = 60) -> None:
        url = self.settings.database_url

        async def done() -> bool:
            if await tree_size(url) < self.sent:
                return False
            return await views_height(url) == await ledger_height(url)

        await wait_until(done, timeout_s, f"{self.sent} simulated events sealed and folded")


class Stack:
    def __init__(self, base: str, feed: Feed) -> None:
        self.base = base
        self.feed = feed

    async def get(self, path: str, **params: Any) -> Any:
        async with httpx.AsyncClient(base_url=self.base, headers=AUTH, timeout=10) as c:
            r = await c.get(path, params={k: v for k, v in params.items() if v is not None})
            r.raise_for_status()
            return r.json() if "json" in r.headers["content-type"] else r.text


@pytest.fixture(scope="module")
async def stack(settings: Settings) -> AsyncIterator[Stack]:
    s = settings.model_copy(update={"batch_timeout_ms": 100})
    write_genesis(s.home / "genesis.json", genesis(SEED, created=START, ledger_id=s.ledger_id))
    feed = Feed(s)
    async with (running(lambda stop: run_validator(s, stop)), running(Sequencer(s).run), views_worker(s),
                api_server(s) as base):
        await feed.publish(FIRST)
        await feed.sealed()
        yield Stack(base, feed)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(os.environ.get("COALCHAIN_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))


FIGURES = ("Object.fromEntries([...document.querySelectorAll('[data-figure]')]"
           ".map(e => [e.dataset.figure, e.textContent]))")
READY = ("document.querySelectorAll('#line .station').length > 10 && "
         "document.getElementById('as-of-height').textContent.startsWith('#') && "
         "window.coalchainCharts && window.coalchainCharts.loaded")


def t(kg: int) -> str:
    """Tonnes as the board writes them: rounded, thousands separators."""
    return f"{round(kg / 1000):,}"


async def opened(page: Page) -> None:
    await page.wait_for(READY, 30, "the line, its data and the charts")
    await page.wait_for("['on', 'amber'].includes(document.getElementById('live').dataset.level)", 15,
                        "the live stream")


async def test_the_board_shows_the_line_agrees_with_itself_and_updates_live(stack: Stack, shots: Path,
                                                                           tmp_path: Path) -> None:
    async with browser(f"{stack.base}/?token={TOKEN}", tmp_path / "profile", width=1600, height=1000) as page:
        await opened(page)
        assert await page.eval("location.search") == ""  # the token left the address bar ...
        assert await page.eval(f"sessionStorage.getItem('coalchain.dispatcherToken') === '{TOKEN}'")  # ... kept here
        dom = await page.dom()
        drawn = await page.eval("[...document.querySelectorAll('#line .station .name .zh')].map(e => e.textContent)")
        assert drawn[:len(LINE)] == LINE and {"焦作", "新乡", "日照"} <= set(drawn[len(LINE):])  # north -> south
        assert "签名已验证" in dom  # the ledger head verified in the API with chain_anchor
        api = await stack.get("/v1/views/dashboard")
        day = api["date"]
        assert day == stack.feed.last_time[:10] or day > stack.feed.last_time[:10]  # the day of the last event (CST)
        figures = await page.eval(FIGURES)
        on_line = {"XWV", "DYV", "NCV", "ZHV", "QVV", "XDV", "DPF", "CBF", "CZF", "GPF", "JCF", "YBF"}
        loaded = sum(r["loaded_kg"] for r in api["capacity"] if r["station"] in on_line)
        assert loaded > 0 and figures["tile:loaded_kg"] == t(loaded)  # the tile is the sum of the line's stations
        # every tile agrees with its table: counts equal the table's total, which equals the API's own count
        for tile, table, total in (("flagged_lots", "lots", "flagged_lots_total"),
                                   ("open_disputes", "disputes", "open_disputes"),
                                   ("trains_in_transit", "trains", "trains_in_transit")):
            shown = await page.eval(f"document.getElementById('{table}').dataset.total")
            assert figures[f"tile:{tile}"] == f"{api[total]:,}" and shown == str(api[total]), tile
            rows = await page.eval(f"document.querySelectorAll('#{table} tbody tr:not(:has(td.empty))').length")
            assert rows == min(api[total], len(api[table if table != "lots" else "flagged_lots"]))
        lots = await stack.get("/v1/views/lots", flagged="true")
        assert all(x["on_hand_kg"] > 0 for x in lots["rows"]) and lots["total"] == api["flagged_lots_total"]
        # units: tonnes with separators everywhere in the tables, no kt
        heads = await page.eval("[...document.querySelectorAll('table.grid th')].map(e => e.textContent).join(' ')")
        assert " kt" not in heads and "kt" not in await page.eval("document.getElementById('line').textContent")
        await check_capacity_bars(page, api)
        before = await page.eval(FIGURES)
        charts_before = json.dumps(await page.eval("window.coalchainCharts"))
        assert len((await page.eval("window.coalchainCharts.loaded"))["series"][0][1]) == 30  # 30 days of history
        height_before = await page.eval("document.getElementById('as-of-height').textContent")
        await page.screenshot(shots / "board-1600-before.png")

        await stack.feed.publish(MORE)
        await stack.feed.sealed()
        await page.wait_for(f"document.getElementById('as-of-height').textContent !== '{height_before}'", 15,
                            "a new block height")
        after = await page.eval(FIGURES)
        changed = {k for k in before.keys() & after.keys() if before[k] != after[k]}
        assert changed, "no figure changed after new events were sealed"
        await page.wait_for(f"JSON.stringify(window.coalchainCharts) !== {json.dumps(charts_before)}", 15,
                            "a chart that changes live")
        await asyncio.sleep(1.6)  # let the "changed" highlight fade before the picture
        path = await page.screenshot(shots / "board-1600.png")
        log.warning("dashboard screenshot: %s", path)
        assert path.stat().st_size > 50_000

        # the live dot: red while the stream is down, green again once it is back and the views keep up
        await page.call("Network.enable")
        await page.call("Network.emulateNetworkConditions", offline=True, latency=0, downloadThroughput=-1,
                        uploadThroughput=-1)
        await page.eval("fetch('/v1/views/status').catch(() => null)")
        # (an open stream errors at the latest when the server ends it, after 30 s)
        await page.wait_for("document.getElementById('live').dataset.level === 'red'", 45, "a red live dot")
        await page.call("Network.emulateNetworkConditions", offline=False, latency=0, downloadThroughput=-1,
                        uploadThroughput=-1)
        await page.wait_for("document.getElementById('live').dataset.level === 'on'", 40, "a green live dot again")


async def check_capacity_bars(page: Page, api: dict[str, Any]) -> None:
    """Each published section shows used / capacity; one that ran more trains than its capacity shows the
    overflow and is an alert; none is over capacity without being flagged."""
    flagged = {a["key"] for a in api["alerts"] if a["kind"] == "section_busy" and a["severity"] == "alert"}
    figures = await page.eval(FIGURES)
    for sec in api["sections"]:
        if sec["direction"] != "down":
            continue
        key = f"section:{sec['from_station']}>{sec['to_station']}/down@{sec['day']}"
        assert (key in flagged) == sec["overbooked"], key
        if sec["to_station"] == "XXF":  # off the line: its own row, with its use (月山→新乡 was always 0)
            assert figures["link:YBF>XXF:used_trains"] == str(sec["used_trains"])
            assert figures["link:YBF>XXF:used_trains:capacity"] == str(sec["capacity_trains"])
    caps = {k: v for k, v in figures.items() if k.endswith(":used_down_trains:capacity")}
    assert caps, "no segment shows its section's capacity"
    overflow = await page.eval("document.querySelectorAll('.seg-bar .bar.over').length")
    over_segments = sum(1 for k, v in caps.items()
                        if int(figures[k.removesuffix(":capacity")].replace(",", "")) > int(v.replace(",", "")))
    assert overflow == over_segments + sum(1 for s in api["sections"] if s["overbooked"] and s["to_station"] == "XXF")


async def test_a_filter_and_an_export_whose_rows_are_the_apis(stack: Stack, tmp_path: Path) -> None:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    async with browser(f"{stack.base}/?token={TOKEN}", tmp_path / "profile", width=1600, height=1000) as page:
        await opened(page)
        await page.call("Page.setDownloadBehavior", behavior="allow", downloadPath=str(downloads))
        every = (await stack.get("/v1/views/demand", limit=2000))["rows"]
        buyers = sorted({o["buyer_id"] for o in every})
        assert len(buyers) >= 2, "the simulation should have orders of several buyers"
        buyer = buyers[0]
        mine = await stack.get("/v1/views/demand", buyer=buyer, limit=2000)
        await page.eval(f"(() => {{ const s = document.getElementById('f-buyer'); s.value = '{buyer}';"
                        " s.dispatchEvent(new Event('change')); })()")
        name = await page.eval(f"document.querySelector('#f-buyer option[value=\"{buyer}\"]').textContent")
        await page.wait_for(f"[...document.querySelectorAll('#demand tbody tr td:first-child')]"
                            f".every(td => td.textContent === {json.dumps(name)})", 10, "the demand of one buyer")
        shown = await page.eval("document.querySelectorAll('#demand tbody tr').length")
        assert shown == min(12, len(mine["rows"])) < len(every)
        assert await page.eval("document.getElementById('tile-open_demand_kg').querySelector('.fig').textContent") \
            == t(sum(o["open_kg"] for o in mine["rows"]))

        await page.eval("document.querySelector('button.csv[data-table=demand]').click()")
        deadline = asyncio.get_running_loop().time() + 15
        while not [p for p in downloads.iterdir() if p.suffix == ".csv"]:
            assert asyncio.get_running_loop().time() < deadline, "no CSV was downloaded"
            await asyncio.sleep(0.1)
        path = next(p for p in downloads.iterdir() if p.suffix == ".csv")
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
        api = await stack.get("/v1/views/demand", buyer=buyer, limit=2000)  # nothing sealed meanwhile
        assert [r["order_id"] for r in rows] == [o["order_id"] for o in api["rows"]]
        assert rows == [{k: cell(o.get(k)) for k in rows[0]} for o in api["rows"]]
        assert {k for o in api["rows"] for k in o} == set(rows[0])  # every field, nothing more


async def test_an_alert_appears_when_the_simulator_is_driven_over_capacity(stack: Stack, tmp_path: Path) -> None:
    async with browser(f"{stack.base}/?token={TOKEN}", tmp_path / "profile", width=1600, height=1000) as page:
        await opened(page)
        api = await stack.get("/v1/views/capacity")
        day = api["date"]
        busy = [s for s in api["sections"] if s["used_trains"] > 0 and not s["overbooked"]]
        assert busy, "no section ran trains on the latest day"
        keys = [f"section:{s['from_station']}>{s['to_station']}/down@{day}" for s in busy]
        shown = f"{json.dumps(keys)}.some(k => document.querySelector(`[data-alert='${{k}}'].alert`))"
        assert not await page.eval(shown)
        # the same world, with the railway cutting every section's capacity for maintenance (a 99 % cut)
        scenario = json.loads((Path(__file__).parents[2] / "services/simulator/scenario.json").read_text())
        scenario |= {"capacity_cut_rate_bp": 10_000, "capacity_cut_bp": [9900, 9900]}
        path = tmp_path / "cut.json"
        path.write_text(json.dumps(scenario))
        cut = [e for e in itertools.islice(simulate(SimConfig(seed=SEED, start=START + datetime.timedelta(seconds=1),
                                                              scenario_path=path)), 40_000)
               if ".CapacityPublished." in e["type"] and e["data"]["plan_date"] == day]
        assert cut
        async with open_stream(stack.base) as stream:
            await stream.wait_for(lambda name, _: name == "alerts", 10, "the first alerts")
            await stack.feed.send(cut)
            await stack.feed.sealed()
            if not (stream.task and stream.task.done()):  # (the server ends a stream after 30 s)
                await stream.wait_for(lambda name, data: name == "alerts" and set(keys) <= set(data["new"]), 15,
                                      "the overbooked sections pushed as new alerts")
        async with open_stream(stack.base) as stream:  # a client connecting now gets them at once
            await stream.wait_for(lambda name, data: name == "alerts" and set(keys) <= {a["key"] for a in
                                  data["alerts"]}, 10, "the overbooked sections in the stream's alerts")
        alerts = await stack.get("/v1/views/alerts")
        assert set(keys) <= {a["key"] for a in alerts["rows"] if a["severity"] == "alert"}, alerts["rows"][:5]
        for k in keys:
            try:
                await page.wait_for(f"!!document.querySelector(`[data-alert='{k}'].alert`)", 15, f"the alert {k}")
            except AssertionError:
                shown = await page.eval("[...document.querySelectorAll('[data-alert]')].map(e => e.dataset.alert"
                                        " + ' ' + e.className).slice(0, 8).join(' | ') + ' day='"
                                        " + document.getElementById('day').textContent + ' h='"
                                        " + document.getElementById('as-of-height').textContent")
                raise AssertionError(f"{k} not on the page; it shows {shown}") from None
        over = await page.eval("document.getElementById('tile-overbooked').querySelector('.fig').textContent")
        assert int(over) >= len(keys)
        assert await page.eval("document.querySelectorAll('.seg-bar .bar.over').length") >= 1


async def test_a_past_day_as_it_was(stack: Stack, tmp_path: Path) -> None:
    async with browser(f"{stack.base}/?token={TOKEN}", tmp_path / "profile", width=1600, height=1000) as page:
        await opened(page)
        latest = (await stack.get("/v1/views/status"))["latest_day"]
        past = (datetime.date.fromisoformat(latest) - datetime.timedelta(days=2)).isoformat()
        await page.eval(f"(() => {{ const i = document.getElementById('day-pick'); i.value = '{past}';"
                        " i.dispatchEvent(new Event('change')); })()")
        await page.wait_for(f"document.getElementById('day').textContent === '{past}' && "
                            "!document.getElementById('past-note').hidden", 10, "the past day")
        await page.wait_for(f"document.getElementById('charts').dataset.end === '{past}'", 10, "charts ending that day")
        api = await stack.get("/v1/views/dashboard", date=past)
        assert api["past"] and api["date"] == past
        figures = await page.eval(FIGURES)
        history = await stack.get("/v1/views/history", date=past, days=30)
        stock = sum(s["stock_kg"] for s in api["stock"])
        assert figures["tile:stock_kg"] == t(history["mine"]["stock_kg"][-1]) == t(stock)
        now = await stack.get("/v1/views/dashboard")
        assert sum(s["stock_kg"] for s in api["stock"]) != sum(s["stock_kg"] for s in now["stock"])  # as it was
        assert figures["tile:loaded_kg"] == t(history["station"]["loaded_kg"][-1])
        assert figures["tile:trains_in_transit"] == f"{api['trains_in_transit']:,}"


async def test_the_narrow_layout(stack: Stack, shots: Path, tmp_path: Path) -> None:
    async with browser(f"{stack.base}/?token={TOKEN}", tmp_path / "profile", width=390, height=844) as page:
        await page.call("Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=1, mobile=True)
        await opened(page)
        await asyncio.sleep(0.5)
        width = await page.eval("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width} px wide at 390 px"
        wide = await page.eval("[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right"
                               " > 391 && !e.closest('.scroll, .line-scroll')).map(e => e.tagName + '.' + e.className)"
                               ".slice(0, 5)")
        assert not wide, wide
        await page.screenshot(shots / "board-390.png")
