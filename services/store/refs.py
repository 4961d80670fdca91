"""Receipt references: what ``ledger_receipt_refs`` (migration 0022) holds for the events of a block.

The sequencer writes them in the block's own transaction (:meth:`services.store.postgres.LedgerStore.append`),
instead of PostgreSQL evaluating four partial expression indexes on every stored row. The definitions are
those of the migration's back-fill function ``ledger_receipt_refs_backfill``, and a property test holds the two
equal (tests/foundation/test_receipt_refs.py):

* ``order``: a DemandPosted, keyed by its publisher (the ``participant`` column);
* ``answer``: a DeliveryConfirmed or DeliveryDisputed, keyed by its publisher;
* ``unloading``: a WagonsUnloaded, keyed by ``/data/order_id`` when that is a JSON string;
* ``truck_shipment`` / ``truck_order``: a TruckWeighed whose bytes contain ``"outbound"`` and whose
  ``/data/direction`` is the string ``outbound``, keyed by ``/data/shipment_id`` / ``/data/order_id`` when a
  JSON string.

Only WagonsUnloaded and TruckWeighed are parsed at all, and weigh tickets only when their bytes say ``"outbound"``
(most tickets are inbound): the cost for every other event is one dict lookup of its type.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import msgspec

log = logging.getLogger(__name__)

__all__ = ["CONFIRMED", "DISPUTED", "ORDER", "REF_KINDS", "TRUCK", "UNLOADED", "RefRows", "receipt_refs"]

ORDER = "cn.taijiao.coal.demand.DemandPosted.v"
UNLOADED = "cn.taijiao.coal.transport.WagonsUnloaded.v"
TRUCK = "cn.taijiao.coal.transport.TruckWeighed.v"
CONFIRMED = "cn.taijiao.coal.receipt.DeliveryConfirmed.v"
DISPUTED = "cn.taijiao.coal.receipt.DeliveryDisputed.v"
REF_KINDS = ("order", "unloading", "truck_shipment", "truck_order", "answer")
_OUTBOUND = b'"outbound"'

_NONE, _ORDER, _UNLOADED, _TRUCK, _ANSWER = 0, 1, 2, 3, 4
_category: dict[str, int] = {}  # event type -> which of the above (filled on first sight)

RefRows = tuple[list[str], list[str], list[int]]  # kinds, keys, leaf indexes: three columns for unnest()


class _Data(msgspec.Struct):
    order_id: Any = None
    shipment_id: Any = None
    direction: Any = None


class _Leaf(msgspec.Struct):
    data: _Data | None = None


_decode = msgspec.json.Decoder(_Leaf).decode


def _categorise(event_type: str) -> int:
    c = _category.get(event_type)
    if c is None:
        c = (_ORDER if event_type.startswith(ORDER) else _UNLOADED if event_type.startswith(UNLOADED)
             else _TRUCK if event_type.startswith(TRUCK)
             else _ANSWER if event_type.startswith((CONFIRMED, DISPUTED)) else _NONE)
        if len(_category) < 10_000:  # the catalogue has a few dozen types; a flood of odd ones is not cached
            _category[event_type] = c
    return c


def _key(value: Any) -> str | None:
    """A JSON string that a PostgreSQL text column can hold (no NUL, no lone surrogate), else None."""
    if not isinstance(value, str) or "\x00" in value:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


def _data(leaf: bytes) -> _Data | None:
    try:
        return _decode(leaf).data
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None  # not an object with an object ``data``: nothing to refer to (PostgreSQL: NULL)


def receipt_refs(events: Iterable[tuple[int, str, str, bytes]]) -> RefRows:
    """The references of ``(leaf_index, type, participant, leaf)`` events, as three parallel columns."""
    kinds: list[str] = []
    keys: list[str] = []
    leaves: list[int] = []
    category = _category.get
    for leaf_index, event_type, participant, leaf in events:
        c = category(event_type)
        if c is None:
            c = _categorise(event_type)
        if not c:  # _NONE
            continue
        if c in (_ORDER, _ANSWER):
            kinds.append("order" if c == _ORDER else "answer")
            keys.append(participant)
            leaves.append(leaf_index)
            continue
        if c == _TRUCK and _OUTBOUND not in leaf:
            continue
        data = _data(leaf)
        if data is None:
            continue
        if c == _UNLOADED:
            if (k := _key(data.order_id)) is not None:
                kinds.append("unloading")
                keys.append(k)
                leaves.append(leaf_index)
        elif data.direction == "outbound":
            for kind, value in (("truck_shipment", data.shipment_id), ("truck_order", data.order_id)):
                if (k := _key(value)) is not None:
                    kinds.append(kind)
                    keys.append(k)
                    leaves.append(leaf_index)
    return kinds, keys, leaves
