"""The standard read path: C2SP tlog-tiles under ``/tlog/``, plus block events, the trust set and witnesses.

* ``GET /tlog/checkpoint`` — the newest cosigned checkpoint (C2SP signed note; the head's sequencer-signed
  one while nothing is cosigned yet).
* ``GET /tlog/tile/<L>/<N>[.p/<W>]`` — hash tiles: hash ``i`` of tile ``N`` at level ``L`` is the Merkle
  tree hash of leaves ``[(N·256 + i)·256^L, (N·256 + i + 1)·256^L)``, read from the stored perfect subtree
  roots (``ledger_nodes`` level ``8·L``; level 0 from the leaf hashes) in one indexed range read.
* ``GET /tlog/tile/entries/<N>[.p/<W>]`` — entry bundles: each leaf's exact bytes, big-endian uint16
  length first.
* ``GET /v1/blocks/{height}/events`` — a block's events with their leaf indices and hashes.
* ``GET /v1/trust`` — the trust set, as the trust file ``coalchain trust export`` writes.
* ``GET /v1/checkpoint/cosigned`` — the newest cosigned checkpoint with who cosigned it (JSON).
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from services.api.deps import SettingsDep, StoreDep
from services.keyfiles import sequencer_signer
from services.registry import fold_sealed_registry_events, from_genesis, participants_json
from services.store.postgres import LedgerStore
from services.trust import trust_json
from services.witness.config import load_witnesses_config
from services.witness.store import latest_cosigned

router = APIRouter(tags=["tlog"])

TILE_WIDTH = 256
MAX_ENTRY_BYTES = 65_535
_NOTE: dict[int | str, dict[str, Any]] = {200: {
    "description": "a C2SP signed note (tlog-checkpoint) with any witness cosignatures",
              "content": {"text/plain": {"schema": {"type": "string"}}}}}
_BYTES: dict[int | str, dict[str, Any]] = {200: {
    "description": "a hash tile (32-byte hashes) or an entry bundle (uint16-length-prefixed entries)",
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}
_IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
_ELEMENT = re.compile(r"x?[0-9]{3}", re.ASCII)
_WIDTH = re.compile(r"[1-9][0-9]{0,2}", re.ASCII)
_LEVEL = re.compile(r"0|[1-9][0-9]?", re.ASCII)


def encode_tile_index(n: int) -> str:
    """``1234067`` -> ``x001/x234/067`` (zero-padded 3-digit elements, all but the last prefixed ``x``)."""
    parts = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        parts.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(parts))


def tile_path(level: int | str, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]`` (level ``"entries"`` for entry bundles)."""
    return f"tile/{level}/{encode_tile_index(index)}" + ("" if width == TILE_WIDTH else f".p/{width}")


def parse_tile_path(rest: str) -> tuple[str, int, int]:
    """``<L or entries>/<N>[.p/<W>]`` -> (level, index, width); ValueError if not canonical."""
    width = TILE_WIDTH
    if ".p/" in rest:
        rest, _, w = rest.partition(".p/")
        if not _WIDTH.fullmatch(w) or int(w) > 255:
            raise ValueError("partial width must be 1..255 without leading zeroes")
        width = int(w)
    level, _, encoded = rest.partition("/")
    if level != "entries" and (not _LEVEL.fullmatch(level) or int(level) > 63):
        raise ValueError("level must be 0..63 or 'entries'")
    elements = encoded.split("/")
    if not all(_ELEMENT.fullmatch(e) for e in elements):
        raise ValueError("tile index must be 3-digit path elements")
    index = int("".join(e.lstrip("x") for e in elements))
    if encode_tile_index(index) != encoded:
        raise ValueError("tile index is not canonically encoded")
    return level, index, width


def _available(tree_size: int, level: int, index: int) -> int:
    """How many hashes tile ``index`` at ``level`` has in a tree of ``tree_size`` (0..256)."""
    covered: int = tree_size // (1 << (8 * level))
    return max(0, min(TILE_WIDTH, covered - index * TILE_WIDTH))


async def _tree_size(store: LedgerStore) -> int:
    head = await store.head()
    return int(head.tree_size) if head else 0


@router.get("/tlog/checkpoint", response_class=Response, responses=_NOTE)
async def tlog_checkpoint(store: StoreDep) -> Response:
    cosigned = await latest_cosigned(store.pool)
    if cosigned is not None:
        note = cosigned.note
    else:
        head = await store.head()
        if head is None:
            raise HTTPException(404, "the ledger has no block yet")
        note = head.checkpoint
    return Response(note, media_type="text/plain; charset=utf-8", headers={"Cache-Control": "max-age=2"})


@router.get("/tlog/tile/{rest:path}", response_class=Response, responses=_BYTES)
async def tlog_tile(rest: str, store: StoreDep) -> Response:
    try:
        level, index, width = parse_tile_path(rest)
    except ValueError as e:
        raise HTTPException(404, f"not a tile path: {e}") from None
    start = index * TILE_WIDTH
    hash_level = 0 if level == "entries" else int(level)
    if _available(await _tree_size(store), hash_level, index) < width:
        raise HTTPException(404, "that tile does not exist (yet) at this width")
    if level == "entries":
        rows = await store.pool.fetch("SELECT leaf_index, leaf FROM ledger_events WHERE leaf_index >= $1"
                                      " AND leaf_index < $2 ORDER BY leaf_index", start, start + width)
        out = bytearray()
        for r in rows:
            leaf = bytes(r["leaf"])
            if len(leaf) > MAX_ENTRY_BYTES:
                raise HTTPException(422, f"entry {r['leaf_index']} is {len(leaf)} bytes, more than the 65,535 an"
                                    " entry bundle can carry; read it from /v1/blocks/{height}/events")
            out += len(leaf).to_bytes(2, "big") + leaf
        count, body = len(rows), bytes(out)
    elif hash_level == 0:
        rows = await store.pool.fetch("SELECT leaf_hash FROM ledger_events WHERE leaf_index >= $1"
                                      " AND leaf_index < $2 ORDER BY leaf_index", start, start + width)
        count, body = len(rows), b"".join(bytes(r["leaf_hash"]) for r in rows)
    else:
        rows = await store.pool.fetch("SELECT hash FROM ledger_nodes WHERE level = $1 AND idx >= $2 AND idx < $3"
                                      " ORDER BY idx", 8 * hash_level, start, start + width)
        count, body = len(rows), b"".join(bytes(r["hash"]) for r in rows)
    if count != width:
        raise HTTPException(500, f"the store holds {count} of the tile's {width} hashes")
    return Response(body, media_type="application/octet-stream", headers=_IMMUTABLE)


@router.get("/v1/blocks/{height}/events")
async def block_events(height: int, store: StoreDep) -> dict[str, Any]:
    row = await store.block(height)
    if row is None:
        raise HTTPException(404, f"no block at height {height}")
    leaves = await store.block_leaves(height)
    return {
        "height": height, "first_leaf_index": row.first_leaf_index, "leaf_count": row.leaf_count,
        "tree_size": row.tree_size,
        "events": [{"leaf_index": i, "leaf_hash": bytes(h).hex(), "event": json.loads(leaf)} for i, leaf, h in leaves],
    }


@router.get("/v1/trust")
async def trust(store: StoreDep, settings: SettingsDep) -> dict[str, Any]:
    genesis_path = settings.genesis_file or settings.home / "genesis.json"
    try:
        genesis = (json.loads(genesis_path.read_text(encoding="utf-8")) if genesis_path.exists()
                   else {"participants": []})
        key = sequencer_signer(settings).public_key_raw
        witnesses = load_witnesses_config(settings)
    except (OSError, ValueError) as e:
        raise HTTPException(503, f"the trust set is not available on this server: {e}") from None
    registry = from_genesis(genesis)
    await fold_sealed_registry_events(registry, store)
    return trust_json(settings.ledger_id, [key], {**genesis, "participants": participants_json(registry)},
                      [w.vkey for w in witnesses.witnesses], witnesses.quorum)


@router.get("/v1/checkpoint/cosigned")
async def cosigned_checkpoint(store: StoreDep) -> dict[str, Any]:
    row = await latest_cosigned(store.pool)
    if row is None:
        raise HTTPException(404, "no checkpoint has been cosigned by the witness quorum yet")
    return {"tree_size": row.tree_size, "root_hash": row.root_hash.hex(), "witnesses": row.witnesses,
            "cosigned_at": row.cosigned_at.isoformat(), "latency_ms": round(row.latency_ms, 1),
            "note": row.note.decode("utf-8")}
