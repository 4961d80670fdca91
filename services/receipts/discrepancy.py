"""Weight and quality discrepancies between loading and unloading, beyond a tolerance. Pure, integers only.

Weights: the unloaded net weight against the loaded one, and the buyer's accepted weight against the
unloaded one (the loaded one when nothing was unloaded), each beyond ``weight_bp`` basis points of the
reference figure (100 bp = 1.00 %). Wagons loaded but not unloaded, or the reverse, are marked too.
Quality: every assay field with a tolerance that both the assay on record (the mine's lab report, else the
loading's certificate) and the buyer's own assay give, beyond that field's absolute tolerance.

The result is deterministic (same events, same tolerances → same list, same order): the offline verifier
recomputes it from the signed events and refuses a bundle whose marks disagree.

Defaults (⚠ contract-specific; override per call, ``coalchain receipt verify --weight-tolerance-pct``):
rail transit loss of coal is commonly allowed around 1 %; calorific value ±120 kcal/kg (≈ 0.5 MJ/kg);
ash ±1.00, sulphur ±0.20, total moisture ±2.00, volatile matter ±2.00 percentage points.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.units import format_hundredths, hundredths
from services.receipts.shipment import Shipment

__all__ = ["DEFAULT_ASSAY_TOLERANCES", "DEFAULT_WEIGHT_TOLERANCE_BP", "Tolerances", "discrepancies", "quality_marks",
           "wagon_marks", "weight_marks"]

DEFAULT_WEIGHT_TOLERANCE_BP = 100
"""Weight tolerance in basis points of the reference weight (100 = 1.00 %)."""

DEFAULT_ASSAY_TOLERANCES: Mapping[str, int] = {
    "qnet_ar_kcal_per_kg": 120,  # kcal/kg
    "ad_pct": 100,  # hundredths of a percentage point: 1.00
    "st_d_pct": 20,  # 0.20
    "mt_pct": 200,  # 2.00
    "vdaf_pct": 200,  # 2.00
}
"""Absolute tolerance per assay field: integer fields in their unit, ``*_pct`` fields in hundredths."""


def _is_pct(name: str) -> bool:
    return name.endswith("_pct")


@dataclass(frozen=True)
class Tolerances:
    weight_bp: int = DEFAULT_WEIGHT_TOLERANCE_BP
    assay: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_ASSAY_TOLERANCES))

    def to_json(self) -> dict[str, Any]:
        """``{"weight_pct": "1.00", "assay": {"ad_pct": "1.00", "qnet_ar_kcal_per_kg": 120, ...}}``."""
        return {
            "weight_pct": format_hundredths(self.weight_bp),
            "assay": {k: format_hundredths(v) if _is_pct(k) else v for k, v in sorted(self.assay.items())},
        }

    @classmethod
    def from_json(cls, doc: object) -> Tolerances:
        """Inverse of :meth:`to_json`; raises ``ValueError`` on anything else."""
        if not isinstance(doc, Mapping) or set(doc) != {"weight_pct", "assay"}:
            raise ValueError("tolerances must be an object with exactly 'weight_pct' and 'assay'")
        assay = doc["assay"]
        if not isinstance(assay, Mapping):
            raise ValueError("tolerances.assay must be an object")
        return cls(_pct(doc["weight_pct"], "weight_pct"),
                   {str(k): _pct(v, k) if _is_pct(str(k)) else _int(v, k) for k, v in assay.items()})


def _pct(value: object, name: object) -> int:
    if not isinstance(value, str) or len(value) < 4 or value[-3] != "." or not value.replace(".", "", 1).isdigit():
        raise ValueError(f"tolerance {name} must be a two-decimal string like '1.00'")
    return hundredths(value)


def _int(value: object, name: object) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"tolerance {name} must be a non-negative integer")
    return value


def _beyond_bp(actual: int, reference: int, tolerance_bp: int) -> bool:
    return abs(actual - reference) * 10_000 > tolerance_bp * reference


def _diff_pct(actual: int, reference: int) -> str:
    """Signed difference in percent of the reference, two decimals, rounded half away from zero."""
    bp = (abs(actual - reference) * 10_000 * 2 + reference) // (2 * reference) if reference else 0
    return ("-" if actual < reference else "") + format_hundredths(bp)


def _weight(what: str, reference_kg: int | None, actual_kg: int | None, tol: Tolerances) -> list[dict[str, Any]]:
    if reference_kg is None or actual_kg is None or reference_kg <= 0:
        return []
    if not _beyond_bp(actual_kg, reference_kg, tol.weight_bp):
        return []
    return [{"kind": "weight", "what": what, "reference_kg": reference_kg, "actual_kg": actual_kg,
             "difference_kg": actual_kg - reference_kg, "difference_pct": _diff_pct(actual_kg, reference_kg),
             "tolerance_pct": format_hundredths(tol.weight_bp)}]


def weight_marks(loaded_kg: int | None, unloaded_kg: int | None, accepted_kg: int | None,
                 tol: Tolerances) -> list[dict[str, Any]]:
    """Unloaded against loaded, then accepted against unloaded (against loaded when nothing was unloaded)."""
    marks = _weight("unloaded_vs_loaded", loaded_kg, unloaded_kg, tol)
    return marks + _weight("accepted_vs_unloaded" if unloaded_kg is not None else "accepted_vs_loaded",
                           unloaded_kg if unloaded_kg is not None else loaded_kg, accepted_kg, tol)


def wagon_marks(loading_data: Mapping[str, Any], unloading_data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Wagons loaded but not unloaded, or unloaded but not loaded (WagonsLoaded / WagonsUnloaded data)."""

    def numbers(data: Mapping[str, Any]) -> set[str]:
        return {str(w.get("wagon_no")) for w in data.get("wagons", ()) if isinstance(w, Mapping)}

    loaded, unloaded = numbers(loading_data), numbers(unloading_data)
    if loaded == unloaded:
        return []
    return [{"kind": "wagons", "what": "unloaded_vs_loaded", "missing_at_unloading": sorted(loaded - unloaded),
             "not_loaded": sorted(unloaded - loaded)}]


def _assay_value(assay: Mapping[str, Any], name: str) -> int | None:
    value = assay.get(name)
    if _is_pct(name):
        return hundredths(value) if isinstance(value, str) else None
    return value if type(value) is int else None


def quality_marks(on_record: Mapping[str, Any], received: Mapping[str, Any], tol: Tolerances) -> list[dict[str, Any]]:
    """Assay fields with a tolerance that both assays give, beyond it (in field name order)."""
    out: list[dict[str, Any]] = []
    for name, tolerance in sorted(tol.assay.items()):
        ref, got = _assay_value(on_record, name), _assay_value(received, name)
        if ref is None or got is None or abs(got - ref) <= tolerance:
            continue
        show = format_hundredths if _is_pct(name) else str
        sign = "-" if got < ref else ""
        out.append({"kind": "quality", "what": name, "on_record": on_record[name], "received": received[name],
                    "difference": sign + show(abs(got - ref)), "tolerance": show(tolerance)})
    return out


def discrepancies(shipment: Shipment, tol: Tolerances | None = None) -> list[dict[str, Any]]:
    """Every mark beyond tolerance, weights first, then wagons, then quality (by field name)."""
    tol = tol or Tolerances()
    accepted = int(shipment.receipt.data["accepted_net_weight_kg"]) if shipment.receipt else None
    marks = weight_marks(shipment.loaded_net_weight_kg, shipment.unloaded_net_weight_kg, accepted, tol)
    if shipment.loading is not None and shipment.unloading is not None:
        marks += wagon_marks(shipment.loading.data, shipment.unloading.data)
    on_record, _ = shipment.assay_on_record
    if on_record is not None and shipment.received_assay is not None:
        marks += quality_marks(on_record, shipment.received_assay, tol)
    return marks
