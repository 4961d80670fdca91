"""The cosigned checkpoints the publisher stored (table ``ledger_cosigned_checkpoints``, migration 0010)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True)
class CosignedRow:
    tree_size: int
    root_hash: bytes
    note: bytes
    witnesses: list[str]
    latency_ms: float
    cosigned_at: datetime


_COLUMNS = "tree_size, root_hash, note, witnesses, latency_ms, cosigned_at"


def _row(r: asyncpg.Record) -> CosignedRow:
    return CosignedRow(r["tree_size"], bytes(r["root_hash"]), bytes(r["note"]), list(r["witnesses"]),
                       float(r["latency_ms"]), r["cosigned_at"])


async def latest_cosigned(pool: asyncpg.Pool) -> CosignedRow | None:
    r = await pool.fetchrow(f"SELECT {_COLUMNS} FROM ledger_cosigned_checkpoints ORDER BY tree_size DESC LIMIT 1")
    return _row(r) if r else None


async def cosigned_at_or_after(pool: asyncpg.Pool, tree_size: int) -> CosignedRow | None:
    """The smallest cosigned checkpoint whose size is at least ``tree_size``."""
    r = await pool.fetchrow(f"SELECT {_COLUMNS} FROM ledger_cosigned_checkpoints WHERE tree_size >= $1"
                            " ORDER BY tree_size LIMIT 1", tree_size)
    return _row(r) if r else None


async def insert_cosigned(pool: asyncpg.Pool, tree_size: int, root_hash: bytes, note: bytes, witnesses: list[str],
                          latency_ms: float) -> bool:
    """Store one cosigned checkpoint; False if that size is already stored (a restarted publisher)."""
    status: str = await pool.execute(
        "INSERT INTO ledger_cosigned_checkpoints (tree_size, root_hash, note, witnesses, latency_ms)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tree_size) DO NOTHING",
        tree_size, root_hash, note, witnesses, latency_ms)
    return status.endswith(" 1")
