"""The dashboard in headless Chromium against a running stack fed by the simulator: validator, sequencer,
views worker and API, with simulated 太焦线 traffic published to the raw topic like any participant would.

The page is loaded once with ``?token=``; the test checks the station names and figures in the DOM,
takes screenshots (``COALCHAIN_SCREENSHOT_DIR``, default a pytest temp dir), seals more traffic and
waits for the page — never reloaded — to show the new block and changed figures.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from services.config import Settings
from services.kafka import clients
from services.kafka.topics import Topics
from services.sequencer.service import Sequencer
from services.simulator import SimConfig, genesis, simulate
from services.simulator.kafka import publish_kafka
from services.simulator.keys import write_genesis
from services.validator.worker import run_validator
from tests.pipeline.helpers import api_server, running, tree_size, wait_until
from tests.views.cdp import browser, chromium_binary
from tests.views.stack import TOKEN, ledger_height, views_height, views_worker

pytestmark = [pytest.mark.integration, pytest.mark.browser,
              pytest.mark.skipif(chromium_binary() is None, reason="chromium is not installed")]
log = logging.getLogger(__name__)

SEED = 5
FIRST, MORE = 3000, 400
LINE = ["修文", "东阳", "聂村", "子洪", "沁县", "夏店", "大平", "长治北", "长治", "高平", "晋城", "月山"]


class Feed:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.events: Iterator[dict[str, Any]] = simulate(SimConfig(seed=SEED))
        self.sent = 0

    async def publish(self, n: int) -> None:
        producer = clients.producer(self.settings)
        await producer.start()
        try:
            self.sent += await publish_kafka(itertools.islice(self.events, n), producer,
                                             Topics.from_settings(self.settings).raw)
        finally:
            await producer.stop()

    async def sealed(self, timeout_s: float = 30) -> None:
        url = self.settings.database_url

        async def done() -> bool:
            if await tree_size(url) < self.sent:
                return False
            return await views_height(url) == await ledger_height(url)

        await wait_until(done, timeout_s, f"{self.sent} simulated events sealed and folded")


@pytest.fixture(scope="module")
async def stack(settings: Settings) -> AsyncIterator[tuple[str, Feed]]:
    s = settings.model_copy(update={"batch_timeout_ms": 100})
    write_genesis(s.home / "genesis.json", genesis(SEED, created=SimConfig().start, ledger_id=s.ledger_id))
    feed = Feed(s)
    async with (running(lambda stop: run_validator(s, stop)), running(Sequencer(s).run), views_worker(s),
                api_server(s) as base):
        await feed.publish(FIRST)
        await feed.sealed()
        yield base, feed


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(os.environ.get("COALCHAIN_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))


FIGURES = ("Object.fromEntries([...document.querySelectorAll('[data-figure]')]"
           ".map(e => [e.dataset.figure, e.textContent]))")


async def test_the_dashboard_shows_the_line_and_updates_live(stack: tuple[str, Feed], shots: Path,
                                                            tmp_path: Path) -> None:
    base, feed = stack
    async with browser(f"{base}/?token={TOKEN}", tmp_path / "profile") as page:
        await page.wait_for("document.querySelectorAll('#line .station').length > 10 && "
                            "document.getElementById('as-of-height').textContent.startsWith('#')", 20,
                            "the line with its data")
        await page.wait_for("document.getElementById('live').classList.contains('on')", 10, "the live stream")
        assert await page.eval("location.search") == ""  # the token left the address bar ...
        assert await page.eval(f"sessionStorage.getItem('coalchain.dispatcherToken') === '{TOKEN}'")  # ... kept here
        dom = await page.dom()
        for name in LINE:
            assert name in dom, name
        drawn = await page.eval("[...document.querySelectorAll('#line .station .name .zh')].map(e => e.textContent)")
        assert drawn[:len(LINE)] == LINE and {"焦作", "新乡", "日照"} <= set(drawn[len(LINE):])  # north -> south
        assert "签名已验证" in dom  # the ledger head verified in the API with chain_anchor
        before = await page.eval(FIGURES)
        loaded = {k: v for k, v in before.items() if k.endswith(":loaded_kg") and v not in ("0", "")}
        assert loaded, "no station shows tonnes loaded"
        assert before["tile:loaded_kg"] not in ("", "0") and before["tile:trains_in_transit"] != ""
        assert any(k.startswith("mine:") and v not in ("", "0") for k, v in before.items()), "no mine stock shown"
        height_before = await page.eval("document.getElementById('as-of-height').textContent")
        await page.screenshot(shots / "dashboard-before.png")

        await feed.publish(MORE)
        await feed.sealed()
        await page.wait_for(f"document.getElementById('as-of-height').textContent !== '{height_before}'", 10,
                            "a new block height")
        after = await page.eval(FIGURES)
        changed = {k for k in before.keys() & after.keys() if before[k] != after[k]}
        assert changed, "no figure changed after new events were sealed"
        log.warning("figures changed live: %s", sorted(changed)[:12])
        await asyncio.sleep(1.6)  # let the "changed" highlight fade before the picture
        path = await page.screenshot(shots / "dashboard.png")
        log.warning("dashboard screenshot: %s", path)
        assert path.stat().st_size > 50_000
