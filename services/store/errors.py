"""Store errors. asyncpg exceptions never leave ``services.store``; callers catch these.

    StoreError
     ├── ChainConflict      another writer sealed this height first (or the head moved): stop, do not retry
     ├── EventAlreadySealed an event id of the block is in the ledger already: nothing stored, dedupe and retry
     └── StoreUnavailable   the database cannot be reached right now (retriable)
"""

from __future__ import annotations


class StoreError(RuntimeError):
    retriable = False


class ChainConflict(StoreError):
    """The block does not extend the stored head: another sequencer is (or was) active."""

    def __init__(self, height: int, detail: str) -> None:
        super().__init__(f"cannot seal height {height}: {detail}")
        self.height = height


class EventAlreadySealed(StoreError):
    """The unique index on ``ledger_events.event_id`` refused the block's COPY; nothing of the block was
    stored. The sequencer then looks its events up (:meth:`~services.sequencer.sealing.BlockSealer.dedupe`)."""

    def __init__(self, height: int, detail: str) -> None:
        super().__init__(f"cannot seal height {height}: {detail}")
        self.height = height


class StoreUnavailable(StoreError):
    retriable = True
