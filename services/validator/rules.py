"""Ledger rules: checks of an otherwise valid event that need what the ledger already holds.

Run by :meth:`services.validator.worker.Validator.process` after the replay check, on accepted events only.
A broken rule rejects the event with reason ``rule``; the detail starts with the rule's name and the
``errors`` entry names it too (``{"path", "rule", "message"}``).

Receipt rules (DeliveryConfirmed / DeliveryDisputed; ``docs/receipts.md``), in this order:

* ``receipt.known-shipment`` — a WagonsLoaded or an outbound weigh ticket of the shipment was accepted
  before;
* ``receipt.same-order`` — the receipt names the order the shipment was loaded for;
* ``receipt.buyer-of-order`` — only the buyer of that order (its DemandPosted's ``buyer_id``, else the
  WagonsLoaded consignee) may confirm or dispute the shipment;
* ``receipt.after-delivery`` — the shipment was delivered (rail: WagonsUnloaded; truck: an outbound weigh
  ticket);
* ``receipt.once-per-shipment`` — no other confirmation or dispute of the shipment is sealed or was
  accepted (claims in ``receipt_claims``, shared by every validator).

"Accepted before" means sealed in the ledger, or accepted earlier by this validator process: the events
of one shipment share its id as Kafka key, so they reach the same validator in order, and a confirmation
right behind its WagonsUnloaded is not refused because the sequencer has not sealed the unloading yet.

Cost: per fetched batch, not per event. A batch without receipts touches no database; a batch with some
loads what the ledger holds about all their shipments and orders in three queries
(:func:`~services.receipts.store.load_receipt_context`), judges them in order, and claims the shipments of
those that pass in one transaction (:func:`~services.receipts.store.claim_receipts`).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from msgspec import UnsetType

import schemas
from schemas.models import TruckWeighedV1, WagonsLoadedV1, WagonsUnloadedV1
from services.receipts.shipment import RECEIPT_NAMES, LedgerEvent, Shipment
from services.receipts.store import claim_receipts, load_receipt_context
from services.store.postgres import LedgerStore
from services.validator.checks import Accept, Decision, Reject
from services.validator.reasons import Reason

log = logging.getLogger(__name__)

__all__ = ["LedgerRules"]

RULE_KNOWN = "receipt.known-shipment"
RULE_ORDER = "receipt.same-order"
RULE_BUYER = "receipt.buyer-of-order"
RULE_DELIVERED = "receipt.after-delivery"
RULE_ONCE = "receipt.once-per-shipment"


@dataclass(frozen=True)
class _Seen:
    """What this validator accepted about a shipment and may not be sealed yet."""

    order_id: str | None = None
    consignee: str | None = None
    delivered: bool = False


class LedgerRules:
    def __init__(self, memory: int = 100_000) -> None:
        self._seen: OrderedDict[str, _Seen] = OrderedDict()
        self._memory = memory

    async def apply(self, store: LedgerStore, decisions: Sequence[Decision | None]) -> list[Decision | None]:
        """The decisions with every accepted event that breaks a rule replaced by its rejection."""
        receipts = [d for d in decisions if isinstance(d, Accept) and d.event.name in RECEIPT_NAMES]
        if not receipts:
            for d in decisions:
                if isinstance(d, Accept):
                    self._remember(d.event)
            return list(decisions)
        datas = [r.event.envelope["data"] for r in receipts]
        shipments, orders = await load_receipt_context(store, (str(d["shipment_id"]) for d in datas),
                                                       (str(d["order_id"]) for d in datas))
        out: list[Decision | None] = []
        to_claim: list[int] = []  # positions in ``out`` of receipts that passed every rule but the claim
        for decision in decisions:
            if isinstance(decision, Accept) and decision.event.name in RECEIPT_NAMES:
                data = decision.event.envelope["data"]
                sealed = shipments.get(str(data["shipment_id"])) or Shipment(str(data["shipment_id"]))
                verdict = self._judge(decision, sealed, orders.get(str(data["order_id"])))
                if verdict is None:
                    to_claim.append(len(out))
                out.append(verdict or decision)
                continue
            if isinstance(decision, Accept):
                self._remember(decision.event)
            out.append(decision)
        await self._claim(store, out, to_claim)
        return out

    async def _claim(self, store: LedgerStore, out: list[Decision | None], positions: list[int]) -> None:
        """Claim the shipments of the receipts at ``positions`` (one transaction); a receipt whose shipment
        another event holds is rejected."""
        accepts = [out[i] for i in positions]
        claims = [(str(a.event.envelope["data"]["shipment_id"]), a.event.id, a.event.participant_id, a.event.type)
                  for a in accepts if isinstance(a, Accept)]
        holders = await claim_receipts(store, claims)
        for i, (shipment_id, event_id, _, _) in zip(positions, claims, strict=True):
            holder = holders.get(shipment_id)
            if holder != event_id:
                accept = out[i]
                assert isinstance(accept, Accept)
                out[i] = _reject(accept, RULE_ONCE, "/data/shipment_id",
                                 _already(shipment_id, "a receipt", holder or "unknown"))

    def _remember(self, event: schemas.Event) -> None:
        """Note a loading or delivery this validator accepted. Reads the typed payload: the envelope dict
        would be decoded again from the bytes for every event (the one-pass validation does not make it)."""
        data = event.data
        order_id: str | None
        consignee: str | None
        if isinstance(data, WagonsLoadedV1):
            shipment_id, order_id, consignee, delivered = data.shipment_id, data.order_id, data.buyer_id, False
        elif isinstance(data, WagonsUnloadedV1):
            shipment_id, order_id, consignee, delivered = data.shipment_id, data.order_id, None, True
        elif isinstance(data, TruckWeighedV1) and data.direction == "outbound":
            if isinstance(data.shipment_id, UnsetType):
                return
            shipment_id, delivered = data.shipment_id, True
            order_id = None if isinstance(data.order_id, UnsetType) else data.order_id
            consignee = None
        else:
            return  # inbound weigh tickets fed a railhead: no part of a receipt
        seen = self._seen.pop(shipment_id, _Seen())
        if delivered:
            seen = replace(seen, order_id=seen.order_id or order_id, delivered=True)
        else:
            seen = replace(seen, order_id=order_id, consignee=consignee)
        self._seen[shipment_id] = seen
        if len(self._seen) > self._memory:
            self._seen.popitem(last=False)

    def _judge(self, accept: Accept, sealed: Shipment, order: LedgerEvent | None) -> Reject | None:
        """Every receipt rule but the claim, from what the ledger holds and what this validator accepted."""
        event = accept.event
        data = event.envelope["data"]
        shipment_id, order_id, who = str(data["shipment_id"]), str(data["order_id"]), event.participant_id
        seen = self._seen.get(shipment_id, _Seen())
        if not (sealed.loading or sealed.trucks or seen.order_id or seen.delivered):
            return _reject(accept, RULE_KNOWN, "/data/shipment_id", f"no WagonsLoaded or outbound weigh ticket of"
                           f" shipment {shipment_id} is in the ledger")
        shipment_order = sealed.order_id or seen.order_id
        if shipment_order != order_id:
            return _reject(accept, RULE_ORDER, "/data/order_id", f"shipment {shipment_id} was loaded for order"
                           f" {shipment_order}, not {order_id}")
        order = sealed.order or order
        buyer = str(order.data["buyer_id"]) if order else sealed.buyer_id or seen.consignee
        if buyer != who:
            return _reject(accept, RULE_BUYER, "/source", f"only {buyer or 'the buyer of the order'}, the buyer of"
                           f" order {order_id}, may confirm or dispute shipment {shipment_id}; {who} may not")
        if not (sealed.delivered or seen.delivered):
            return _reject(accept, RULE_DELIVERED, "/data/shipment_id", f"shipment {shipment_id} has not been"
                           " unloaded yet; confirm or dispute it once its unloading is sealed")
        if sealed.receipt is not None:
            return _reject(accept, RULE_ONCE, "/data/shipment_id",
                           _already(shipment_id, sealed.receipt.name, sealed.receipt.id))
        return None


def _reject(accept: Accept, rule: str, path: str, message: str) -> Reject:
    event = accept.event
    log.info("rule %s rejects %s %s: %s", rule, event.name, event.id, message)
    return Reject(Reason.RULE, f"{rule}: {message}", ({"path": path, "rule": rule, "message": message},),
                  event_id=event.id)


def _already(shipment_id: str, what: str, event_id: str) -> str:
    return f"shipment {shipment_id} was already confirmed or disputed ({what}, event {event_id})"
