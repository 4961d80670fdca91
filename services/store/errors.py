"""Store errors. asyncpg exceptions never leave ``services.store``; callers catch these.

    StoreError
     ├── ChainConflict      another writer sealed this height first (or the head moved): stop, do not retry
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


class StoreUnavailable(StoreError):
    retriable = True
