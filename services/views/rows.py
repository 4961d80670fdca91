"""Applying a :class:`~services.views.fold.BlockDelta` to view rows, and the figures derived from a row's own
figures (open demand, the gap). Pure."""

from __future__ import annotations

from collections.abc import Mapping

from services.views.fold import BlockDelta, rank
from services.views.model import Ref, Row, new_row


def apply(delta: BlockDelta, current: Mapping[Ref, Row | None]) -> dict[Ref, Row]:
    """The rows the delta changes, as their new values (``current`` must hold every ref of the delta;
    ``None`` for a row that does not exist yet). Every returned row carries ``height`` = the block's."""
    changed: dict[Ref, Row] = {}
    for ref in sorted(delta.refs()):
        old = current[ref]
        row = dict(old) if old is not None else new_row(ref)
        for name, value in delta.adds.get(ref, {}).items():
            row[name] = row.get(name, 0) + value
        row.update(delta.attrs.get(ref, {}))
        for name, latest in delta.latest.get(ref, {}).items():
            mine = row.get(name)
            if mine is None or rank(mine) <= rank(latest):
                row[name] = latest
        derive(ref[0], row)
        row.pop("height", None)
        before = {k: v for k, v in old.items() if k != "height"} if old is not None else None
        if row != before:
            row["height"] = delta.height
            changed[ref] = row
    return changed


def derive(view: str, row: Row) -> None:
    """Figures computed from the row's own figures."""
    if view == "demand":
        ordered = row.get("ordered_kg") or 0
        row["open_kg"] = max(0, ordered - row["loaded_kg"] - row["truck_kg"]) if row.get("status") == "open" else 0
    elif view == "gaps":
        demand, supply, capacity = row["demand_kg"], row["supply_kg"], row["capacity_kg"]
        row["gap_kg"] = demand - supply
        row["limit"] = ("rail" if capacity < demand else "loading") if supply < demand else None
