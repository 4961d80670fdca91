"""``GET /healthz``: readiness — broker and database reachable, views caught up, not stalled, not fed forgeries,
sealing and validation not stalled while events wait, no crash-looping service beside ``coalchain up``.
The same :func:`services.health.readiness` as ``coalchain status``: 200 when every check is ok, else 503.

``GET /livez``: liveness — this API process runs and answers; always 200, whatever readiness says (restart
the API when this fails, not when readiness is red: a restart mends none of what readiness reports).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from services import health

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(request: Request, response: Response) -> dict[str, Any]:
    ready = await health.readiness(request.app.state.settings, role="api")
    if not ready.ok:
        response.status_code = 503
    body: dict[str, Any] = {"ok": ready.ok, "checks": {c.name: {"ok": c.ok, "detail": c.detail}
                                                       for c in ready.checks}}
    for name, figures in ready.figures.items():
        body["checks"].setdefault(name, {}).update(figures)
    return body


@router.get("/livez")
async def livez() -> dict[str, Any]:
    return {"ok": True}
