"""``GET /healthz``: broker and database reachability."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from services import health

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(request: Request, response: Response) -> dict[str, Any]:
    checks = await health.check_all(request.app.state.settings)
    ok = all(c.ok for c in checks)
    if not ok:
        response.status_code = 503
    return {"ok": ok, "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks}}
