"""Receipts: a buyer's pending receipts, and the verifiable bundle of a confirmed or disputed delivery.

The signed DeliveryConfirmed / DeliveryDisputed itself goes in like any event (``POST /v1/events`` or
Kafka). Formats: ``docs/receipts.md``. Every route here needs a session (``services.api.auth``) of the buyer
concerned or of an auditor: a buyer sees its own deliveries only.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import APIRouter, HTTPException, Query

from schemas.units import hundredths
from services.api.auth import AuthDep, MaybeSessionDep, SessionDep, session_of
from services.api.deps import SettingsDep, StoreDep
from services.config import Settings
from services.receipts.bundle import build_bundle
from services.receipts.discrepancy import Tolerances
from services.receipts.errors import ShipmentNotFound
from services.receipts.pending import pending_receipts
from services.receipts.store import answered_receipts, unavailable_as_store_error
from services.store.errors import StoreUnavailable

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/receipts", tags=["receipts"])

_PARTICIPANT = re.compile(r"[a-z][a-z0-9-]{2,47}")
_PCT = re.compile(r"(?:[1-9]?[0-9]\.[0-9]{2}|100\.00)")


def _tolerances(weight_tolerance_pct: str | None, settings: Settings) -> Tolerances:
    if weight_tolerance_pct is None:
        weight_tolerance_pct = settings.receipt_weight_tolerance_pct
    if not _PCT.fullmatch(weight_tolerance_pct):
        raise HTTPException(422, "weight_tolerance_pct: a two-decimal percentage such as '1.00'")
    return Tolerances(weight_bp=hundredths(weight_tolerance_pct))


_WEIGHT_TOLERANCE = Query(None, description="weight tolerance for the discrepancy marks, e.g. '1.00' (%)")


async def _buyer(buyer: str, auth: AuthDep) -> None:
    """422 for a malformed id, 404 for a participant that is not registered, 422 for one that is no buyer."""
    if not _PARTICIPANT.fullmatch(buyer):
        raise HTTPException(422, f"buyer: {buyer!r} is not a participant id")
    participant = await auth.participant(buyer)
    if participant is None:
        raise HTTPException(404, f"buyer: no participant {buyer!r} is registered on this ledger")
    if "buyer" not in participant.roles:
        raise HTTPException(422, f"buyer: {buyer} is registered with roles {sorted(participant.roles)}, not as a"
                            " buyer")


@router.get("/pending")
async def pending(
    store: StoreDep,
    settings: SettingsDep,
    auth: AuthDep,
    session: MaybeSessionDep,
    buyer: str = Query(..., description="the buyer's participant id"),
    limit: int = Query(500, ge=1, le=5000),
    weight_tolerance_pct: str | None = _WEIGHT_TOLERANCE,
) -> dict[str, Any]:
    """Delivered shipments of ``buyer`` (unloading sealed) with no sealed confirmation or dispute yet."""
    await _buyer(buyer, auth)
    session_of(session, buyer)
    tolerances = _tolerances(weight_tolerance_pct, settings)
    try:
        with unavailable_as_store_error():
            head = await store.head()
        items = await pending_receipts(store, buyer, tolerances=tolerances, limit=limit)
    except StoreUnavailable as e:
        raise HTTPException(503, str(e), headers={"Retry-After": "5"}) from None
    as_of = {"height": head.height, "tree_size": head.tree_size} if head else {"height": None, "tree_size": 0}
    return {"buyer": buyer, "as_of": as_of, "tolerances": tolerances.to_json(), "pending": items}


@router.get("/answered")
async def answered(
    store: StoreDep,
    auth: AuthDep,
    session: MaybeSessionDep,
    buyer: str = Query(..., description="the buyer's participant id"),
    limit: int = Query(50, ge=1, le=500),
) -> dict[str, Any]:
    """The buyer's sealed confirmations and disputes, newest first (each has a bundle)."""
    await _buyer(buyer, auth)
    session_of(session, buyer)
    try:
        events = await answered_receipts(store, buyer, limit=limit)
    except StoreUnavailable as e:
        raise HTTPException(503, str(e), headers={"Retry-After": "5"}) from None
    return {"buyer": buyer, "answered": [
        {**e.ref(), "shipment_id": e.data.get("shipment_id"), "order_id": e.data.get("order_id"),
         "decision": "confirmed" if e.name == "DeliveryConfirmed" else "disputed",
         "reason_code": e.data.get("reason_code"), "accepted_net_weight_kg": e.data.get("accepted_net_weight_kg"),
         "time": e.envelope.get("time")} for e in events]}


def _receipt_publisher(doc: dict[str, Any]) -> str:
    receipt = next(e for e in doc["events"] if e["kind"] == "receipt")
    return str(receipt["event"]["source"]).removeprefix("/participants/")


@router.get("/{shipment_id:path}")
async def bundle(
    shipment_id: str,
    store: StoreDep,
    settings: SettingsDep,
    session: SessionDep,
    tree_size: int | None = Query(None, ge=1, description="anchor at this block boundary instead"),
    weight_tolerance_pct: str | None = _WEIGHT_TOLERANCE,
) -> dict[str, Any]:
    """The receipt bundle of a shipment: everything needed to verify its receipt offline (the buyer who
    signed the receipt, or an auditor)."""
    try:
        doc = await build_bundle(store, shipment_id, ledger_id=settings.ledger_id,
                                 tolerances=_tolerances(weight_tolerance_pct, settings), tree_size=tree_size)
    except ShipmentNotFound as e:
        raise HTTPException(404, str(e)) from None
    except StoreUnavailable as e:
        raise HTTPException(503, str(e), headers={"Retry-After": "5"}) from None
    session_of(session, _receipt_publisher(doc))
    return doc
