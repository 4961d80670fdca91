"""Database connection helpers: one place that knows how to reach PostgreSQL, and as which role.

``DATABASE_URL`` names the database and the role that owns its tables: migrations (``coalchain migrate``,
``up``, ``init``) and operator commands (``rotate``) connect with it as given. A service passes its ``role``
(a kind of :data:`ROLES`): it then connects as ``coalchain_<kind>_login``, a member of the group role
``coalchain_<kind>`` that migration 0006 grants exactly what that service reads and writes. The URL is
DATABASE_URL with the user replaced and the password taken from ``COALCHAIN_DB_PASSWORD_<KIND>`` (none when
unset: trust, a client certificate or ``~/.pgpass``). ``COALCHAIN_DB_ROLES=false`` turns this off.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import asyncpg

from services.config import Settings
from services.errors import Unreachable, redact_url
from services.store.migrate import available, migrate

log = logging.getLogger(__name__)

# role kind -> what it does (docs/operations.md "Database roles"; the grants: migrations/0006_roles.sql)
ROLES: dict[str, str] = {
    "sequencer": "seals blocks: INSERT into the ledger tables",
    "replica": "keeps a verified copy: INSERT into the ledger tables of its own database",
    "validator": "INSERT receipt_claims",
    "api": "gateway and reads: INSERT event_rejections",
    "views": "INSERT, UPDATE, DELETE, TRUNCATE the views_* tables",
    "witness": "the cosigner: INSERT ledger_cosigned_checkpoints",
    "reader": "verify, reconcile, status, trust export: SELECT only",
}


def login_role(kind: str) -> str:
    """The LOGIN role a service of this kind connects as."""
    if kind not in ROLES:
        raise ValueError(f"unknown database role kind {kind!r} (one of {', '.join(ROLES)})")
    return f"coalchain_{kind}_login"


def url_for(settings: Settings, role: str | None = None) -> str:
    """The URL to connect with: DATABASE_URL as given for the owner (``role`` None) or with roles off; else
    DATABASE_URL with the user replaced by the role's login role and the password by its setting."""
    if role is None or not settings.db_roles:
        return settings.database_url
    return with_user(settings.database_url, login_role(role), getattr(settings, f"db_password_{role}"))


def with_user(url: str, user: str, password: str = "") -> str:
    """The same server URL with another user and password (none: ``password`` empty). Works for TCP,
    multi-host and unix-socket URLs; drops ``user``/``password`` query parameters."""
    parts = urlsplit(url)
    _, _, hosts = parts.netloc.rpartition("@")
    userinfo = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    params = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in params if k not in ("user", "password")]
    query = parts.query if len(kept) == len(params) else urlencode(kept, safe="/:,")
    return urlunsplit((parts.scheme, f"{userinfo}@{hosts}", parts.path, query, parts.fragment))


async def connect(settings: Settings, *, role: str | None = None) -> asyncpg.Connection:
    url = _url(settings, role)
    try:
        conn: asyncpg.Connection = await asyncpg.connect(url)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
        raise _unreachable(url, role if settings.db_roles else None, e) from e
    return conn


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A pool reset that adds nothing to asyncpg's own (which rolls back an open transaction)."""


# every pool: JIT compiles a query whose estimated cost passes jit_above_cost, milliseconds of CPU that only a
# long analytic scan wins back; on a table never analysed (autovacuum off) a lookup of a few keys can be
# estimated at most of the table and pay it on every run
_SESSION = {"jit": "off"}
# index_lookups=True: a process whose every query is a key lookup through an index
_LOOKUPS = {**_SESSION, "enable_seqscan": "off", "max_parallel_workers_per_gather": "0"}


async def create_pool(settings: Settings, *, role: str | None = None, min_size: int = 1,
                      max_size: int = 8, reset_session: bool = True, index_lookups: bool = False) -> asyncpg.Pool:
    """``reset_session=False``: a released connection keeps its session state instead of asyncpg's reset
    query (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL) — one round trip less per query through the pool.
    Only for users that set no session state: no SET, advisory lock, LISTEN or cursor outside a transaction
    (an open transaction is still rolled back).

    ``index_lookups=True``: the planner takes an index wherever one applies (``enable_seqscan = off``, no
    parallel workers). For a process whose queries all look keys up, this makes the plan independent of two
    things it cannot rely on: statistics (without ANALYZE — autovacuum off — PostgreSQL estimates
    ``subject = ANY($1)`` with 134 keys at 67 % of ``ledger_events`` and scans it all: 353 ms against 0.3 ms
    at 1 M rows) and the table's size when a plan was cached (asyncpg prepares each query once per
    connection; after five runs PostgreSQL may keep a generic plan costed on the table as it was, an empty
    one for a process that started with the ledger, until an ANALYZE invalidates it). Where no index
    applies the planner still scans."""
    url = _url(settings, role)
    reset = None if reset_session else _keep_session
    try:
        pool: asyncpg.Pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, reset=reset,
                                                       server_settings=_LOOKUPS if index_lookups else _SESSION)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
        raise _unreachable(url, role if settings.db_roles else None, e) from e
    return pool


def _url(settings: Settings, role: str | None) -> str:
    if not settings.database_url:
        raise RuntimeError("no database configured: set DATABASE_URL or run under `coalchain up`")
    return url_for(settings, role)


def _unreachable(url: str, role: str | None, e: BaseException) -> Unreachable:
    """The connection error as one line naming the database (password hidden). Still an ``OSError``."""
    why = getattr(e, "strerror", None) or str(e) or type(e).__name__
    how = f" as the {role} role (docs/operations.md \"Database roles\")" if role else ""
    return Unreachable(f"cannot connect to the database {redact_url(url)}{how}: {why}")


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database (works for TCP and unix-socket URLs)."""
    base, _, query = url.partition("?")
    head, _, _ = base.rpartition("/")
    return f"{head}/{database}" + (f"?{query}" if query else "")


async def migrate_database(settings: Settings) -> list[int]:
    """Apply pending migrations to the configured database as its owner (DATABASE_URL), then set the password
    of each service role whose ``COALCHAIN_DB_PASSWORD_<KIND>`` is given; return the versions applied."""
    conn = await connect(settings)
    try:
        applied = await migrate(conn, roles=settings.db_roles)
        if settings.db_roles:
            await set_role_passwords(conn, settings)
        return applied
    finally:
        await conn.close()


async def ensure_migrated(settings: Settings, *, role: str) -> list[int]:
    """Before a service starts: nothing pending (read as the service's own role) needs no owner credentials,
    so a production service never holds them; otherwise migrate as the owner (:func:`migrate_database`)."""
    if settings.db_roles and settings.database_url:
        try:
            conn = await asyncpg.connect(url_for(settings, role))
            try:
                done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            finally:
                await conn.close()
            if {m.version for m in available()} <= done:
                return []
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:  # no role or grants yet
            log.info("cannot read the applied migrations as the %s role (%s): migrating as the owner", role, e)
    return await migrate_database(settings)


async def set_role_passwords(conn: asyncpg.Connection, settings: Settings) -> list[str]:
    """``ALTER ROLE ... PASSWORD`` for every login role whose password setting is given; the password goes as a
    SCRAM-SHA-256 verifier computed here, so the server (and its statement log) never sees it. Returns the roles."""
    done: list[str] = []
    for kind in ROLES:
        password = getattr(settings, f"db_password_{kind}")
        if not password:
            continue
        name = login_role(kind)
        verifier = scram_sha256_verifier(password)
        await conn.execute(f"ALTER ROLE {name} PASSWORD '{verifier}'")  # name and verifier: [a-z_] and base64
        done.append(name)
    if done:
        log.info("set the passwords of %s", ", ".join(done))
    return done


def scram_sha256_verifier(password: str, *, iterations: int = 4096, salt: bytes | None = None) -> str:
    """The verifier PostgreSQL stores for a SCRAM-SHA-256 password (RFC 5802/7677; what ``\\password`` sends)."""
    if not (password.isascii() and password.isprintable()):  # PostgreSQL would SASLprep other characters first
        raise ValueError("a database role password must be printable ASCII")
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()

    def b64(b: bytes) -> str:
        return base64.b64encode(b).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"
