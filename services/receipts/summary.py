"""The human summary of a verified receipt: who shipped what, what was received, who signed, which block."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from services.receipts.discrepancy import Tolerances, discrepancies
from services.receipts.shipment import LedgerEvent
from services.receipts.verify import VerifiedReceipt

__all__ = ["discrepancy_line", "summary_lines"]

_ASSAY_FIELDS = (("qnet_ar_kcal_per_kg", "Qnet,ar", " kcal/kg"), ("ad_pct", "Ad", " %"), ("st_d_pct", "St,d", " %"),
                 ("mt_pct", "Mt", " %"), ("vdaf_pct", "Vdaf", " %"))


def _kg(value: int | None) -> str:
    return "—" if value is None else f"{value:,} kg"


def _short(key_id: str) -> str:
    return key_id[:16] + "…"


def _signed(v: VerifiedReceipt, e: LedgerEvent) -> str:
    block = v.blocks[e.height]
    return (f"{e.name} {e.id} signed by {e.participant} (key {_short(e.key_id)}), block {e.height} sealed"
            f" {block.sealed_at}, leaf {e.leaf_index}")


def _owner_of_mine(v: VerifiedReceipt, mine_id: object) -> str:
    owners = sorted(p.id for p in v.participants.values() if mine_id in p.mines)
    return ", ".join(owners) or "a mine of no participant in the trust file"


def _assay(assay: Mapping[str, Any]) -> str:
    parts = [f"{label} {assay[k]:,}{unit}" if isinstance(assay[k], int) else f"{label} {assay[k]}{unit}"
             for k, label, unit in _ASSAY_FIELDS if k in assay]
    return ", ".join(parts) + (f" (assay no {assay['assay_no']})" if "assay_no" in assay else "")


def discrepancy_line(mark: Mapping[str, Any]) -> str:
    """One discrepancy mark, in words."""
    if mark["kind"] == "weight":
        return (f"weight {mark['what'].replace('_', ' ')}: {mark['actual_kg']:,} kg against {mark['reference_kg']:,}"
                f" kg ({mark['difference_pct']} %, tolerance {mark['tolerance_pct']} %)")
    if mark["kind"] == "wagons":
        return (f"wagons: missing at unloading {mark['missing_at_unloading'] or 'none'}, unloaded but not loaded"
                f" {mark['not_loaded'] or 'none'}")
    return (f"quality {mark['what']}: received {mark['received']} against {mark['on_record']} on record"
            f" (difference {mark['difference']}, tolerance {mark['tolerance']})")


def _marks(title: str, marks: Sequence[Mapping[str, Any]]) -> list[str]:
    if not marks:
        return [f"  {title}: none beyond tolerance"]
    return [f"  {title}:"] + [f"    ! {discrepancy_line(m)}" for m in marks]


def summary_lines(v: VerifiedReceipt, own_tolerances: Tolerances | None = None) -> list[str]:
    """The summary; with ``own_tolerances``, also the marks under the reader's own tolerances."""
    s = v.shipment
    receipt = s.receipt
    assert receipt is not None
    sequencer = ", ".join(_short(k) for k in v.key_ids["sequencer"])
    lines = [
        f"RECEIPT VERIFIED — ledger {v.ledger_id}, tree size {v.tree_size} (block {v.anchor.height}, sealed"
        f" {v.anchor.sealed_at})",
        f"  checkpoint root {v.checkpoint.root_hash.hex()[:16]}… and block headers signed by sequencer key"
        f" {sequencer}; witness cosignatures verified: {v.witnesses_verified}",
        f"shipment {s.shipment_id} ({s.transport}) for order {s.order_id}",
    ]
    if s.order is not None:
        d = s.order.data
        lines += [f"  ordered   by {d.get('buyer_id')}: {_kg(d.get('quantity_kg'))} of {d.get('product')} to"
                  f" {d.get('destination_station')}", f"            {_signed(v, s.order)}"]
    if s.loading is not None:
        d = s.loading.data
        lines += [f"  shipped   by {_owner_of_mine(v, d.get('mine_id'))} (mine {d.get('mine_id')}), lot"
                  f" {d.get('lot_id')}, product {d.get('product')},"
                  f" {d.get('station')} → {d.get('destination_station')}",
                  f"  loaded    {len(d.get('wagons', ()))} wagons, {_kg(s.loaded_net_weight_kg)} net; waybills"
                  f" {', '.join(s.waybills)}",
                  f"            {_signed(v, s.loading)}"]
    for t in s.trucks:
        lines += [f"  ticket    {t.data.get('ticket_no')} {t.data.get('direction')} {t.data.get('plate_no')}"
                  f" {_kg(t.data.get('net_weight_kg'))} at {t.data.get('station')}", f"            {_signed(v, t)}"]
    assay, source = s.assay_on_record
    if assay is not None and source is not None:
        lines += [f"  assay     {_assay(assay)}", f"            {_signed(v, source)}"]
    if s.unloading is not None:
        lines += [f"  unloaded  {_kg(s.unloaded_net_weight_kg)} net at {s.unloading.data.get('station')}",
                  f"            {_signed(v, s.unloading)}"]
    lines += _received(v)
    lines += _marks(f"discrepancies (bundle tolerances: weight {v.tolerances.to_json()['weight_pct']} %)",
                    v.discrepancies)
    if own_tolerances is not None:
        lines += _marks(f"discrepancies under your tolerances (weight {own_tolerances.to_json()['weight_pct']} %)",
                        discrepancies(s, own_tolerances))
    return lines


def _received(v: VerifiedReceipt) -> list[str]:
    s = v.shipment
    receipt = s.receipt
    assert receipt is not None
    d = receipt.data
    whose = f"order {s.order_id}" if s.order is not None else "the shipment (WagonsLoaded consignee)"
    if v.decision == "confirmed":
        what = (f"CONFIRMED by {receipt.participant}, the buyer of {whose}: accepted"
                f" {_kg(d.get('accepted_net_weight_kg'))}")
    else:
        what = (f"DISPUTED by {receipt.participant}, the buyer of {whose} ({d.get('reason_code')}): measured"
                f" {_kg(d.get('measured_net_weight_kg'))}, accepts {_kg(d.get('accepted_net_weight_kg'))}")
    lines = [f"  received  {what}"]
    if isinstance(d.get("assay"), Mapping):
        lines.append(f"            buyer's assay: {_assay(d['assay'])}")
    return [*lines, f"            {_signed(v, receipt)}"]
