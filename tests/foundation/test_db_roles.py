"""Least-privilege database roles (migration 0006, services/db.py): every service role is refused what would
rewrite the ledger — DROP, ALTER, UPDATE, DELETE, TRUNCATE, and silencing the append-only triggers with
``session_replication_role`` — while the owner (here a superuser) could do it. Real PostgreSQL, no mocks."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from services import db
from services.config import Settings
from services.store.migrate import available, create_database, drop_database, migrate

pytestmark = pytest.mark.integration

GROUPS = {kind: f"coalchain_{kind}" for kind in db.ROLES}
LEDGER = ("ledger_blocks", "ledger_events", "ledger_nodes", "ledger_receipt_refs", "ledger_cosigned_checkpoints",
          "sequencer_rotations")

# what each group role may do beyond SELECT (which every role has on every table): the policy, written out
WRITES: dict[str, dict[str, set[str]]] = {
    "sequencer": {t: {"INSERT"} for t in ("ledger_blocks", "ledger_events", "ledger_nodes", "ledger_receipt_refs")},
    "replica": {t: {"INSERT"} for t in ("ledger_blocks", "ledger_events", "ledger_nodes", "ledger_receipt_refs")},
    "validator": {"receipt_claims": {"INSERT"}},
    "api": {"event_rejections": {"INSERT"}},
    "views": {},  # filled below: every views_* table
    "witness": {"ledger_cosigned_checkpoints": {"INSERT"}},
    "reader": {},
}
PRIVILEGES = ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")

ATTACKS = [
    "DROP TABLE ledger_nodes",
    "SET session_replication_role = replica",
    "DELETE FROM ledger_blocks WHERE height = (SELECT max(height) FROM ledger_blocks)",
    "UPDATE ledger_events SET leaf = '\\x7b7d'",
    "UPDATE ledger_blocks SET signatures = '\\x5b5d'",
    "TRUNCATE ledger_blocks",
    "TRUNCATE ledger_nodes, ledger_events",
    "DELETE FROM ledger_receipt_refs",
    "UPDATE ledger_receipt_refs SET key = 'x'",
    "TRUNCATE ledger_receipt_refs",
    "ALTER TABLE ledger_blocks DISABLE TRIGGER ALL",
    "DROP TRIGGER ledger_blocks_append_only ON ledger_blocks",
    "DELETE FROM ledger_cosigned_checkpoints",
    "DELETE FROM sequencer_rotations",
    "DROP FUNCTION ledger_refuse_change() CASCADE",
    "CREATE TABLE public.planted (x int)",
]


@pytest.fixture(scope="module")
async def ledger_db(pg_admin_url: str) -> AsyncIterator[str]:
    """A migrated database holding one row in each ledger table (written by the owner)."""
    name = f"cc_roles_{uuid.uuid4().hex[:8]}"
    url = await create_database(pg_admin_url, name)
    conn = await asyncpg.connect(url)
    try:
        z = b"\x00" * 32
        await conn.execute(
            "INSERT INTO ledger_blocks (height, header, header_hash, signatures, first_leaf_index, leaf_count,"
            " tree_size, log_root, source_partition, first_offset, last_offset, compact_range, checkpoint,"
            " sealed_at) VALUES (0, '\\x7b7d', $1, '\\x5b5d', 0, 1, 1, $1, 0, 0, 0, $1, $1, now())", z)
        await conn.execute(
            "INSERT INTO ledger_events (leaf_index, event_id, height, leaf, leaf_hash, type, subject, participant,"
            " event_time, raw_partition, raw_offset) VALUES (0, gen_random_uuid(), 0, '\\x7b22223a307d', $1,"
            " 't', 's', 'p', now(), 0, 0)", z)
        await conn.execute("INSERT INTO ledger_nodes (level, idx, hash) VALUES (1, 0, $1)", z)
        await conn.execute("INSERT INTO ledger_receipt_refs (kind, key, leaf_index) VALUES ('order', 'p', 0)")
        await conn.execute("INSERT INTO ledger_cosigned_checkpoints (tree_size, root_hash, note, witnesses,"
                           " latency_ms) VALUES (1, $1, '\\x6e', '{w}', 1)", z)
        await conn.execute("INSERT INTO sequencer_rotations (effective_height, old_key_id, new_key_id, document)"
                           " VALUES (1, 'a', 'b', '\\x7b7d')")
    finally:
        await conn.close()
    try:
        yield url
    finally:
        await drop_database(pg_admin_url, name)


def role_settings(url: str) -> Settings:
    return Settings(DATABASE_URL=url)


async def counts(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in LEDGER}
    finally:
        await conn.close()


@pytest.mark.parametrize("kind", list(db.ROLES))
async def test_no_service_role_can_rewrite_the_ledger(ledger_db: str, kind: str) -> None:
    before = await counts(ledger_db)
    conn = await db.connect(role_settings(ledger_db), role=kind)
    try:
        assert await conn.fetchval("SELECT current_user") == db.login_role(kind)
        assert not await conn.fetchval("SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls"
                                       " FROM pg_roles WHERE rolname = current_user")
        for attack in ATTACKS:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(attack)
        assert await conn.fetchval("SHOW session_replication_role") == "origin"
        assert await conn.fetchval("SELECT count(*) FROM ledger_blocks") == 1  # it can read
    finally:
        await conn.close()
    assert await counts(ledger_db) == before


async def test_the_owner_could_so_the_refusals_are_the_roles_doing(ledger_db: str) -> None:
    """The threat is real: the superuser silences the triggers and deletes the newest block (rolled back)."""
    conn = await asyncpg.connect(ledger_db)
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("SET LOCAL session_replication_role = replica")
        assert await conn.execute("DELETE FROM ledger_blocks WHERE height = 0") == "DELETE 1"
        await tx.rollback()
        assert await conn.fetchval("SELECT count(*) FROM ledger_blocks") == 1
    finally:
        await conn.close()


async def test_each_role_has_exactly_its_privileges(ledger_db: str) -> None:
    conn = await asyncpg.connect(ledger_db)
    try:
        tables = [r["relname"] for r in await conn.fetch(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'")]
        expected = {k: dict(v) for k, v in WRITES.items()}
        expected["views"] = {t: {"INSERT", "UPDATE", "DELETE", "TRUNCATE"} for t in tables if t.startswith("views_")}
        assert len(expected["views"]) >= 12
        for kind, group in GROUPS.items():
            for table in tables:
                held = {p for p in PRIVILEGES
                        if await conn.fetchval("SELECT has_table_privilege($1, $2, $3)", group, table, p)}
                assert held == expected[kind].get(table, set()), (group, table)
                assert await conn.fetchval("SELECT has_table_privilege($1, $2, 'SELECT')", group, table)
            login = db.login_role(kind)
            assert await conn.fetchval("SELECT pg_has_role($1, $2, 'USAGE')", login, group)
            assert await conn.fetchval("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", login)
            assert not await conn.fetchval("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", group)
        assert await conn.fetchval("SELECT has_sequence_privilege('coalchain_api', 'event_rejections_id_seq',"
                                   " 'USAGE')")
        owner = await conn.fetchval("SELECT current_user")
        assert {r["tableowner"] for r in await conn.fetch(
            "SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")} == {owner}
    finally:
        await conn.close()


REF = "INSERT INTO ledger_receipt_refs (kind, key, leaf_index) VALUES ('unloading', 'O-1', 5)"


async def test_the_writes_each_service_makes_are_allowed(ledger_db: str) -> None:
    """Positive side of the matrix, as the login roles: what each service writes goes through (rolled back)."""
    z = b"\x01" * 32
    writes = {
        "sequencer": "INSERT INTO ledger_nodes (level, idx, hash) VALUES (2, 7, $1)",
        "replica": "INSERT INTO ledger_nodes (level, idx, hash) VALUES (2, 8, $1)",
        "witness": "INSERT INTO ledger_cosigned_checkpoints (tree_size, root_hash, note, witnesses, latency_ms)"
                   " VALUES (9, $1, '\\x6e', '{w}', 1)",
        "validator": "INSERT INTO receipt_claims (shipment_id, event_id, participant, type)"
                     " VALUES ('s', gen_random_uuid(), 'p', encode($1, 'hex'))",
        "api": "INSERT INTO event_rejections (rejected_partition, rejected_offset, reason, detail, stage,"
               " rejected_at) VALUES (0, 0, encode($1, 'hex'), '{}', 'validator', now())",
        "views": "UPDATE views_progress SET header_hash = encode($1, 'hex')",
    }
    for kind, sql in writes.items():
        conn = await db.connect(role_settings(ledger_db), role=kind)
        try:
            tx = conn.transaction()
            await tx.start()
            await conn.execute(sql, z)
            if kind == "views":
                await conn.execute("TRUNCATE views_entities")
            if kind in ("sequencer", "replica"):  # a block's receipt references, in the block's transaction
                await conn.execute(REF)
            await tx.rollback()
            other = "INSERT INTO ledger_nodes (level, idx, hash) VALUES (3, 1, $1)"
            if kind not in ("sequencer", "replica"):
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(other, z)
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(REF)
        finally:
            await conn.close()


async def test_a_migration_numbered_below_the_applied_ones_is_applied_with_its_grants(pg_admin_url: str) -> None:
    """A database migrated up to 0021 before 0006 existed: the next run applies 0006 (and the migrations after
    0021), and the grants reach the tables of later-numbered migrations too."""
    name = f"cc_roles_late_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(pg_admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    conn = await asyncpg.connect(db.with_database(pg_admin_url, name))
    try:
        await conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                           " applied_at timestamptz NOT NULL DEFAULT now(), checksum text)")
        for mig in available():
            if mig.version != 6 and mig.version <= 21:
                await conn.execute(mig.sql)
                await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2, now(), $3)", mig.version,
                                   mig.name, mig.checksum)
        await conn.execute("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM coalchain_api")  # as before 0006
        assert not await conn.fetchval("SELECT has_table_privilege('coalchain_api', 'event_rejections', 'INSERT')")
        assert await migrate(conn) == [6, *(m.version for m in available() if m.version > 21)]
        assert await conn.fetchval("SELECT has_table_privilege('coalchain_sequencer', 'ledger_receipt_refs',"
                                   " 'INSERT')")
        assert await conn.fetchval("SELECT has_table_privilege('coalchain_api', 'event_rejections', 'INSERT')")
        assert await conn.fetchval("SELECT has_table_privilege('coalchain_views', 'views_quarantined_events',"
                                   " 'INSERT')")
        assert await conn.fetchval("SELECT has_table_privilege('coalchain_witness', 'ledger_cosigned_checkpoints',"
                                   " 'INSERT')")
        assert await migrate(conn) == []
        # a database restored without its privileges (pg_restore --no-privileges): `coalchain migrate` restores them
        await conn.execute("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM coalchain_api, coalchain_sequencer")
        assert await migrate(conn) == []
        assert await conn.fetchval("SELECT has_table_privilege('coalchain_api', 'event_rejections', 'INSERT')")
        assert await conn.fetchval("SELECT has_table_privilege('coalchain_sequencer', 'ledger_blocks', 'INSERT')")
    finally:
        await conn.close()
        await drop_database(pg_admin_url, name)


async def test_concurrent_first_creation_of_the_roles_in_several_databases(pg_admin_url: str) -> None:
    """Roles are cluster-wide and the migration lock is per database: 0006's coalchain_ensure_roles, run at once
    in four databases under a fresh role prefix (so the roles really do not exist yet), creates each role once
    and fails in none of them (without its exception handlers three of the four fail: unique_violation)."""
    function = re.search(r"CREATE OR REPLACE FUNCTION coalchain_ensure_roles.*?END \$\$;",
                         next(m.sql for m in available() if m.version == 6), re.S)
    assert function is not None and "CREATE ROLE" in function.group(0)
    prefix = f"ccrace{uuid.uuid4().hex[:6]}_"
    names = [f"cc_roles_race_{uuid.uuid4().hex[:6]}" for _ in range(4)]
    admin = await asyncpg.connect(pg_admin_url)
    conns: list[asyncpg.Connection] = []
    try:
        for n in names:
            await admin.execute(f'CREATE DATABASE "{n}"')
        conns = [await asyncpg.connect(db.with_database(pg_admin_url, n)) for n in names]
        for c in conns:
            await c.execute(function.group(0))
        # each call is its own transaction: the later ones wait on the first's uncommitted roles, then meet them
        await asyncio.gather(*(c.execute("SELECT coalchain_ensure_roles($1)", prefix) for c in conns))
        made = await admin.fetch("SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE $1 ORDER BY 1",
                                 prefix + "%")
        assert len(made) == 2 * len(db.ROLES)
        assert sum(r["rolcanlogin"] for r in made) == len(db.ROLES)
    finally:
        for c in conns:
            await c.close()
        for n in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)')
        for r in await admin.fetch("SELECT rolname FROM pg_roles WHERE rolname LIKE $1 ORDER BY rolcanlogin DESC",
                                   prefix + "%"):
            await admin.execute(f'DROP ROLE "{r["rolname"]}"')
        await admin.close()


def test_service_urls_replace_the_user_and_keep_the_rest() -> None:
    s = Settings(DATABASE_URL="postgresql://coalchain:own%40er@pg:5432/coalchain?sslmode=require",
                 db_password_sequencer="s3q/ue:nc@r")
    assert db.url_for(s) == s.database_url
    assert db.url_for(s, "sequencer") == ("postgresql://coalchain_sequencer_login:s3q%2Fue%3Anc%40r@pg:5432"
                                          "/coalchain?sslmode=require")
    assert db.url_for(s, "reader") == "postgresql://coalchain_reader_login@pg:5432/coalchain?sslmode=require"
    sock = Settings(DATABASE_URL="postgresql://postgres:@/postgres?host=/home/x/pgdata")
    assert db.url_for(sock, "api") == "postgresql://coalchain_api_login@/postgres?host=/home/x/pgdata"
    query_user = Settings(DATABASE_URL="postgresql:///coalchain?host=/run/pg&user=coalchain&password=x")
    assert db.url_for(query_user, "views") == "postgresql://coalchain_views_login@/coalchain?host=/run/pg"
    off = s.model_copy(update={"db_roles": False})
    assert db.url_for(off, "sequencer") == s.database_url
    with pytest.raises(ValueError, match="unknown database role"):
        db.url_for(s, "root")


async def test_migrate_sets_the_passwords_given_as_scram_verifiers(ledger_db: str) -> None:
    """The verifier is computed here: PostgreSQL stores it as sent (it would hash a cleartext password itself,
    with its own salt), so the server never sees the password."""
    s = Settings(DATABASE_URL=ledger_db, db_password_reader="correct horse battery staple")
    conn = await asyncpg.connect(ledger_db)
    try:
        before = await conn.fetchval("SELECT rolpassword FROM pg_authid WHERE rolname = 'coalchain_reader_login'")
        assert await db.set_role_passwords(conn, s) == ["coalchain_reader_login"]
        stored = await conn.fetchval("SELECT rolpassword FROM pg_authid WHERE rolname = 'coalchain_reader_login'")
        assert stored.startswith("SCRAM-SHA-256$4096:")
        salt = __import__("base64").b64decode(stored.split(":")[1].split("$")[0])
        assert stored == db.scram_sha256_verifier("correct horse battery staple", salt=salt)
    finally:
        await conn.execute(f"ALTER ROLE coalchain_reader_login PASSWORD {'NULL' if before is None else repr(before)}")
        await conn.close()
    with pytest.raises(ValueError, match="ASCII"):
        db.scram_sha256_verifier("煤炭")


async def test_the_compose_init_script_keeps_each_role_to_its_database(pg_admin_url: str) -> None:
    """infra/postgres-init.sql, as the postgres image runs it (psql, one statement at a time), under scratch
    database names: the replica role reaches only the replica's database, the sequencer only the ledger's."""
    import shutil
    import subprocess

    psql = shutil.which("psql")
    if psql is None:
        pytest.skip("no psql client")
    main, rep = f"cc_init_{uuid.uuid4().hex[:6]}", f"cc_init_rep_{uuid.uuid4().hex[:6]}"
    sql = (Path(__file__).resolve().parents[2] / "infra" / "postgres-init.sql").read_text(encoding="utf-8")
    assert "CREATE DATABASE coalchain_replica OWNER coalchain;" in sql
    sql = (sql.replace("DATABASE coalchain_replica", f"DATABASE {rep}")
           .replace("DATABASE coalchain ", f"DATABASE {main} ").replace("OWNER coalchain", "OWNER postgres"))
    admin_main = db.with_database(pg_admin_url, main)
    admin = await asyncpg.connect(pg_admin_url)
    await admin.execute(f'CREATE DATABASE "{main}"')
    try:
        done = subprocess.run([psql, "-v", "ON_ERROR_STOP=1", "-q", admin_main], input=sql, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        for url in (admin_main, db.with_database(pg_admin_url, rep)):
            conn = await asyncpg.connect(url)
            try:
                await migrate(conn)
            finally:
                await conn.close()
        allowed = {(main, "sequencer"), (main, "api"), (main, "reader"), (rep, "replica"), (rep, "reader")}
        for name in (main, rep):
            for kind in ("sequencer", "api", "replica", "reader"):
                s = role_settings(db.with_database(pg_admin_url, name))
                if (name, kind) in allowed:
                    conn = await db.connect(s, role=kind)
                    assert await conn.fetchval("SELECT count(*) FROM ledger_blocks") == 0
                    await conn.close()
                else:
                    with pytest.raises(OSError, match="permission denied for database"):
                        await db.connect(s, role=kind)
    finally:
        for name in (main, rep):
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_a_password_set_by_migrate_authenticates_with_scram(tmp_path: Path) -> None:
    """On a server that asks the reader role for a SCRAM password (an embedded PostgreSQL started here, never
    the shared one): the password `migrate` set lets the service in; a wrong one and none are refused."""
    from services import devstack

    pg = devstack.EmbeddedPostgres(tmp_path / "pgdata").start()
    try:
        s = Settings(DATABASE_URL=pg.url(), db_password_reader="Tr0ub4dor&3-horse")
        assert 6 in await db.migrate_database(s)
        admin = await asyncpg.connect(pg.url())
        try:
            hba = Path(await admin.fetchval("SHOW hba_file"))
            hba.write_text("local all coalchain_reader_login scram-sha-256\n" + hba.read_text(encoding="utf-8"),
                           encoding="utf-8")
            await admin.execute("SELECT pg_reload_conf()")
        finally:
            await admin.close()
        for _ in range(50):  # the postmaster re-reads pg_hba.conf on SIGHUP, asynchronously
            try:
                await (await db.connect(s.model_copy(update={"db_password_reader": ""}), role="reader")).close()
            except OSError:
                break
            await asyncio.sleep(0.1)
        conn = await db.connect(s, role="reader")
        try:
            assert await conn.fetchval("SELECT current_user") == "coalchain_reader_login"
        finally:
            await conn.close()
        for bad in ("wrong", ""):
            with pytest.raises(OSError, match=r"password authentication failed|no password"):
                await db.connect(s.model_copy(update={"db_password_reader": bad}), role="reader")
    finally:
        pg.stop()
