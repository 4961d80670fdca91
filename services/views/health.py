"""The views' liveness for ``/healthz``: how many blocks the views are behind the ledger."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.config import Settings
from services.health import Check

LAG_OK_BLOCKS = 100  # more blocks behind than this is unhealthy (the worker is down or cannot keep up)


@dataclass(frozen=True)
class ViewsHealth:
    check: Check
    figures: dict[str, Any]


async def check_views(settings: Settings, timeout_s: float = 3.0) -> ViewsHealth:
    try:
        conn = await asyncio.wait_for(asyncpg.connect(settings.database_url), timeout_s)
        try:
            if await conn.fetchval("SELECT to_regclass('views_progress')") is None:
                return ViewsHealth(Check("views", False, "no views tables (run `coalchain migrate`)"), {})
            height = await conn.fetchval("SELECT height FROM views_progress WHERE id = 1")
            ledger = await conn.fetchval("SELECT coalesce(max(height), -1) FROM ledger_blocks")
        finally:
            await conn.close()
    except (OSError, asyncpg.PostgresError, TimeoutError, ValueError) as e:
        return ViewsHealth(Check("views", False, f"{type(e).__name__}: {e}"), {})
    height = -1 if height is None else height
    lag = max(0, ledger - height)
    ok = lag <= LAG_OK_BLOCKS
    detail = f"views at block {height}, ledger at block {ledger}: {lag} block{'s' if lag != 1 else ''} behind"
    return ViewsHealth(Check("views", ok, detail), {"height": height, "ledger_height": ledger, "lag_blocks": lag})
