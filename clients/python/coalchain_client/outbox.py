"""A durable outbox (SQLite): a publisher that crashes resubmits by event id; the ledger seals an id once.

Write every signed event to the outbox *before* sending it (:meth:`Outbox.add`, committed), then
:func:`drain`: each event without a final outcome is (re)published and waited for, and its outcome is
recorded. After a crash, the next :func:`drain` resends what had no outcome yet: an event that was in fact
sealed comes back as sealed (a second copy is refused by the validators as a replay and never sealed twice).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from coalchain_client.client import Client, Outcome, Rejected
from coalchain_client.errors import ClientError

SCHEMA = """CREATE TABLE IF NOT EXISTS outbox (
    event_id TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'new',  -- new | sealed | rejected
    detail TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL
)"""


class Outbox:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        # autocommit: each statement is durable on return; usable from any one thread at a time
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def add(self, event: dict[str, Any]) -> bool:
        """Keep a signed event (durably) until it has an outcome; False if its id is already here."""
        seq = self._db.execute("SELECT coalesce(max(seq), 0) + 1 FROM outbox").fetchone()[0]
        cur = self._db.execute("INSERT OR IGNORE INTO outbox (event_id, event, seq) VALUES (?, ?, ?)",
                               (str(event["id"]), json.dumps(event, ensure_ascii=False), seq))
        return cur.rowcount == 1

    def unsettled(self) -> list[dict[str, Any]]:
        """Events without an outcome yet, in the order they were added."""
        rows = self._db.execute("SELECT event FROM outbox WHERE state = 'new' ORDER BY seq").fetchall()
        return [json.loads(r[0]) for r in rows]

    def attempted(self, event_id: str) -> None:
        self._db.execute("UPDATE outbox SET attempts = attempts + 1 WHERE event_id = ?", (event_id,))

    def settle(self, event_id: str, outcome: Outcome) -> None:
        detail = (json.dumps({"reason": outcome.reason, "detail": outcome.detail, "errors": outcome.errors})
                  if isinstance(outcome, Rejected) else json.dumps({"leaf_index": outcome.leaf_index}))
        self._db.execute("UPDATE outbox SET state = ?, detail = ? WHERE event_id = ?",
                         (outcome.status, detail, event_id))

    def state(self, event_id: str) -> tuple[str, int] | None:
        """(state, attempts) of an event, or None."""
        row = self._db.execute("SELECT state, attempts FROM outbox WHERE event_id = ?", (event_id,)).fetchone()
        return (str(row[0]), int(row[1])) if row else None


def drain(outbox: Outbox, client: Client, *, timeout_s: float = 30) -> dict[str, Outcome]:
    """Publish every unsettled event of ``outbox`` and record its outcome; return the outcomes.

    A :class:`~coalchain_client.errors.ClientError` while publishing or waiting leaves the event unsettled
    (and is raised): the next call resends it."""
    pending = outbox.unsettled()
    if not pending:
        return {}
    for e in pending:
        outbox.attempted(str(e["id"]))
    try:
        client.publish(pending)
    except ClientError:
        raise
    outcomes: dict[str, Outcome] = {}
    for e in pending:
        outcome = client.wait(str(e["id"]), event=e, timeout_s=timeout_s)
        outbox.settle(str(e["id"]), outcome)
        outcomes[str(e["id"])] = outcome
    return outcomes
