"""``db.create_pool(reset_session=False)``: a released connection keeps its session (no reset round trip),
and an open transaction is still rolled back; the default pool still resets the session."""

from __future__ import annotations

from pathlib import Path

import pytest

from services import db
from services.config import Settings


@pytest.mark.parametrize("reset_session", [True, False])
async def test_pool_reset_keeps_or_resets_the_session_and_always_rolls_back(
        database_url: str, tmp_path: Path, reset_session: bool) -> None:
    settings = Settings(DATABASE_URL=database_url, home=tmp_path)
    pool = await db.create_pool(settings, min_size=1, max_size=1, reset_session=reset_session)
    try:
        async with pool.acquire() as conn:
            await conn.execute("SET application_name = 'kept'")
            await conn.execute("BEGIN")
            await conn.execute("CREATE TEMP TABLE left_open (x int)")
            pid = await conn.fetchval("SELECT pg_backend_pid()")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT pg_backend_pid()") == pid  # the same connection came back
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT to_regclass('pg_temp.left_open')") is None  # rolled back
            name = await conn.fetchval("SHOW application_name")
            assert (name == "kept") is (not reset_session)
    finally:
        await pool.close()
