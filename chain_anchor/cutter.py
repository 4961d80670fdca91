"""Block cutter in the manner of Hyperledger Fabric's ``orderer/common/blockcutter``.

No I/O and no timer: the sequencer's loop owns ``batch_timeout_ms`` and calls :meth:`BlockCutter.cut` when
it expires. Sizes are passed in by the caller (normally ``len(leaf_bytes)``), so the cutter is generic over
the item type.

Limits (each a trade-off):

* ``max_events`` — at most this many events per block. An item may stand for several events (a validator's
  verdict record carries a batch of them and is never split across blocks): its ``count`` is its weight.
  Larger blocks amortise the per-block signature and database transaction; smaller ones lower latency and
  proof-plan work per block. An item heavier than ``max_events`` on its own is isolated in a block of its
  own, as an item above ``preferred_max_bytes`` is.
* ``preferred_max_bytes`` — a block is cut *before* an item that would take it past this size; an item
  larger than this on its own is isolated in a block of its own (Fabric semantics), so it never delays
  or bloats its neighbours.
* ``absolute_max_bytes`` — no item may exceed this (:class:`~chain_anchor.errors.ItemTooLarge`); it bounds
  the size of any block and of any Kafka message the sequencer publishes.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from chain_anchor.errors import CutterConfigError, CutterError, ItemTooLarge

__all__ = ["BlockCutter"]

T = TypeVar("T")


class BlockCutter(Generic[T]):
    """Groups ordered items into batches by count and size."""

    __slots__ = ("_absolute_max_bytes", "_max_events", "_pending", "_pending_bytes", "_pending_events",
                 "_preferred_max_bytes")

    def __init__(self, *, max_events: int, preferred_max_bytes: int, absolute_max_bytes: int) -> None:
        if max_events < 1:
            raise CutterConfigError(f"max_events must be >= 1, got {max_events}")
        if preferred_max_bytes < 1:
            raise CutterConfigError(f"preferred_max_bytes must be >= 1, got {preferred_max_bytes}")
        if absolute_max_bytes < preferred_max_bytes:
            raise CutterConfigError(
                f"absolute_max_bytes ({absolute_max_bytes}) must be >= preferred_max_bytes ({preferred_max_bytes})"
            )
        self._max_events = max_events
        self._preferred_max_bytes = preferred_max_bytes
        self._absolute_max_bytes = absolute_max_bytes
        self._pending: list[T] = []
        self._pending_bytes = 0
        self._pending_events = 0

    @property
    def pending_count(self) -> int:
        """Events (the items' counts summed) waiting in the pending batch."""
        return self._pending_events

    @property
    def pending_items(self) -> int:
        """Items waiting in the pending batch."""
        return len(self._pending)

    @property
    def pending_bytes(self) -> int:
        """Total size of the pending batch."""
        return self._pending_bytes

    def ordered(self, item: T, size_bytes: int, count: int = 1) -> tuple[list[list[T]], bool]:
        """Add the next item (standing for ``count`` events) in order; return ``(batches cut, pending?)``.

        Every possible return:

        * ``([], True)`` — the item joined the pending batch; nothing cut.
        * ``([batch], True)`` — the item would have pushed the pending batch past ``preferred_max_bytes`` or
          ``max_events``, so the pending batch was cut and the item starts a new pending batch.
        * ``([batch], False)`` — the item filled the pending batch to ``max_events`` and it was cut
          (the item is in ``batch``); or the item is larger than ``preferred_max_bytes`` or heavier than
          ``max_events`` and there was nothing pending: ``batch == [item]``.
        * ``([batch, [item]], False)`` — the item is larger than ``preferred_max_bytes`` or heavier than
          ``max_events``: the pending batch was cut, then the item was isolated in a batch of its own; or
          the item would have pushed the pending batch past a limit and, once alone, fills ``max_events``.

        No other return is possible: a cut before the item leaves exactly the new item pending.

        Raises :class:`ItemTooLarge` (nothing changes) if ``size_bytes > absolute_max_bytes``, and
        :class:`CutterError` if ``size_bytes`` is negative or ``count`` is below 1.
        """
        if size_bytes < 0:
            raise CutterError(f"size_bytes must be >= 0, got {size_bytes}")
        if count < 1:
            raise CutterError(f"count must be >= 1, got {count}")
        if size_bytes > self._absolute_max_bytes:
            raise ItemTooLarge(size_bytes, self._absolute_max_bytes)
        batches: list[list[T]] = []
        if size_bytes > self._preferred_max_bytes or count > self._max_events:
            if self._pending:
                batches.append(self.cut())
            batches.append([item])
            return batches, False
        if (self._pending_bytes + size_bytes > self._preferred_max_bytes
                or self._pending_events + count > self._max_events):
            batches.append(self.cut())
        self._pending.append(item)
        self._pending_bytes += size_bytes
        self._pending_events += count
        if self._pending_events >= self._max_events:
            batches.append(self.cut())
            return batches, False
        return batches, True

    def cut(self) -> list[T]:
        """Return the pending batch (possibly empty) and start a new one."""
        batch = self._pending
        self._pending = []
        self._pending_bytes = 0
        self._pending_events = 0
        return batch
