"""Read API: blocks, events, inclusion and consistency proofs, the signed checkpoint.

Every answer carries what a client needs to check it without trusting this server: canonical header bytes
and signatures, leaf bytes, proofs against signed roots. Hashes are lowercase hex.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import PlainTextResponse

from services.api.deps import StoreDep
from services.api.rejections import rejections_of_event
from services.store import proofs
from services.store.postgres import BlockRow, LedgerStore
from services.witness.store import latest_cosigned

router = APIRouter(prefix="/v1", tags=["ledger"])
REPLAY = "replay"  # the validators' reason code for an id accepted before


def block_json(row: BlockRow) -> dict[str, Any]:
    return {
        "height": row.height,
        "header": json.loads(row.header),
        "header_canonical": row.header.decode(),
        "header_hash": row.header_hash.hex(),
        "signatures": json.loads(row.signatures),
    }


async def _latest(store: LedgerStore) -> BlockRow:
    head = await store.head()
    if head is None:
        raise HTTPException(404, "the ledger has no block yet")
    return head


@router.get("/blocks/latest")
async def latest_block(store: StoreDep) -> dict[str, Any]:
    return block_json(await _latest(store))


@router.get("/blocks/{height}")
async def get_block(height: int, store: StoreDep) -> dict[str, Any]:
    row = await store.block(height)
    if row is None:
        raise HTTPException(404, f"no block at height {height}")
    return block_json(row)


def _parse_id(event_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(event_id)
    except ValueError:
        raise HTTPException(422, f"event_id: {event_id!r} is not a UUID") from None


@router.get("/events/{event_id}")
async def get_event(event_id: str, store: StoreDep) -> dict[str, Any]:
    """What became of an event: ``status`` is ``sealed`` (block, leaf, proof link), ``rejected`` (reason,
    path/rule errors, stage, time; every rejection of that id) or ``pending`` (neither yet: still being
    validated, or never received). ``rejections`` lists every rejection of bytes claiming this id (each with
    ``envelope_sha256``, so a publisher can tell its own); a ``replay`` rejection means that an event with
    this id was accepted before, so it leaves the status pending until that one is sealed."""
    eid = _parse_id(event_id)
    row = await store.event(eid)
    rejections = await rejections_of_event(store.pool, eid)
    final = [r for r in rejections if r["reason"] != REPLAY]  # a replay: the same id was accepted before
    if row is None:
        if not final:
            return {"status": "pending", "event_id": str(eid), "rejections": rejections,
                    "detail": "neither sealed nor rejected: still being validated, or never received"}
        last = final[-1]
        return {"status": "rejected", "event_id": str(eid), "reason": last["reason"], "detail": last["detail"],
                "errors": last["errors"], "stage": last["stage"], "rejected_at": last["rejected_at"],
                "rejections": rejections}
    return {
        "status": "sealed",
        "event_id": str(eid),
        "event": json.loads(row["leaf"]),
        "leaf_index": row["leaf_index"],
        "height": row["height"],
        "leaf_hash": bytes(row["leaf_hash"]).hex(),
        "proof": f"/v1/proofs/inclusion?event_id={eid}",
        "block": f"/v1/blocks/{row['height']}",
        "rejections": rejections,
    }


@router.get("/proofs/inclusion")
async def inclusion_proof(
    store: StoreDep,
    event_id: str,
    tree_size: int | None = Query(None, description="tree size to prove against (default: latest block)"),
) -> dict[str, Any]:
    found = await store.leaf_and_tree_size(_parse_id(event_id))
    if found is None:
        raise HTTPException(404, f"event {event_id} is not in the ledger")
    index, digest, latest = found
    size = latest if tree_size is None else tree_size
    if not index < size <= latest:
        raise HTTPException(422, f"tree_size must be in ({index}, {latest}]")
    proof, root = await proofs.inclusion(store, index=index, tree_size=size)
    return {
        "event_id": event_id, "leaf_index": index, "tree_size": size,
        "leaf_hash": digest.hex(), "root": root.hex(), "proof": [p.hex() for p in proof],
    }


@router.get("/proofs/consistency")
async def consistency_proof(
    store: StoreDep, first: int = Query(..., ge=0), second: int = Query(..., ge=0)
) -> dict[str, Any]:
    head = await _latest(store)
    if not first <= second <= head.tree_size:
        raise HTTPException(422, f"need first <= second <= {head.tree_size} (tree sizes)")
    proof, root1, root2 = await proofs.consistency(store, size1=first, size2=second)
    return {"first": first, "second": second, "first_root": root1.hex(), "second_root": root2.hex(),
            "proof": [p.hex() for p in proof]}


@router.get("/checkpoint", response_class=PlainTextResponse)
async def checkpoint(store: StoreDep) -> str:
    """The latest tree head as a C2SP signed note (tlog-checkpoint), signed by the sequencer when sealing, and
    cosigned by the witnesses once a quorum did."""
    head = await _latest(store)
    # with the witnesses' cosignatures once a quorum cosigned this head; the newest cosigned checkpoint, which
    # may be a little older than the head, is /v1/checkpoint/cosigned and /tlog/checkpoint
    cosigned = await latest_cosigned(store.pool)
    return (cosigned.note if cosigned and cosigned.tree_size == head.tree_size else head.checkpoint).decode()
