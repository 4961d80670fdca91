"""``GET /healthz``: broker and database reachability, and how far the views are behind the ledger."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response

from services import health
from services.views.health import check_views

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(request: Request, response: Response) -> dict[str, Any]:
    settings = request.app.state.settings
    basics, views = await asyncio.gather(health.check_all(settings), check_views(settings))
    checks = [*basics, views.check]
    ok = all(c.ok for c in checks)
    if not ok:
        response.status_code = 503
    body: dict[str, Any] = {"ok": ok, "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks}}
    body["checks"]["views"].update(views.figures)
    return body
