"""Migrations apply once, are idempotent under concurrency, and the ledger tables are append-only."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from services.db import with_database
from services.store.migrate import available, migrate

pytestmark = pytest.mark.integration


async def test_migrations_are_recorded_and_idempotent(database_url: str) -> None:
    conns = [await asyncpg.connect(database_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
        assert results == [[], [], []]  # the fixture already applied everything
        versions = [r["version"] for r in await conns[0].fetch("SELECT version FROM schema_migrations ORDER BY 1")]
        assert versions == [m.version for m in available()]
    finally:
        for c in conns:
            await c.close()


async def test_concurrent_first_migration_applies_each_version_once(pg_admin_url: str) -> None:
    admin = await asyncpg.connect(pg_admin_url)
    name = "cc_concurrent_migrate"
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = with_database(pg_admin_url, name)
        conns = [await asyncpg.connect(url) for _ in range(4)]
        applied = await asyncio.gather(*(migrate(c) for c in conns))
        flat = sorted(v for a in applied for v in a)
        assert flat == [m.version for m in available()]
        for c in conns:
            await c.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _insert_one_row_each(conn: asyncpg.Connection) -> None:
    z = b"\x00" * 32
    await conn.execute(
        "INSERT INTO ledger_blocks (height, header, header_hash, signatures, first_leaf_index, leaf_count,"
        " tree_size, log_root, source_partition, first_offset, last_offset, compact_range, checkpoint, sealed_at)"
        " VALUES (900000, '\\x7b7d', $1, '\\x5b5d', 0, 1, 1, $1, 0, 0, 0, $1, $1, now()) ON CONFLICT DO NOTHING", z)
    await conn.execute(
        "INSERT INTO ledger_events (leaf_index, event_id, height, leaf, leaf_hash, type, subject, participant,"
        " event_time, raw_partition, raw_offset) VALUES (900000, gen_random_uuid(), 900000, '\\x7b7d', $1,"
        " 't', 's', 'p', now(), 0, 0) ON CONFLICT DO NOTHING", z)
    await conn.execute("INSERT INTO ledger_nodes (level, idx, hash) VALUES (1, 900000, $1) ON CONFLICT DO NOTHING", z)


@pytest.mark.parametrize(
    ("table", "column"), [("ledger_blocks", "height"), ("ledger_events", "leaf_index"), ("ledger_nodes", "idx")]
)
@pytest.mark.parametrize("statement", ["UPDATE {t} SET {c} = {c} + 1", "DELETE FROM {t}", "TRUNCATE {t}"])
async def test_ledger_tables_refuse_update_delete_truncate(
    pg_admin_url: str, table: str, column: str, statement: str
) -> None:
    admin = await asyncpg.connect(pg_admin_url)
    name = "cc_append_only_probe"
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    conn = await asyncpg.connect(with_database(pg_admin_url, name))
    try:
        await migrate(conn)
        await _insert_one_row_each(conn)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute(statement.format(t=table, c=column))
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 1
    finally:
        await conn.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_a_changed_applied_migration_refuses_to_start(database_url: str) -> None:
    from services.store.migrate import MigrationMismatch

    conn = await asyncpg.connect(database_url)
    try:
        first = available()[0]
        stored = await conn.fetchval("SELECT checksum FROM schema_migrations WHERE version = $1", first.version)
        assert stored == first.checksum  # recorded when applied
        await conn.execute("UPDATE schema_migrations SET checksum = NULL WHERE version = $1", first.version)
        assert await migrate(conn) == []  # a database from before checksums: the shipped file's is recorded
        assert await conn.fetchval("SELECT checksum FROM schema_migrations WHERE version = 1") == first.checksum
        await conn.execute("UPDATE schema_migrations SET checksum = $2 WHERE version = $1", first.version, "0" * 64)
        with pytest.raises(MigrationMismatch, match=first.filename):
            await migrate(conn)
        await conn.execute("UPDATE schema_migrations SET checksum = $2 WHERE version = $1", first.version,
                           first.checksum)
    finally:
        await conn.close()
