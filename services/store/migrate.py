"""Versioned, idempotent SQL migrations applied under a PostgreSQL advisory lock.

Files ``migrations/NNNN_name.sql`` are applied in order, each in its own transaction, and recorded in
``schema_migrations`` with the SHA-256 of the file's text. A shipped file whose checksum differs from the one
recorded when it was applied stops :func:`migrate` (:class:`MigrationMismatch`): an applied migration is never
edited, a change is a new file. Several processes may call :func:`migrate` at once: the advisory lock serialises them
and the later ones find nothing left to do.

The set of applied versions is what counts, not the highest one: a file numbered below one already applied (0006,
added after 0021) is applied by the next run. After every run the service roles are created where missing and
granted their privileges again (``coalchain_ensure_roles()``, ``coalchain_grant_privileges()``, migration 0006):
tables created by any migration, whatever its number, get them, and so does a database restored without them.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

log = logging.getLogger(__name__)

MIGRATION_LOCK_ID = 0x7A1C_0A1  # pg_advisory_lock key for migrations
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationMismatch(RuntimeError):
    """An applied migration's file changed since it was applied; the message names the file."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()

    @property
    def filename(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"


def available() -> list[Migration]:
    """Every migration shipped with the package, in version order."""
    found: list[Migration] = []
    for entry in resources.files("services.store").joinpath("migrations").iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


async def migrate(conn: asyncpg.Connection, *, roles: bool = True) -> list[int]:
    """Apply pending migrations; return the versions applied by this call. ``roles``: then create the service
    roles that are missing and grant them their privileges (``COALCHAIN_DB_ROLES``)."""
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_ID)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),"
            " checksum text)"
        )
        await conn.execute("ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text")
        rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
        done = {r["version"]: r["checksum"] for r in rows}
        shipped = available()
        for mig in shipped:
            recorded = done.get(mig.version, mig.checksum)
            if recorded is None:  # applied before checksums were recorded: record the shipped file's
                await conn.execute("UPDATE schema_migrations SET checksum = $2 WHERE version = $1", mig.version,
                                   mig.checksum)
                log.info("recorded the checksum of migration %s", mig.filename)
            elif recorded != mig.checksum:
                raise MigrationMismatch(
                    f"migration {mig.filename} differs from the file applied to this database (recorded sha256"
                    f" {recorded[:16]}…, shipped {mig.checksum[:16]}…): applied migrations are never edited;"
                    " restore the original file and put the change in a new migration")
        applied: list[int] = []
        for mig in shipped:
            if mig.version in done:
                continue
            async with conn.transaction():
                await conn.execute(mig.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    mig.version, mig.name, mig.checksum,
                )
            log.info("applied migration %04d_%s", mig.version, mig.name)
            applied.append(mig.version)
        if roles and await conn.fetchval("SELECT to_regprocedure('coalchain_grant_privileges()') IS NOT NULL"):
            async with conn.transaction():
                await conn.execute("SELECT coalchain_ensure_roles()")
            async with conn.transaction():
                await conn.execute("SELECT coalchain_grant_privileges()")
            log.debug("service roles present, their privileges granted")
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_ID)


async def create_database(admin_url: str, name: str) -> str:
    """Create database ``name`` on the server of ``admin_url``, migrate it, return its URL."""
    from services.db import with_database

    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = with_database(admin_url, name)
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return url


async def drop_database(admin_url: str, name: str) -> None:
    """Drop database ``name`` (closing its sessions) if it exists."""
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
