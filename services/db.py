"""Database connection helpers: one place that knows how to reach PostgreSQL."""

from __future__ import annotations

import asyncpg

from services.config import Settings
from services.errors import Unreachable, redact_url
from services.store.migrate import migrate


async def connect(settings: Settings) -> asyncpg.Connection:
    if not settings.database_url:
        raise RuntimeError("no database configured: set DATABASE_URL or run under `coalchain up`")
    try:
        conn: asyncpg.Connection = await asyncpg.connect(settings.database_url)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
        raise _unreachable(settings, e) from e
    return conn


async def create_pool(settings: Settings, *, min_size: int = 1, max_size: int = 8) -> asyncpg.Pool:
    if not settings.database_url:
        raise RuntimeError("no database configured: set DATABASE_URL or run under `coalchain up`")
    try:
        pool: asyncpg.Pool = await asyncpg.create_pool(settings.database_url, min_size=min_size, max_size=max_size)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
        raise _unreachable(settings, e) from e
    return pool


def _unreachable(settings: Settings, e: BaseException) -> Unreachable:
    """The connection error as one line naming the database (password hidden). Still an ``OSError``."""
    why = getattr(e, "strerror", None) or str(e) or type(e).__name__
    return Unreachable(f"cannot connect to the database {redact_url(settings.database_url)}: {why}")


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database (works for TCP and unix-socket URLs)."""
    base, _, query = url.partition("?")
    head, _, _ = base.rpartition("/")
    return f"{head}/{database}" + (f"?{query}" if query else "")


async def migrate_database(settings: Settings) -> list[int]:
    """Apply pending migrations to the configured database; return the versions applied."""
    conn = await connect(settings)
    try:
        return await migrate(conn)
    finally:
        await conn.close()
