"""Shared fixtures: ONE real broker and ONE real PostgreSQL per test session; a fresh database and a unique
topic prefix per test module. Nothing here mocks Kafka or PostgreSQL.

PostgreSQL: ``COALCHAIN_TEST_PG`` (a server URL, default ``postgresql://postgres@127.0.0.1:5432/postgres``) if
reachable, else an embedded pgserver in a temp dir. Broker: a tansu started here, on a free loopback port.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from services import devstack
from services.config import Settings
from services.kafka.topics import ensure_topics
from services.store.migrate import create_database, drop_database

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def _pg_reachable(url: str) -> bool:
    async def probe() -> bool:
        try:
            conn = await asyncio.wait_for(asyncpg.connect(url), 3)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        await conn.close()
        return True

    return asyncio.run(probe())


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("COALCHAIN_TEST_PG", DEFAULT_PG)
    if _pg_reachable(url):
        yield url
        return
    pg = devstack.EmbeddedPostgres(tmp_path_factory.mktemp("pgdata")).start()
    try:
        yield pg.url()
    finally:
        pg.stop()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[devstack.Broker]:
    b = devstack.Broker(devstack.free_port()).start(tmp_path_factory.mktemp("tansu") / "tansu.log")
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture(scope="module")
async def database_url(pg_admin_url: str, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh, migrated database for this test module, dropped afterwards."""
    name = f"cc_{request.module.__name__.rsplit('.', 1)[-1][:30]}_{uuid.uuid4().hex[:8]}".lower()
    url = await create_database(pg_admin_url, name)
    try:
        yield url
    finally:
        await drop_database(pg_admin_url, name)


@pytest.fixture(scope="module")
async def settings(
    database_url: str, broker: devstack.Broker, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """Settings for one test module: its own database, its own topics (unique prefix), its own home."""
    s = Settings(
        DATABASE_URL=database_url,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        kafka_topic_prefix=f"t{uuid.uuid4().hex[:8]}.",
        home=Path(tmp_path_factory.mktemp("home")),
        batch_timeout_ms=50,
        # fixtures replay simulated days from 2025 on: widen the validators' past window (the default, 45
        # days, is tested in tests/faults/test_hop.py)
        event_time_max_past_s=20 * 365 * 86_400,
    )
    await ensure_topics(s)
    return s


@pytest.fixture(scope="module")
async def make_database(pg_admin_url: str) -> AsyncIterator[Callable[[str], Awaitable[str]]]:
    """Factory for extra fresh, migrated databases in this module (a replica's, a re-seal's...)."""
    made: list[str] = []

    async def make(label: str) -> str:
        made.append(f"cc_{label}_{uuid.uuid4().hex[:8]}")
        return await create_database(pg_admin_url, made[-1])

    try:
        yield make
    finally:
        for name in made:
            await drop_database(pg_admin_url, name)
