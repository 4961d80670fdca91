"""The views' readiness for ``/healthz`` and ``coalchain status``: behind, stalled, or fed forged blocks.

Red, with the reason, when the views are more than :data:`LAG_OK_BLOCKS` behind the ledger; when they have
folded nothing for :data:`STALL_S` while the ledger has more blocks (a poisoned or stuck worker); or when
blocks-topic records were rejected (forged, garbage, unlinked: ``views_rejected_blocks``) within the last
:data:`REJECTED_RED_S`. The counts of rejected records and quarantined events are always reported.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import asyncpg

from services import db
from services.config import Settings
from services.health import Check

LAG_OK_BLOCKS = 100  # more blocks behind than this is unhealthy (the worker is down or cannot keep up)
STALL_S = 60.0  # no block folded for this long while the ledger has more: stalled
REJECTED_RED_S = 900.0  # a rejected blocks-topic record keeps readiness red this long after it was first seen


@dataclass(frozen=True)
class ViewsHealth:
    check: Check
    figures: dict[str, Any]


async def check_views(settings: Settings, timeout_s: float = 3.0, role: str | None = "reader") -> ViewsHealth:
    try:
        conn = await asyncio.wait_for(asyncpg.connect(db.url_for(settings, role)), timeout_s)
        try:
            if await conn.fetchval("SELECT to_regclass('views_progress')") is None:
                return ViewsHealth(Check("views", False, "no views tables (run `coalchain migrate`)"), {})
            p = await conn.fetchrow("SELECT height, extract(epoch FROM now() - updated_at)::float8 AS idle_s"
                                    " FROM views_progress WHERE id = 1")
            ledger = await conn.fetchval("SELECT coalesce(max(height), -1) FROM ledger_blocks")
            rejected, recent, last, quarantined = 0, 0, None, 0
            if await conn.fetchval("SELECT to_regclass('views_rejected_blocks')") is not None:
                rejected, recent = await conn.fetchrow(
                    "SELECT count(*), count(*) FILTER (WHERE first_seen > now() - make_interval(secs => $1))"
                    " FROM views_rejected_blocks", REJECTED_RED_S)
                last = await conn.fetchrow("SELECT topic_offset, height, reason FROM views_rejected_blocks"
                                           " ORDER BY last_seen DESC, topic_offset DESC LIMIT 1")
                quarantined = await conn.fetchval("SELECT count(*) FROM views_quarantined_events")
        finally:
            await conn.close()
    except (OSError, asyncpg.PostgresError, TimeoutError, ValueError) as e:
        return ViewsHealth(Check("views", False, f"{type(e).__name__}: {e}"), {})
    height = -1 if p is None else p["height"]
    idle_s = 0.0 if p is None or p["idle_s"] is None else p["idle_s"]
    lag = max(0, ledger - height)
    stalled = lag > 0 and idle_s > STALL_S
    figures: dict[str, Any] = {"height": height, "ledger_height": ledger, "lag_blocks": lag, "stalled": stalled,
                               "idle_s": round(idle_s, 1), "rejected_blocks": rejected,
                               "rejected_blocks_recent": recent, "quarantined_events": quarantined}
    reasons = []
    if lag > LAG_OK_BLOCKS:
        reasons.append(f"more than {LAG_OK_BLOCKS} blocks behind")
    if stalled:
        reasons.append(f"stalled: no block folded for {idle_s:.0f} s while the ledger has {lag} more")
    if recent and last is not None:
        reasons.append(f"{recent} forged or invalid blocks-topic record{'s' if recent != 1 else ''} rejected in the"
                       f" last {REJECTED_RED_S / 60:.0f} min (latest: offset {last['topic_offset']}, claims height"
                       f" {last['height']}: {last['reason'][:200]})")
    detail = f"views at block {height}, ledger at block {ledger}: {lag} block{'s' if lag != 1 else ''} behind"
    if rejected or quarantined:
        detail += f"; {rejected} blocks-topic records rejected, {quarantined} events quarantined"
    if reasons:
        detail = "NOT READY: " + "; ".join(reasons) + " — " + detail
    return ViewsHealth(Check("views", not reasons, detail), figures)
