"""Receipt queries over the ledger tables.

Every function takes a :class:`LedgerStore` and an optional ``below`` leaf bound (only events with
``leaf_index < below`` count: the state of the ledger at that tree size). Events of a shipment by its id are
found by ``subject`` (index ``ledger_events_subject_leaf``); outbound weigh tickets by shipment or order, a
buyer's orders and answered receipts, and the unloadings of an order through ``ledger_receipt_refs``
(migration 0022, written by the sequencer with each block: :mod:`services.store.refs`). Whatever a reference
points to is read back from the leaf and checked again here (its shipment, order, direction, publisher): the
references only narrow the search.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator

import asyncpg

from schemas import ijson
from services.receipts.shipment import LedgerEvent, Shipment
from services.store.errors import StoreUnavailable
from services.store.postgres import LedgerStore

log = logging.getLogger(__name__)

__all__ = ["answered_receipts", "claim_receipt", "claim_receipts", "first_block_reaching", "load_order",
           "load_receipt_context", "load_shipment", "pending_shipment_ids", "unavailable_as_store_error"]

_ALL = 2**62
LOADED = "cn.taijiao.coal.transport.WagonsLoaded.v%"
UNLOADED = "cn.taijiao.coal.transport.WagonsUnloaded.v%"
TRUCK = "cn.taijiao.coal.transport.TruckWeighed.v%"
ORDER = "cn.taijiao.coal.demand.DemandPosted.v%"
ASSAY = "cn.taijiao.coal.inventory.LotAssayed.v%"
CONFIRMED = "cn.taijiao.coal.receipt.DeliveryConfirmed.v%"
DISPUTED = "cn.taijiao.coal.receipt.DeliveryDisputed.v%"

_BY_SUBJECT = """
SELECT leaf_index, height, leaf FROM ledger_events
 WHERE subject = $1 AND leaf_index < $2 AND (type LIKE $3 OR type LIKE $4 OR type LIKE $5 OR type LIKE $6)
"""
_TICKETS = """
SELECT e.leaf_index, e.height, e.leaf FROM ledger_receipt_refs r JOIN ledger_events e USING (leaf_index)
 WHERE r.kind = 'truck_shipment' AND r.key = $1 AND r.leaf_index < $2
"""
_OF_KIND = "SELECT leaf_index, height, leaf FROM ledger_events WHERE subject = $1 AND type LIKE $2 AND leaf_index < $3"


@contextlib.contextmanager
def unavailable_as_store_error() -> Iterator[None]:
    """Translate "the database cannot be reached" into :class:`StoreUnavailable` (retriable)."""
    try:
        yield
    except (OSError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError, asyncpg.InterfaceError) as e:
        raise StoreUnavailable(f"ledger database: {e}") from e


def _events(rows: Iterable[asyncpg.Record]) -> list[LedgerEvent]:
    return [LedgerEvent(ijson.loads(bytes(r["leaf"])), r["leaf_index"], r["height"]) for r in rows]


def _outbound(events: list[LedgerEvent]) -> list[LedgerEvent]:
    """The weigh tickets among ``events`` that say they are outbound (what a ``truck_*`` reference means)."""
    return [e for e in events if e.kind == "truck" and e.data.get("direction") == "outbound"]


async def load_shipment(store: LedgerStore, shipment_id: str, *, below: int | None = None) -> Shipment:
    """Every sealed event of the shipment (with ``leaf_index < below``): loading, unloading, weigh tickets,
    receipts, the order they name, and the latest lab report of the lot loaded."""
    bound = _ALL if below is None else below
    with unavailable_as_store_error():
        async with store.pool.acquire() as conn:
            rows = await conn.fetch(_BY_SUBJECT, shipment_id, bound, LOADED, UNLOADED, CONFIRMED, DISPUTED)
            tickets = _outbound(_events(await conn.fetch(_TICKETS, shipment_id, bound)))
            events = [e for e in _events(rows) + tickets if e.data.get("shipment_id") == shipment_id]
            partial = Shipment.from_events(shipment_id, events)
            if partial.order_id:
                orders = _events(await conn.fetch(_OF_KIND, partial.order_id, ORDER, bound))
                events += [e for e in orders if e.data.get("order_id") == partial.order_id]
            if partial.lot_id:
                lots = _events(await conn.fetch(_OF_KIND, partial.lot_id, ASSAY, bound))
                events += [e for e in lots if e.data.get("lot_id") == partial.lot_id]
    return Shipment.from_events(shipment_id, events)


async def load_order(store: LedgerStore, order_id: str) -> LedgerEvent | None:
    """The first sealed DemandPosted of ``order_id`` (None: none is sealed)."""
    with unavailable_as_store_error():
        rows = await store.pool.fetch(_OF_KIND, order_id, ORDER, _ALL)
    orders = [e for e in _events(rows) if e.data.get("order_id") == order_id]
    return min(orders, key=lambda e: e.leaf_index, default=None)


_BY_SUBJECTS = """
SELECT leaf_index, height, leaf FROM ledger_events
 WHERE subject = ANY($1::text[]) AND (type LIKE $2 OR type LIKE $3 OR type LIKE $4 OR type LIKE $5)
"""
_TICKETS_OF = """
SELECT e.leaf_index, e.height, e.leaf FROM ledger_receipt_refs r JOIN ledger_events e USING (leaf_index)
 WHERE r.kind = 'truck_shipment' AND r.key = ANY($1::text[])
"""
_ORDERS_IN = "SELECT leaf_index, height, leaf FROM ledger_events WHERE subject = ANY($1::text[]) AND type LIKE $2"


async def load_receipt_context(store: LedgerStore, shipment_ids: Iterable[str],
                               order_ids: Iterable[str] = ()) -> tuple[dict[str, Shipment], dict[str, LedgerEvent]]:
    """For a whole batch of receipts, in three queries on one connection: each shipment's sealed loading,
    unloading, weigh tickets, receipts and order (no lab reports: the ledger rules do not need them), and the
    first sealed DemandPosted of each order named (the shipments' and ``order_ids``)."""
    ids = sorted(set(shipment_ids))
    with unavailable_as_store_error():
        async with store.pool.acquire() as conn:
            rows = list(await conn.fetch(_BY_SUBJECTS, ids, LOADED, UNLOADED, CONFIRMED, DISPUTED)) if ids else []
            tickets = _outbound(_events(await conn.fetch(_TICKETS_OF, ids))) if ids else []
            by_shipment: dict[str, list[LedgerEvent]] = {i: [] for i in ids}
            for e in _events(rows) + tickets:
                sid = e.data.get("shipment_id")
                if sid in by_shipment:
                    by_shipment[str(sid)].append(e)
            partial = {i: Shipment.from_events(i, evs) for i, evs in by_shipment.items()}
            wanted = sorted({*order_ids, *(p.order_id for p in partial.values() if p.order_id)})
            order_rows = await conn.fetch(_ORDERS_IN, wanted, ORDER) if wanted else []
    orders: dict[str, LedgerEvent] = {}
    for e in sorted(_events(order_rows), key=lambda e: e.leaf_index):
        oid = e.data.get("order_id")
        if oid in wanted and oid not in orders:
            orders[str(oid)] = e
    shipments = {}
    for i, evs in by_shipment.items():
        order = orders.get(partial[i].order_id or "")
        shipments[i] = Shipment.from_events(i, [*evs, order] if order else evs)
    return shipments, orders


async def claim_receipts(store: LedgerStore, claims: list[tuple[str, str, str, str]]) -> dict[str, str]:
    """Claim each shipment for its receipt event, ``(shipment_id, event_id, participant, event_type)``, in
    order and in ONE transaction; return shipment id -> the event id holding the claim (the first claimant
    of this call, or an earlier one)."""
    if not claims:
        return {}
    with unavailable_as_store_error():
        async with store.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO receipt_claims (shipment_id, event_id, participant, type)"
                " SELECT s, e, p, t FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[])"
                " WITH ORDINALITY AS c(s, e, p, t, n) ORDER BY n ON CONFLICT DO NOTHING",
                *([c[k] for c in claims] for k in range(4)))
            rows = await conn.fetch("SELECT shipment_id, event_id::text AS event_id FROM receipt_claims"
                                    " WHERE shipment_id = ANY($1::text[])", sorted({c[0] for c in claims}))
    return {r["shipment_id"]: r["event_id"] for r in rows}


_ORDERS_OF = """
SELECT e.subject FROM ledger_receipt_refs r JOIN ledger_events e USING (leaf_index)
 WHERE r.kind = 'order' AND r.key = $1
"""
_NO_RECEIPT = f"""NOT EXISTS (SELECT 1 FROM ledger_events r WHERE r.subject = {{shipment}}
                    AND (r.type LIKE '{CONFIRMED}' OR r.type LIKE '{DISPUTED}'))"""
_PENDING_RAIL = f"""
SELECT u.subject FROM ledger_receipt_refs o JOIN ledger_events u USING (leaf_index)
 WHERE o.kind = 'unloading' AND o.key = ANY($1::text[])
   AND {_NO_RECEIPT.format(shipment="u.subject")}
 ORDER BY u.leaf_index
"""
_PENDING_TRUCK = f"""
SELECT t.shipment_id FROM (
    SELECT receipts_data_field(e.leaf, 'shipment_id') AS shipment_id, e.leaf_index
      FROM ledger_receipt_refs o JOIN ledger_events e USING (leaf_index)
     WHERE o.kind = 'truck_order' AND o.key = ANY($1::text[])) t
 WHERE {_NO_RECEIPT.format(shipment="t.shipment_id")}
 ORDER BY t.leaf_index
"""


async def pending_shipment_ids(store: LedgerStore, buyer_id: str) -> list[str]:
    """Candidate shipments of ``buyer_id``'s orders (its DemandPosted events) with no sealed receipt: those
    unloaded (WagonsUnloaded) and those delivered by truck (outbound weigh tickets), oldest first. The caller
    loads each one and keeps those whose buyer of the order is ``buyer_id``."""
    with unavailable_as_store_error():
        async with store.pool.acquire() as conn:
            orders = [r["subject"] for r in await conn.fetch(_ORDERS_OF, buyer_id)]
            if not orders:
                return []
            rail = [r["subject"] for r in await conn.fetch(_PENDING_RAIL, orders)]
            truck = [r["shipment_id"] for r in await conn.fetch(_PENDING_TRUCK, orders) if r["shipment_id"]]
    return list(dict.fromkeys(rail + truck))


_ANSWERED = """
SELECT e.leaf_index, e.height, e.leaf FROM ledger_receipt_refs r JOIN ledger_events e USING (leaf_index)
 WHERE r.kind = 'answer' AND r.key = $1
 ORDER BY r.leaf_index DESC LIMIT $2
"""


async def answered_receipts(store: LedgerStore, buyer_id: str, *, limit: int) -> list[LedgerEvent]:
    """The sealed DeliveryConfirmed / DeliveryDisputed events ``buyer_id`` signed, newest first."""
    with unavailable_as_store_error():
        events = _events(await store.pool.fetch(_ANSWERED, buyer_id, limit))
    return [e for e in events if e.kind == "receipt" and e.participant == buyer_id]


async def claim_receipt(store: LedgerStore, *, shipment_id: str, event_id: str, participant: str,
                        event_type: str) -> str:
    """Claim the shipment for this receipt event; return the event id that holds the claim (this one or an
    earlier one)."""
    with unavailable_as_store_error():
        async with store.pool.acquire() as conn, conn.transaction():
            await conn.execute(
            "INSERT INTO receipt_claims (shipment_id, event_id, participant, type) VALUES ($1, $2::uuid, $3, $4)"
                " ON CONFLICT DO NOTHING", shipment_id, event_id, participant, event_type)
            holder = await conn.fetchval("SELECT event_id::text FROM receipt_claims WHERE shipment_id = $1",
                                         shipment_id)
    return str(holder)


async def first_block_reaching(store: LedgerStore, tree_size: int) -> int | None:
    """Height of the first block whose tree size is at least ``tree_size`` (None: not sealed yet)."""
    with unavailable_as_store_error():
        height: int | None = await store.pool.fetchval(
            "SELECT height FROM ledger_blocks WHERE tree_size >= $1 ORDER BY tree_size LIMIT 1", tree_size)
    return height
