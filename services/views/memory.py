"""The views folded entirely in memory: the reference the PostgreSQL worker is checked against, and a quick
way to compute the views of a ledger offline (``MemoryViews().apply(block_message)`` for every block)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from services import blockmsg
from services.views import rows as rowops
from services.views.entities import Entity, EntityRef
from services.views.fold import Fold, needs, parse
from services.views.model import Line, Ref, Row, line


class MemoryViews:
    def __init__(self, ref: Line | None = None) -> None:
        self.line = ref or line()
        self.entities: dict[EntityRef, Entity | None] = {}
        self.rows: dict[Ref, Row] = {}
        self.height = -1

    def apply(self, msg: blockmsg.BlockMessage) -> dict[Ref, Row]:
        """Fold one block (a redelivered height changes nothing); return the rows it changed."""
        if msg.height <= self.height:
            return {}
        if msg.height != self.height + 1:
            raise ValueError(f"gap: block {msg.height} after {self.height}")
        return self.apply_events(msg.height, msg.events, int(msg.header["first_leaf_index"]))

    def apply_events(self, height: int, envelopes: Iterable[dict[str, Any]], first_leaf_index: int) -> dict[Ref, Row]:
        events, skipped = parse(envelopes, first_leaf_index)
        block = {ref: self.entities.get(ref) for ref in needs(events)}
        delta = Fold(height, block, self.line).apply(events, skipped)
        changed = rowops.apply(delta, {ref: self.rows.get(ref) for ref in delta.refs()})
        self.entities.update(delta.entities)
        self.rows.update(changed)
        self.height = height
        return changed

    def view(self, name: str) -> dict[tuple[str, ...], Row]:
        return {key: row for (v, key), row in self.rows.items() if v == name}
