"""Reachability checks for the broker and the database, and :func:`readiness`, everything ``coalchain status``
and ``/healthz`` report."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

from services import db
from services.config import Settings
from services.kafka import clients


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


async def check_database(settings: Settings, timeout_s: float = 3.0, role: str | None = "reader") -> Check:
    try:
        conn = await asyncio.wait_for(asyncpg.connect(db.url_for(settings, role)), timeout_s)
        try:
            version = await conn.fetchval("SHOW server_version")
            height = None
            with contextlib.suppress(asyncpg.UndefinedTableError):
                height = await conn.fetchval("SELECT max(height) FROM ledger_blocks")
        finally:
            await conn.close()
        return Check("database", True, f"PostgreSQL {version}, ledger height {height}")
    except (OSError, asyncpg.PostgresError, TimeoutError, ValueError) as e:
        return Check("database", False, f"{type(e).__name__}: {e}")


async def check_broker(settings: Settings, timeout_s: float = 5.0) -> Check:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=int(timeout_s * 1000),
        **clients.security_kwargs(settings),
    )
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        topics = await asyncio.wait_for(admin.list_topics(), timeout_s)
        ours = sorted(t for t in topics if t.startswith(settings.topic("coal.")))
        return Check("broker", True, f"{settings.kafka_bootstrap_servers}, topics: {', '.join(ours) or 'none'}")
    except Exception as e:  # any client failure means "not reachable"; the detail says which
        return Check("broker", False, f"{type(e).__name__}: {e}")
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


async def check_all(settings: Settings, role: str | None = "reader") -> list[Check]:
    return list(await asyncio.gather(check_database(settings, role=role), check_broker(settings)))


@dataclass(frozen=True)
class Readiness:
    """Everything ``/healthz`` and ``coalchain status`` report: the same function for both, so they agree."""

    checks: list[Check]
    figures: dict[str, dict[str, object]]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


async def readiness(settings: Settings, role: str | None = "reader") -> Readiness:
    """Broker and database reachable; views caught up, not stalled, not fed forgeries; sealing and validation
    not stalled while events wait; and, beside a running ``coalchain up``, no service crash-looping and its
    embedded servers up. Liveness (the process answers) is ``GET /livez``, which none of this turns red."""
    from services.pipeline_health import check_pipeline, check_supervisor  # (they import Check from here)
    from services.views.health import check_views

    basics, views, pipeline = await asyncio.gather(check_all(settings, role), check_views(settings, role=role),
                                                   check_pipeline(settings, role=role))
    checks = [*basics, views.check, pipeline.sealing, pipeline.validation]
    supervisor = check_supervisor(settings)
    if supervisor is not None:
        checks.append(supervisor)
    return Readiness(checks, {"views": views.figures, **pipeline.figures})
