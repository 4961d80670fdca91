"""The buyers' page in headless Chromium against the receipts pipeline (real broker, validator, sequencer, API).

A buyer signs in with its own key file (the page signs the server's challenge with WebCrypto Ed25519), sees
its own deliveries and nobody else's, confirms one and disputes another from the page (the page builds,
canonicalises and signs the events; both get sealed), downloads a bundle, verifies it in the page with the
JavaScript verifier and its trust file, and sees a tampered copy rejected with the failing check named.
Screenshots go to ``COALCHAIN_SCREENSHOT_DIR`` (default: a pytest temp dir).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest

from chain_anchor.events import verify_event
from chain_anchor.keys import KeyRing
from tests.receipts.conftest import Pipeline
from tests.receipts.helpers import BUYER, OTHER_BUYER, shipment
from tests.views.cdp import Page, browser, chromium_binary

pytestmark = [pytest.mark.integration, pytest.mark.browser,
              pytest.mark.skipif(chromium_binary() is None, reason="chromium is not installed")]

PAGE_BUYER = OTHER_BUYER  # jiaozuo-power


async def _set_files(page: Page, element_id: str, path: Path) -> None:
    found = await page.call("Runtime.evaluate", expression=f"document.getElementById('{element_id}')")
    await page.call("DOM.setFileInputFiles", files=[str(path)], objectId=found["result"]["objectId"])


async def _wait_file(path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not (path.exists() and path.stat().st_size > 0):
        assert time.monotonic() < deadline, f"{path} was not downloaded"
        await asyncio.sleep(0.1)


async def test_a_buyer_confirms_disputes_downloads_and_verifies_in_the_page(
        pipeline: Pipeline, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    shots = Path(os.environ.get("COALCHAIN_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    c = pipeline.consortium
    ok, short = shipment(c, 81, buyer=PAGE_BUYER), shipment(c, 82, buyer=PAGE_BUYER, loss_kg_per_wagon=3_000)
    someone_else = shipment(c, 83, buyer=BUYER)
    events = ok.all() + short.all() + someone_else.all()
    await pipeline.publish(events)
    await pipeline.sealed([e["id"] for e in events])
    key_file, trust_file = tmp_path / f"{PAGE_BUYER}.pem", tmp_path / "trust.json"
    key_file.write_bytes(c.signer(PAGE_BUYER).to_pem())
    trust_file.write_text(json.dumps(pipeline.trust()), encoding="utf-8")
    downloads = tmp_path / "downloads"
    downloads.mkdir()

    async with browser(f"{pipeline.url}/receipts", tmp_path / "profile", width=1500, height=1000) as page:
        await page.wait_for("document.body.dataset.ready === 'true'", 30, "the page's script ready")
        await page.call("DOM.getDocument")
        await page.call("Browser.setDownloadBehavior", behavior="allow", downloadPath=str(downloads))
        await page.eval(f"document.getElementById('participant').value = '{PAGE_BUYER}'")
        await _set_files(page, "key-file", key_file)
        await page.eval("document.getElementById('signin-form').requestSubmit()")
        await page.wait_for(f"document.getElementById('who-id')?.textContent === '{PAGE_BUYER}'"
                            " || document.getElementById('signin-error').textContent", 30, "signed in")
        assert await page.eval("document.getElementById('signin-error').textContent") == ""
        await page.wait_for(f"document.querySelector('.card[data-shipment=\"{short.shipment_id}\"]') !== null", 15,
                            "the pending deliveries")
        buyers = await page.eval("[...document.querySelectorAll('#pending .card')].map(c => c.dataset.buyer)")
        shown = await page.eval("[...document.querySelectorAll('#pending .card')].map(c => c.dataset.shipment)")
        assert set(buyers) == {PAGE_BUYER} and {ok.shipment_id, short.shipment_id} <= set(shown)
        assert someone_else.shipment_id not in await page.dom()  # another buyer's delivery is nowhere in the page
        marks = await page.eval(f"document.querySelector('.card[data-shipment=\"{short.shipment_id}\"] .marks')"
                                ".textContent")
        assert "unloaded vs loaded" in marks and "-12,000 kg" in marks  # 4 wagons x 3 t short, beyond 1 %
        await page.screenshot(shots / "receipts-pending.png")

        confirm = f".card[data-shipment=\"{ok.shipment_id}\"]"
        dispute = f".card[data-shipment=\"{short.shipment_id}\"]"
        await page.eval(f"document.querySelector('{confirm} [data-action=confirm]').click()")
        await page.eval(f"document.querySelector('{dispute} [data-field=reason]').value = 'weight_shortfall'")
        await page.eval(f"document.querySelector('{dispute} [data-action=dispute]').click()")
        for selector in (confirm, dispute):
            await page.wait_for(f"document.querySelector('{selector} [data-status]').dataset.status === 'sealed'", 30,
                                f"{selector} sealed")
        confirmed_id = await page.eval(f"document.querySelector('{confirm}').dataset.event")
        disputed_id = await page.eval(f"document.querySelector('{dispute}').dataset.event")
        trust_keys = c.signer(PAGE_BUYER)
        for event_id, name in ((confirmed_id, "DeliveryConfirmed"), (disputed_id, "DeliveryDisputed")):
            sealed = (await pipeline.api.get(f"/v1/events/{event_id}")).json()
            assert sealed["event"]["type"].endswith(f".{name}.v1") and sealed["event"]["sigkeyid"] == trust_keys.key_id
            verify_event(sealed["event"], KeyRing([trust_keys.public_key_raw]))  # signed in the browser, by its key
        status = await page.eval(f"document.querySelector('{dispute} [data-status]').textContent")
        assert "已提出异议" in status and "sealed in block #" in status

        row = f"#answered tr[data-shipment=\"{short.shipment_id}\"]"
        await page.wait_for(f"document.querySelector('{row}') !== null", 15, "the sealed dispute in the list")
        await page.eval(f"document.querySelector('{row} [data-action=download]').click()")
        bundle_file = downloads / f"receipt-{short.shipment_id}.json"
        await _wait_file(bundle_file, 15)
        bundle = json.loads(bundle_file.read_bytes())
        assert bundle["shipment_id"] == short.shipment_id

        await _set_files(page, "trust-file", trust_file)
        await page.wait_for("document.getElementById('trust-status').dataset.loaded === 'true'", 10, "the trust file")
        await _set_files(page, "bundle-file", bundle_file)
        await page.wait_for("document.getElementById('verify-result').dataset.ok === 'true'", 15, "the bundle verified")
        verdict = await page.eval("document.getElementById('verify-result').textContent")
        assert "RECEIPT VERIFIED" in verdict and "DISPUTED" in verdict
        assert f"shipment {short.shipment_id} (rail)" in verdict
        await page.screenshot(shots / "receipts-verified.png")

        loading = next(e for e in bundle["events"] if e["kind"] == "loading")
        loading["event"]["data"]["wagons"][0]["net_weight_kg"] += 2_000  # "the mine loaded 2 t more"
        tampered = tmp_path / "tampered.json"
        tampered.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
        await _set_files(page, "bundle-file", tampered)
        await page.wait_for("document.getElementById('verify-result').dataset.ok === 'false'", 15, "the tampered copy")
        assert await page.eval("document.getElementById('verify-result').dataset.check") == "signature"
        verdict = await page.eval("document.getElementById('verify-result').textContent")
        assert "RECEIPT INVALID [signature]" in verdict and "WagonsLoaded" in verdict
        await page.screenshot(shots / "receipts-tampered.png")
