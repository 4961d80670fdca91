"""Receipt references (migration 0022): what the sequencer writes with each block
(:func:`services.store.refs.receipt_refs`) is exactly what the migration's back-fill derives in SQL from the
stored rows, for any leaf (property test); the migration back-fills an existing ledger, drops the four
expression indexes of 0003, and the store writes the references with the block, atomically. Real PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.store.errors import ChainConflict
from services.store.migrate import available, drop_database
from services.store.postgres import BlockRow, LedgerStore, SealedEvent
from services.store.refs import CONFIRMED, DISPUTED, ORDER, TRUCK, UNLOADED, receipt_refs

pytestmark = pytest.mark.integration

TYPES = [ORDER + "1", UNLOADED + "1", TRUCK + "1", TRUCK + "2", CONFIRMED + "1", DISPUTED + "1",
         "cn.taijiao.coal.transport.WagonsLoaded.v1",
         "cn.taijiao.coal.transport.TruckWeighedX.v1", "cn.taijiao.coal.transport.TruckWeighed", "x"]
_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12)
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), _text,
                    st.sampled_from(["outbound", "inbound", "O-1", "S-1"]))
_value = st.recursive(_scalar, lambda v: st.lists(v, max_size=2) | st.dictionaries(_text, v, max_size=2),
                      max_leaves=4)
_id = st.one_of(st.sampled_from(["O-1", "S-1", "outbound"]), _text, _value)
_fields = st.fixed_dictionaries({}, optional={
    "order_id": _id, "shipment_id": _id, "direction": st.one_of(st.sampled_from(["outbound", "inbound"]), _value),
    "note": st.sampled_from(["outbound", "x"]), "other": _value})
_data = st.one_of(_fields, _fields, _fields, _value)
_leaf = st.fixed_dictionaries({"id": st.just("e")}, optional={"data": _data, "note": st.just("outbound")})
_events = st.lists(st.tuples(st.sampled_from(TYPES), st.sampled_from(["p1", "p2"]), _leaf), min_size=1,
                   max_size=12)
_next_leaf = itertools.count()


def _bytes(doc: Any, compact: bool) -> bytes:
    text = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":") if compact else None)
    return text.encode()


async def _sql_refs(url: str, rows: list[tuple[int, str, str, bytes]]) -> set[tuple[str, str, int]]:
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            z = b"\x00" * 32
            await conn.executemany(
                "INSERT INTO ledger_events (leaf_index, event_id, height, leaf, leaf_hash, type, subject,"
                " participant, event_time, raw_partition, raw_offset) VALUES ($1, $2, 0, $3, $4, $5, 's', $6,"
                " now(), 0, $1)", [(i, uuid.uuid4(), leaf, z, t, p) for i, t, p, leaf in rows])
            await conn.fetchval("SELECT ledger_receipt_refs_backfill($1)", rows[0][0])
            got = await conn.fetch("SELECT kind, key, leaf_index FROM ledger_receipt_refs WHERE leaf_index >= $1",
                                   rows[0][0])
        return {(r["kind"], r["key"], r["leaf_index"]) for r in got}
    finally:
        await conn.close()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=_events, compact=st.booleans())
def test_the_sequencer_s_references_equal_the_back_fill_s(database_url: str, events: list[Any],
                                                          compact: bool) -> None:
    rows = [(next(_next_leaf), t, p, _bytes(doc, compact)) for t, p, doc in events]
    kinds, keys, leaves = receipt_refs(rows)
    assert len(set(zip(kinds, keys, leaves, strict=True))) == len(kinds)  # the table's primary key holds
    assert set(zip(kinds, keys, leaves, strict=True)) == asyncio.run(_sql_refs(database_url, rows))


def test_what_each_event_refers_to() -> None:
    out = receipt_refs([
        (0, ORDER + "1", "buyer-1", b'{"data":{"buyer_id":"buyer-1","order_id":"O-1"}}'),
        (1, UNLOADED + "1", "st", b'{"data":{"order_id":"O-1","shipment_id":"S-1"}}'),
        (2, TRUCK + "1", "st", b'{"data":{"direction":"outbound","order_id":"O-2","shipment_id":"S-2"}}'),
        (3, TRUCK + "1", "st", b'{"data":{"direction":"inbound","order_id":"O-2","shipment_id":"S-2"}}'),
        (4, TRUCK + "1", "st", b'{"data":{"direction":"inbound","note":"outbound","shipment_id":"S-2"}}'),
        (5, "cn.taijiao.coal.transport.WagonsLoaded.v1", "m", b'{"data":{"order_id":"O-1"}}'),
        (6, CONFIRMED + "1", "buyer-1", b'{"data":{"order_id":"O-1","shipment_id":"S-1"}}'),
    ])
    assert list(zip(*out, strict=True)) == [("order", "buyer-1", 0), ("unloading", "O-1", 1),
                                            ("truck_shipment", "S-2", 2), ("truck_order", "O-2", 2),
                                            ("answer", "buyer-1", 6)]


async def test_the_migration_back_fills_an_existing_ledger_and_drops_the_indexes(pg_admin_url: str) -> None:
    """A ledger sealed before 0022 (its rows stored with the 0003 indexes): migrating it fills the references."""
    from services.db import with_database

    name = f"cc_refs_upgrade_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(pg_admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    conn = await asyncpg.connect(with_database(pg_admin_url, name))
    try:
        from services.store.migrate import migrate

        await conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                           " applied_at timestamptz NOT NULL DEFAULT now(), checksum text)")
        for mig in available():
            if mig.version < 22:
                await conn.execute(mig.sql)
                await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2, now(), $3)", mig.version,
                                   mig.name, mig.checksum)
        receipt_indexes = "SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'ledger_events_receipts%'"
        assert await conn.fetchval(receipt_indexes) == 4
        z = b"\x00" * 32
        rows = [(0, ORDER + "1", "buyer-1", b'{"data":{"order_id":"O-1"}}'),
                (1, UNLOADED + "1", "st", b'{"data":{"order_id":"O-1","shipment_id":"S-1"}}'),
                (2, TRUCK + "1", "st", b'{"data":{"direction":"outbound","order_id":"O-2","shipment_id":"S-2"}}'),
                (3, TRUCK + "1", "st", b'{"data":{"direction":"inbound","order_id":"O-2","shipment_id":"S-3"}}')]
        await conn.executemany(
            "INSERT INTO ledger_events (leaf_index, event_id, height, leaf, leaf_hash, type, subject, participant,"
            " event_time, raw_partition, raw_offset) VALUES ($1, $2, 0, $3, $4, $5, 's', $6, now(), 0, $1)",
            [(i, uuid.uuid4(), leaf, z, t, p) for i, t, p, leaf in rows])
        assert 22 in await migrate(conn, roles=False)
        got = await conn.fetch("SELECT kind, key, leaf_index FROM ledger_receipt_refs ORDER BY leaf_index, kind")
        assert [tuple(r) for r in got] == [("order", "buyer-1", 0), ("unloading", "O-1", 1),
                                           ("truck_order", "O-2", 2), ("truck_shipment", "S-2", 2)]
        assert sorted(zip(*receipt_refs(rows), strict=True)) == sorted(tuple(r) for r in got)
        assert await conn.fetchval(receipt_indexes) == 0
        assert "toast_tuple_target=8160" in await conn.fetchval(
            "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'ledger_events'")
    finally:
        await conn.close()
        await drop_database(pg_admin_url, name)


def _block(height: int, first: int, count: int) -> BlockRow:
    z = b"\x00" * 32
    return BlockRow(height=height, header=b"{}", header_hash=bytes([height + 1]) * 32, signatures=b"[]",
                    first_leaf_index=first, leaf_count=count, tree_size=first + count, log_root=z, source_partition=0,
                    first_offset=first, last_offset=first + count - 1, compact_range=z, checkpoint=b"c",
                    sealed_at=datetime(2026, 1, 1, tzinfo=UTC))


def _event(i: int, event_type: str, leaf: bytes) -> SealedEvent:
    return SealedEvent(i, str(uuid.uuid4()), leaf, b"\x01" * 32, event_type, "s", "buyer-1",
                       datetime(2026, 1, 1, tzinfo=UTC), 0, i, i, 0)


async def test_append_writes_block_nodes_references_and_events_or_nothing(database_url: str) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        store = LedgerStore(pool)
        base = await pool.fetchval("SELECT coalesce(max(leaf_index), 1000000) + 1 FROM ledger_events")
        head = await pool.fetchval("SELECT coalesce(max(height), -1) FROM ledger_blocks")
        ticket = b'{"data":{"direction":"outbound","order_id":"O-9","shipment_id":"S-9"}}'
        events = [_event(base, ORDER + "1", b'{"data":{}}'), _event(base + 1, TRUCK + "1", ticket)]
        await store.append(_block(head + 1, base, 2), events, [(1, base // 2, b"\x02" * 32)])
        assert await pool.fetchval("SELECT count(*) FROM ledger_receipt_refs WHERE leaf_index >= $1", base) == 3
        assert await pool.fetchval("SELECT count(*) FROM ledger_events WHERE leaf_index >= $1", base) == 2
        node = "SELECT hash FROM ledger_nodes WHERE level = 1 AND idx = $1"
        assert await pool.fetchval(node, base // 2) == b"\x02" * 32
        # a height that is not the next one: nothing of it is stored
        later = [_event(base + 2, ORDER + "1", b'{"data":{}}')]
        for wrong in (head + 1, head + 3):
            with pytest.raises(ChainConflict):
                await store.append(_block(wrong, base + 2, 1), later, [(1, base // 2 + 1, b"\x03" * 32)])
        assert await pool.fetchval("SELECT count(*) FROM ledger_receipt_refs WHERE leaf_index >= $1", base + 2) == 0
        assert await pool.fetchval(node, base // 2 + 1) is None
        assert await pool.fetchval("SELECT max(height) FROM ledger_blocks") == head + 1
    finally:
        await pool.close()


async def test_the_registry_fold_uses_the_registry_index(database_url: str) -> None:
    """The partial index of migration 0022 lists exactly the catalogue's registry types, and the fold's query
    (services/registry.py) uses it in a generic plan too — the plan PostgreSQL's cache switches a prepared
    statement to; with the types as a parameter the generic plan walked every row after the last registry
    event (~1 s per call at 1 M events)."""
    import schemas
    from services.registry import registry_fold_sql

    types = sorted(t.type for t in schemas.catalogue() if t.area == "registry")
    conn = await asyncpg.connect(database_url)
    try:
        definition = await conn.fetchval("SELECT indexdef FROM pg_indexes WHERE indexname = 'ledger_events_registry'")
        assert sorted(re.findall(r"'([^']+)'::text", definition)) == types
        assert await conn.fetchval("SELECT count(*) FROM pg_indexes WHERE indexname = 'ledger_events_type'") == 0
        await conn.execute("SET enable_seqscan = off")
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE fold(bigint) AS {registry_fold_sql()}")
        plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN EXECUTE fold(-1)"))
        assert "ledger_events_registry" in plan, plan
        assert await conn.fetch(registry_fold_sql(), -1) == []
    finally:
        await conn.close()
