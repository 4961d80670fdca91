"""What the views worker refused (``0021_views_checks.sql``): rejected blocks-topic records, quarantined events.

Both are keyed by where they sit (topic offset, leaf index), so reading the topic again — a restart, a
catch-up, a rebuild — finds the same rows instead of counting twice.
"""

from __future__ import annotations

import asyncpg


async def record_rejected(pool: asyncpg.Pool, offset: int, height: int, reason: str) -> None:
    await pool.execute(
        "INSERT INTO views_rejected_blocks (topic_offset, height, reason) VALUES ($1, $2, $3)"
        " ON CONFLICT (topic_offset) DO UPDATE SET last_seen = now(), reason = EXCLUDED.reason",
        offset, height, reason[:1000])


async def record_quarantined(pool: asyncpg.Pool, height: int, items: list[tuple[int, str]]) -> None:
    if not items:
        return
    await pool.execute(
        "INSERT INTO views_quarantined_events (leaf_index, height, reason)"
        " SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[])"
        " ON CONFLICT (leaf_index) DO NOTHING",
        [i for i, _ in items], [height] * len(items), [r[:1000] for _, r in items])
