"""``GET /receipts``: the buyers' page (plain HTML, CSS and JavaScript from ``services/api/static``).

The page is public; what it shows is not: the buyer signs in with its own key (``services.api.auth``), in the
browser, and every figure comes from ``/v1/receipts/*`` with that session. The page builds and signs the
DeliveryConfirmed / DeliveryDisputed itself (WebCrypto Ed25519; the key never leaves the browser) and
verifies bundles offline with ``receipt-verify.js``. What the page needs from the catalogue (event types,
their schema ids, the dispute reasons) is embedded in it as JSON.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from services.config import Settings
from services.receipts.client import newest_event_type

router = APIRouter(include_in_schema=False)

_ASSETS = {"receipts.js": "text/javascript; charset=utf-8", "receipts.css": "text/css; charset=utf-8",
           "receipt-verify.js": "text/javascript; charset=utf-8"}
_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": "default-src 'self'; style-src 'self'; script-src 'self'; object-src 'none';"
                                       " base-uri 'none'; frame-ancestors 'none'"}


def _static(name: str) -> str:
    return resources.files("services.api.static").joinpath(name).read_text(encoding="utf-8")


def page_config(settings: Settings) -> dict[str, Any]:
    """What the page needs to build receipt events exactly as the catalogue says."""
    confirmed, disputed = newest_event_type("DeliveryConfirmed"), newest_event_type("DeliveryDisputed")
    reasons = disputed.schema["properties"]["data"]["properties"]["reason_code"]["enum"]
    return {"ledger_id": settings.ledger_id,
            "types": {"DeliveryConfirmed": {"type": confirmed.type, "dataschema": confirmed.schema_id},
                      "DeliveryDisputed": {"type": disputed.type, "dataschema": disputed.schema_id}},
            "dispute_reasons": list(reasons)}


@router.get("/receipts", response_class=HTMLResponse)
async def receipts_page(request: Request) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    config = json.dumps(page_config(settings), ensure_ascii=False).replace("<", "\\u003c")
    return HTMLResponse(_static("receipts.html").replace("{{config}}", config), headers=_HEADERS)


@router.get("/static/receipts/{name}")
async def asset(name: str) -> Response:
    if name not in _ASSETS:
        raise HTTPException(404, "no such file")
    return Response(_static(name), media_type=_ASSETS[name], headers=_HEADERS)
