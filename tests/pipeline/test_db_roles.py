"""The services work end to end as their least-privilege roles (migration 0006, services/db.py), and a service's
own credentials cannot cut the sealed chain short: validators, sequencer, views worker, API (with its
rejections recorder) and a replica run in-process against the real broker and PostgreSQL; every backend of
their databases belongs to a service role, never to the owner."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import asyncpg
import pytest

from chain_anchor.keys import KeyRing
from services import db
from services.config import Settings
from services.kafka import clients
from services.kafka.topics import Topics
from services.keyfiles import sequencer_signer
from services.ledger_check import BlockChecker
from services.registry import load_genesis
from services.replica.service import Replica
from services.sequencer.service import Sequencer
from services.simulator import SimConfig, simulate, to_json_bytes
from services.store.postgres import LedgerStore
from services.validator.worker import Validator
from services.verify import verify_ledger
from tests.pipeline.conftest import SEED, START
from tests.pipeline.helpers import api_server, running, tree_size, wait_until
from tests.views.stack import ledger_height, scalar, views_height, views_worker

pytestmark = pytest.mark.integration

N = 300


async def backend_users(url: str) -> set[str]:
    """The users of every other session on this URL's database."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = current_database()"
                                " AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
        return {r["usename"] for r in rows}
    finally:
        await conn.close()


def checker(settings: Settings) -> BlockChecker:
    registry = load_genesis(settings.genesis_file) if settings.genesis_file else None
    assert registry is not None
    keys = KeyRing([sequencer_signer(settings).public_key_raw])
    return BlockChecker(ledger_id=settings.ledger_id, sequencer_keys=keys, event_keys=registry.all_keys())


async def test_the_pipeline_runs_as_the_service_roles_and_they_cannot_cut_the_chain(
    deployment: Settings, make_database: Callable[[str], Coroutine[Any, Any, str]]
) -> None:
    assert deployment.db_roles  # the default: what every pipeline and faults test runs with
    events = list(itertools.islice(simulate(SimConfig(seed=SEED, start=START, time_compression=1440)), N))
    validator = Validator(deployment, load_genesis(deployment.genesis_file))  # type: ignore[arg-type]
    url = deployment.database_url
    async with running(Sequencer(deployment).run), running(validator.run), views_worker(deployment), \
            api_server(deployment):
        producer = clients.producer(deployment)
        await producer.start()
        try:
            raw = Topics.from_settings(deployment).raw
            futs = [await producer.send(raw, to_json_bytes(e), key=str(e["subject"]).encode()) for e in events]
            futs.append(await producer.send(raw, b"not an event", key=b"x"))  # rejected, recorded by the API
            await asyncio.gather(*futs)
        finally:
            await producer.stop()

        async def settled() -> bool:
            return (await tree_size(url) >= N and await views_height(url) == await ledger_height(url)
                    and await scalar(url, "SELECT count(*) FROM event_rejections") >= 1)

        await wait_until(settled, 90, f"{N} events sealed, folded into the views, one rejection recorded")
        users = await backend_users(url)
        assert {db.login_role(k) for k in ("sequencer", "validator", "views", "api")} <= users
        assert users <= {db.login_role(k) for k in db.ROLES}, users  # nothing connects as the owner

        # what a compromised sequencer could try with its own credentials, while it runs
        conn = await asyncpg.connect(db.url_for(deployment, "sequencer"))
        try:
            for attack in ("SET session_replication_role = replica",
                           "DELETE FROM ledger_blocks WHERE height = (SELECT max(height) FROM ledger_blocks)",
                           "TRUNCATE ledger_nodes", "DROP TABLE ledger_nodes",
                           "ALTER TABLE ledger_blocks DISABLE TRIGGER ledger_blocks_append_only"):
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(attack)
        finally:
            await conn.close()
    size = await tree_size(url)
    assert size >= N
    pool = await db.create_pool(deployment, role="reader", max_size=2)  # what `coalchain verify` connects as
    try:
        report = await verify_ledger(LedgerStore(pool), checker(deployment))
    finally:
        await pool.close()
    assert report.first_bad is None and report.events == size

    replica = deployment.model_copy(update={"database_url": await make_database("roles_replica")})
    async with running(Replica(replica, checker(deployment)).run):
        async def caught_up() -> bool:
            return await tree_size(replica.database_url) == size

        await wait_until(caught_up, 60, "the replica to catch up")
        assert await backend_users(replica.database_url) == {db.login_role("replica")}


async def _plans(pool: asyncpg.Pool, keys: str) -> str:
    """The plans of a subject lookup (``load_receipt_context``'s shape) for ``keys``: prepared while its table
    was empty and run past the five custom plans after which a generic one may be cached, then — the table
    grown to 50,000 rows, never analysed — planned both ways."""
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE t (subject text, leaf_index bigint PRIMARY KEY); CREATE INDEX ON t (subject)")
        await conn.execute("PREPARE q(text[]) AS SELECT leaf_index FROM t WHERE subject = ANY($1::text[])")
        for _ in range(8):
            await conn.execute(f"EXECUTE q({keys})")
        await conn.execute("INSERT INTO t SELECT 'SHP-' || g, g FROM generate_series(1, 50000) g")
        plans = []
        for mode in ("force_generic_plan", "force_custom_plan"):
            await conn.execute(f"SET plan_cache_mode = {mode}")
            plans += [r[0] for r in await conn.fetch(f"EXPLAIN EXECUTE q({keys})")]
        await conn.execute("DROP TABLE t")
    return "\n".join(plans)


async def test_index_lookups_do_not_depend_on_statistics_or_the_size_a_plan_was_cached_at(
    settings: Settings, make_database: Callable[[str], Awaitable[str]]
) -> None:
    """The validators' pool (``index_lookups=True``) looks a batch's keys up through the index on a table that
    grew under a prepared query and was never analysed; a default pool, on the same table, scans it all for
    the same keys (PostgreSQL estimates 134 keys at 67 % of the rows). No pool compiles a query with JIT."""
    url = await make_database("plans")
    local = settings.model_copy(update={"database_url": url})
    keys = "'{" + ",".join(f"SHP-{i * 7}" for i in range(134)) + "}'"  # a fetched batch's receipts
    lookups = await db.create_pool(local, max_size=1, index_lookups=True)
    default = await db.create_pool(local, max_size=1)
    try:
        async with lookups.acquire() as conn:
            assert await conn.fetchval("SHOW jit") == "off"
            assert await conn.fetchval("SHOW enable_seqscan") == "off"
        async with default.acquire() as conn:
            assert await conn.fetchval("SHOW jit") == "off"
        indexed, scanned = await _plans(lookups, keys), await _plans(default, keys)
    finally:
        await lookups.close()
        await default.close()
    assert "Seq Scan" not in indexed and indexed.count("t_subject_idx") == 2, indexed
    assert "Seq Scan on t" in scanned, scanned
