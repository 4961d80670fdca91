"""``GET /``: the 太焦线 dispatch dashboard (plain HTML, CSS and JavaScript from ``services/api/static``).

The page itself is public; its data is not. Open it as ``/?token=<dispatcher token>``: the script keeps the
token in sessionStorage, removes it from the address bar, sends it as a bearer token to ``/v1/views/*`` and
as ``?token=`` to the event stream. In development, when the placeholder token is configured, the page is
served with it so ``coalchain up --demo`` works out of the box; never in production.
"""

from __future__ import annotations

import html
from importlib import resources

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from services.api.routes.views import DEV_TOKEN, accepted_tokens
from services.config import Settings

router = APIRouter(include_in_schema=False)

_ASSETS = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8",
           # uPlot, vendored from npm with its licence (vendor/README.md): the page loads nothing from elsewhere
           "vendor/uPlot.iife.min.js": "text/javascript; charset=utf-8",
           "vendor/uPlot.min.css": "text/css; charset=utf-8",
           "vendor/uPlot.LICENSE": "text/plain; charset=utf-8"}
_NO_CACHE = {"Cache-Control": "no-cache"}


def _static(name: str) -> str:
    return resources.files("services.api.static").joinpath(name).read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse)
async def dashboard(request: Request) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    dev = DEV_TOKEN if settings.is_development() and DEV_TOKEN in accepted_tokens(settings) else ""
    page = _static("index.html").replace("{{dev_token}}", html.escape(dev, quote=True))
    return HTMLResponse(page, headers=_NO_CACHE)


@router.get("/static/dashboard/{name:path}")
async def asset(name: str) -> Response:
    if name not in _ASSETS:
        raise HTTPException(404, "no such file")
    return Response(_static(name), media_type=_ASSETS[name], headers=_NO_CACHE)
