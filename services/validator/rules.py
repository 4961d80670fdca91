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
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace

import schemas
from services.receipts.shipment import RECEIPT_NAMES
from services.receipts.store import claim_receipt, load_order, load_shipment
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
        out: list[Decision | None] = []
        for decision in decisions:
            if isinstance(decision, Accept) and decision.event.name in RECEIPT_NAMES:
                decision = await self._receipt(store, decision)
            elif isinstance(decision, Accept):
                self._remember(decision.event)
            out.append(decision)
        return out

    def _remember(self, event: schemas.Event) -> None:
        data = event.envelope.get("data") or {}
        shipment_id = data.get("shipment_id")
        loading = event.name == "WagonsLoaded"
        outbound = event.name == "TruckWeighed" and data.get("direction") == "outbound"
        delivery = event.name == "WagonsUnloaded" or outbound
        if not shipment_id or not (loading or delivery):
            return  # inbound weigh tickets fed a railhead: no part of a receipt
        seen = self._seen.pop(shipment_id, _Seen())
        if loading:
            seen = replace(seen, order_id=data.get("order_id"), consignee=data.get("buyer_id"))
        else:
            seen = replace(seen, order_id=seen.order_id or data.get("order_id"), delivered=True)
        self._seen[shipment_id] = seen
        if len(self._seen) > self._memory:
            self._seen.popitem(last=False)

    async def _receipt(self, store: LedgerStore, accept: Accept) -> Decision:
        event = accept.event
        data = event.envelope["data"]
        shipment_id, order_id, who = str(data["shipment_id"]), str(data["order_id"]), event.participant_id
        sealed = await load_shipment(store, shipment_id)
        seen = self._seen.get(shipment_id, _Seen())

        def reject(rule: str, path: str, message: str) -> Reject:
            log.info("rule %s rejects %s %s: %s", rule, event.name, event.id, message)
            return Reject(Reason.RULE, f"{rule}: {message}", ({"path": path, "rule": rule, "message": message},),
                          event_id=event.id)

        if not (sealed.loading or sealed.trucks or seen.order_id or seen.delivered):
            return reject(RULE_KNOWN, "/data/shipment_id", f"no WagonsLoaded or outbound weigh ticket of shipment"
                          f" {shipment_id} is in the ledger")
        shipment_order = sealed.order_id or seen.order_id
        if shipment_order != order_id:
            return reject(RULE_ORDER, "/data/order_id", f"shipment {shipment_id} was loaded for order"
                          f" {shipment_order}, not {order_id}")
        order = sealed.order or await load_order(store, order_id)
        buyer = str(order.data["buyer_id"]) if order else sealed.buyer_id or seen.consignee
        if buyer != who:
            return reject(RULE_BUYER, "/source", f"only {buyer or 'the buyer of the order'}, the buyer of order"
                          f" {order_id}, may confirm or dispute shipment {shipment_id}; {who} may not")
        if not (sealed.delivered or seen.delivered):
            return reject(RULE_DELIVERED, "/data/shipment_id", f"shipment {shipment_id} has not been unloaded"
                          " yet; confirm or dispute it once its unloading is sealed")
        if sealed.receipt is not None:
            return reject(RULE_ONCE, "/data/shipment_id", _already(shipment_id, sealed.receipt.name,
                                                                   sealed.receipt.id))
        holder = await claim_receipt(store, shipment_id=shipment_id, event_id=event.id, participant=who,
                                     event_type=event.type)
        if holder != event.id:
            return reject(RULE_ONCE, "/data/shipment_id", _already(shipment_id, "a receipt", holder))
        return accept


def _already(shipment_id: str, what: str, event_id: str) -> str:
    return f"shipment {shipment_id} was already confirmed or disputed ({what}, event {event_id})"
