"""Domain rules JSON Schema cannot express, checked on the typed model in the same pass as the schema.

Errors reject the event; warnings (quality and load limits set by regulation) are attached to it. Every
rule is listed in :data:`RULES` with its meaning (``docs/events.md`` prints that table). Rules run only on
events that are structurally valid, so a fix-one-error-see-the-next round is possible but rare.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from msgspec import UNSET

from schemas import models as m
from schemas.errors import ErrorItem, EventWarning
from schemas.quality import QualityCheck
from schemas.refdata import RefData
from schemas.units import hundredths, kcal_to_kj

__all__ = ["RULES", "Findings", "RuleInfo", "Rules"]


@dataclass(frozen=True, slots=True)
class RuleInfo:
    code: str
    kind: Literal["error", "warning"]
    applies_to: tuple[str, ...]
    description: str


_ALL = ("all",)
_ASSAYS = ("StockReported", "LotAssayed", "WagonsLoaded", "DeliveryConfirmed", "DeliveryDisputed")
RULES: tuple[RuleInfo, ...] = (
    RuleInfo("subject-mismatch", "error", _ALL, "`subject` equals the data field named by x-subject-field."),
    RuleInfo("net-equals-gross-minus-tare", "error", ("WagonsLoaded", "WagonsUnloaded", "TruckWeighed"),
             "net_weight_kg = gross_weight_kg − tare_weight_kg (per wagon, per weigh ticket)."),
    RuleInfo("gross-tare-pair", "error", ("WagonsUnloaded",),
             "An unloaded wagon gives both gross and tare weight, or neither."),
    RuleInfo("wagon-load-limit", "error", ("WagonsLoaded",),
             "A wagon's net weight is within its type's rated load (C70 70 t, C80 80 t; schemas/data/wagons.json)."),
    RuleInfo("total-equals-sum", "error", ("WagonsLoaded", "WagonsUnloaded"),
             "total_net_weight_kg = Σ wagons[].net_weight_kg."),
    RuleInfo("unique-wagon-no", "error", ("WagonsLoaded", "WagonsUnloaded"), "A wagon appears once per shipment."),
    RuleInfo("unique-waybill-no", "error", ("WagonsLoaded",), "A waybill number appears once per shipment."),
    RuleInfo("distinct-stations", "error",
             ("WagonsRequested", "WagonsLoaded", "TrainDeparted", "TrainArrived", "CapacityPublished"),
             "Origin and destination (or section start and end) are different stations."),
    RuleInfo("window-order", "error", ("DemandPosted", "DemandAmended", "SupplyOffered"),
             "A date window ends on or after its start."),
    RuleInfo("range-order", "error", ("DemandPosted", "DemandAmended", "SupplyOffered"),
             "In every quality range, min ≤ max."),
    RuleInfo("allocation-exceeds-request", "error", ("WagonsAllocated",),
             "wagons_allocated ≤ wagons_requested."),
    RuleInfo("accepted-exceeds-measured", "error", ("DeliveryDisputed",),
             "A disputing buyer accepts at most what it measured."),
    RuleInfo("moisture-order", "error", _ASSAYS, "Air-dried moisture Mad ≤ total moisture Mt."),
    RuleInfo("calorific-consistency", "error", _ASSAYS,
             "Qnet,ar in kJ/kg and kcal/kg agree (1 kcal = 4.1816 kJ, within the tolerance of limits.json)."),
    RuleInfo("key-id-mismatch", "error", ("ParticipantRegistered", "KeyRotated"),
             "A key id is the SHA-256 of the public key it names."),
    RuleInfo("key-unchanged", "error", ("KeyRotated",), "A rotation replaces the key with a different one."),
    RuleInfo("holdings-need-role", "error", ("ParticipantRegistered",),
             "Only a mine holds mines; only a railway or carrier holds stations."),
    RuleInfo("time-order", "error", ("KeyRevoked",), "compromised_since is not after the event time."),
    RuleInfo("quality-ash-limit", "warning", _ASSAYS,
             "Ad above the 2014 commercial-coal limit (non-lignite 40 %, lignite 30 %)."),
    RuleInfo("quality-sulphur-limit", "warning", _ASSAYS,
             "St,d above the 2014 commercial-coal limit (non-lignite 3 %, lignite 1.5 %)."),
    RuleInfo("quality-long-haul-calorific", "warning", ("WagonsLoaded",),
             "Non-lignite coal shipped over 600 km with Qnet,ar below 18 MJ/kg."),
    RuleInfo("quality-long-haul-ash", "warning", ("WagonsLoaded",),
             "Non-lignite coal shipped over 600 km with Ad above 30 %."),
    RuleInfo("quality-long-haul-sulphur", "warning", ("WagonsLoaded",),
             "Non-lignite coal shipped over 600 km with St,d above 2 %."),
    RuleInfo("quality-class-mismatch", "warning", ("LotAssayed",),
             "The lab's coal class differs from the product's class (分质装车: check the lot)."),
    RuleInfo("truck-gross-over-limit", "warning", ("TruckWeighed",),
             "A truck's gross weight is above the GB 1589-2016 limit for its axle count."),
)


class Findings:
    """Errors and warnings collected while checking one event."""

    __slots__ = ("errors", "warnings")

    def __init__(self) -> None:
        self.errors: list[ErrorItem] = []
        self.warnings: list[EventWarning] = []

    def error(self, path: str, rule: str, message: str) -> None:
        self.errors.append(ErrorItem(path=path, rule=rule, message=message))

    def warn(self, path: str, code: str, message: str) -> None:
        self.warnings.append(EventWarning(code=code, path=path, message=message))


_Check = Callable[[Any, Findings], None]


class Rules:
    """The domain rules, parametrised by the reference data (limits, wagon loads, distances)."""

    def __init__(self, ref: RefData) -> None:
        self._ref = ref
        self._quality = QualityCheck(ref)
        self._load_limit_kg = {w.type: w.load_limit_kg for w in ref.wagons}
        self._truck_limit_kg = dict(ref.limits.truck_max_gross_kg_by_axles)
        self._kcal_tolerance = ref.limits.kcal_kj_tolerance_kj_per_kg
        self._by_name: dict[str, _Check] = {
            "DemandPosted": self._demand_posted,
            "DemandAmended": self._demand_amended,
            "StockReported": self._stock_reported,
            "LotAssayed": self._lot_assayed,
            "SupplyOffered": self._supply_offered,
            "WagonsRequested": self._wagons_requested,
            "WagonsAllocated": self._wagons_allocated,
            "WagonsLoaded": self._wagons_loaded,
            "TrainDeparted": self._train_departed,
            "TrainArrived": self._train_arrived,
            "WagonsUnloaded": self._wagons_unloaded,
            "TruckWeighed": self._truck_weighed,
            "CapacityPublished": self._capacity_published,
            "DeliveryConfirmed": self._delivery_confirmed,
            "DeliveryDisputed": self._delivery_disputed,
            "ParticipantRegistered": self._participant_registered,
            "KeyRotated": self._key_rotated,
            "KeyRevoked": self._key_revoked,
        }

    def check(self, name: str, subject_attr: str, envelope: m.Envelope, findings: Findings) -> None:
        """Run the rules of event ``name`` on a structurally valid envelope."""
        data = envelope.data
        if getattr(data, subject_attr) != envelope.subject:
            findings.error("/subject", "subject-mismatch",
                           f"subject {envelope.subject!r} must equal data.{subject_attr} "
                           f"{getattr(data, subject_attr)!r}")
        check = self._by_name.get(name)
        if check is not None:
            check(envelope, findings)

    # ---- demand and supply

    def _demand_posted(self, e: m.DemandPostedV1Envelope, f: Findings) -> None:
        d = e.data
        _window(d.delivery_start_date, d.delivery_end_date, "/data/delivery_end_date", f)
        _ranges(d.quality, "/data/quality", f)

    def _demand_amended(self, e: m.DemandAmendedV1Envelope, f: Findings) -> None:
        c = e.data.changes
        if c.delivery_start_date is not UNSET and c.delivery_end_date is not UNSET:
            _window(c.delivery_start_date, c.delivery_end_date, "/data/changes/delivery_end_date", f)
        if c.quality is not UNSET:
            _ranges(c.quality, "/data/changes/quality", f)

    def _supply_offered(self, e: m.SupplyOfferedV1Envelope, f: Findings) -> None:
        d = e.data
        _window(d.available_from_date, d.available_to_date, "/data/available_to_date", f)
        if d.quality is not UNSET:
            _ranges(d.quality, "/data/quality", f)

    # ---- inventory

    def _stock_reported(self, e: m.StockReportedV1Envelope, f: Findings) -> None:
        self._assay(e.data.assay, "/data/assay", e.data.product, None, f)

    def _lot_assayed(self, e: m.LotAssayedV1Envelope, f: Findings) -> None:
        d = e.data
        self._assay(d.assay, "/data/assay", d.product, None, f)
        product = self._ref.product_by_code[d.product]
        if d.coal_class != product.coal_class:
            f.warn("/data/coal_class", "quality-class-mismatch",
                   f"the lab classed lot {d.lot_id} as {d.coal_class}, but product {d.product} is "
                   f"{product.coal_class} coal")

    def _assay(self, a: m.Assay, at: str, product: str, route: tuple[str, str] | None, f: Findings) -> None:
        if a.mad_pct is not UNSET and hundredths(a.mad_pct) > hundredths(a.mt_pct):
            f.error(f"{at}/mad_pct", "moisture-order",
                    f"air-dried moisture Mad {a.mad_pct} % exceeds total moisture Mt {a.mt_pct} %")
        if a.qnet_ar_kj_per_kg is not UNSET:
            expected = kcal_to_kj(a.qnet_ar_kcal_per_kg)
            if abs(a.qnet_ar_kj_per_kg - expected) > self._kcal_tolerance:
                f.error(f"{at}/qnet_ar_kj_per_kg", "calorific-consistency",
                        f"Qnet,ar {a.qnet_ar_kj_per_kg} kJ/kg disagrees with {a.qnet_ar_kcal_per_kg} kcal/kg "
                        f"(= {expected} kJ/kg, tolerance {self._kcal_tolerance})")
        self._quality.check(a, at, product, route, f)

    # ---- transport

    def _wagons_requested(self, e: m.WagonsRequestedV1Envelope, f: Findings) -> None:
        _distinct(e.data.station, e.data.destination_station, "/data/destination_station", f)

    def _wagons_allocated(self, e: m.WagonsAllocatedV1Envelope, f: Findings) -> None:
        d = e.data
        if d.wagons_allocated > d.wagons_requested:
            f.error("/data/wagons_allocated", "allocation-exceeds-request",
                    f"{d.wagons_allocated} wagons allocated for a request of {d.wagons_requested}")

    def _wagons_loaded(self, e: m.WagonsLoadedV1Envelope, f: Findings) -> None:
        d = e.data
        if not self._wagons_look_fine(d.wagons, d.total_net_weight_kg):
            self._wagons_loaded_detail(d, f)
        _distinct(d.station, d.destination_station, "/data/destination_station", f)
        if d.assay is not UNSET:
            self._assay(d.assay, "/data/assay", d.product, (d.station, d.destination_station), f)

    def _wagons_look_fine(self, wagons: tuple[m.LoadedWagon, ...], declared_total: int) -> bool:
        """One quick pass for the common case; the detailed pass runs only when something is off."""
        limits = self._load_limit_kg
        total = 0
        for w in wagons:
            net = w.net_weight_kg
            total += net
            if net != w.gross_weight_kg - w.tare_weight_kg or net > limits[w.wagon_type]:
                return False
        n = len(wagons)
        return (total == declared_total and len({w.wagon_no for w in wagons}) == n
                and len({w.waybill_no for w in wagons}) == n)

    def _wagons_loaded_detail(self, d: m.WagonsLoadedV1, f: Findings) -> None:
        total = 0
        seen_wagons: set[str] = set()
        seen_waybills: set[str] = set()
        limits = self._load_limit_kg
        for i, w in enumerate(d.wagons):
            net = w.net_weight_kg
            total += net
            if net != w.gross_weight_kg - w.tare_weight_kg:
                _net_error(f"/data/wagons/{i}", w.gross_weight_kg, w.tare_weight_kg, net, f)
            if net > limits[w.wagon_type]:
                f.error(f"/data/wagons/{i}/net_weight_kg", "wagon-load-limit",
                        f"wagon {w.wagon_no}: net {net} kg exceeds the {w.wagon_type} rated load of "
                        f"{limits[w.wagon_type]} kg")
            _unique(w.wagon_no, seen_wagons, f"/data/wagons/{i}/wagon_no", "unique-wagon-no", "wagon", f)
            _unique(w.waybill_no, seen_waybills, f"/data/wagons/{i}/waybill_no", "unique-waybill-no",
                    "waybill", f)
        _total(total, d.total_net_weight_kg, f)

    def _wagons_unloaded(self, e: m.WagonsUnloadedV1Envelope, f: Findings) -> None:
        d = e.data
        if _unloaded_look_fine(d.wagons, d.total_net_weight_kg):
            return
        total = 0
        seen: set[str] = set()
        for i, w in enumerate(d.wagons):
            total += w.net_weight_kg
            gross, tare = w.gross_weight_kg, w.tare_weight_kg
            if gross is not UNSET and tare is not UNSET:
                if w.net_weight_kg != gross - tare:
                    _net_error(f"/data/wagons/{i}", gross, tare, w.net_weight_kg, f)
            elif gross is not UNSET or tare is not UNSET:
                missing = "tare_weight_kg" if gross is not UNSET else "gross_weight_kg"
                f.error(f"/data/wagons/{i}/{missing}", "gross-tare-pair",
                        f"wagon {w.wagon_no}: give gross and tare weight together, or neither")
            _unique(w.wagon_no, seen, f"/data/wagons/{i}/wagon_no", "unique-wagon-no", "wagon", f)
        _total(total, d.total_net_weight_kg, f)

    def _train_departed(self, e: m.TrainDepartedV1Envelope, f: Findings) -> None:
        _distinct(e.data.station, e.data.destination_station, "/data/destination_station", f)

    def _train_arrived(self, e: m.TrainArrivedV1Envelope, f: Findings) -> None:
        _distinct(e.data.origin_station, e.data.station, "/data/origin_station", f)

    def _truck_weighed(self, e: m.TruckWeighedV1Envelope, f: Findings) -> None:
        d = e.data
        if d.net_weight_kg != d.gross_weight_kg - d.tare_weight_kg:
            _net_error("/data", d.gross_weight_kg, d.tare_weight_kg, d.net_weight_kg, f)
        limit = self._truck_limit_kg.get(d.axles)
        if limit is not None and d.gross_weight_kg > limit:
            f.warn("/data/gross_weight_kg", "truck-gross-over-limit",
                   f"truck {d.plate_no}: gross {d.gross_weight_kg} kg exceeds the {limit} kg limit for "
                   f"{d.axles} axles (GB 1589-2016)")

    def _capacity_published(self, e: m.CapacityPublishedV1Envelope, f: Findings) -> None:
        _distinct(e.data.from_station, e.data.to_station, "/data/to_station", f)

    # ---- receipts

    def _delivery_confirmed(self, e: m.DeliveryConfirmedV1Envelope, f: Findings) -> None:
        if e.data.assay is not UNSET:
            self._assay(e.data.assay, "/data/assay", "", None, f)

    def _delivery_disputed(self, e: m.DeliveryDisputedV1Envelope, f: Findings) -> None:
        d = e.data
        if d.accepted_net_weight_kg > d.measured_net_weight_kg:
            f.error("/data/accepted_net_weight_kg", "accepted-exceeds-measured",
                    f"accepted {d.accepted_net_weight_kg} kg is more than the {d.measured_net_weight_kg} kg "
                    f"measured")
        if d.assay is not UNSET:
            self._assay(d.assay, "/data/assay", "", None, f)

    # ---- registry

    def _participant_registered(self, e: m.ParticipantRegisteredV1Envelope, f: Findings) -> None:
        d = e.data
        _key_id(d.public_key, d.key_id, "/data/key_id", f)
        if d.mines and "mine" not in d.roles:
            f.error("/data/mines", "holdings-need-role", "only a participant with role mine holds mines")
        if d.stations and not {"railway", "carrier"} & set(d.roles):
            f.error("/data/stations", "holdings-need-role",
                    "only a participant with role railway or carrier holds stations")

    def _key_rotated(self, e: m.KeyRotatedV1Envelope, f: Findings) -> None:
        d = e.data
        _key_id(d.new_public_key, d.new_key_id, "/data/new_key_id", f)
        if d.new_key_id == d.old_key_id:
            f.error("/data/new_key_id", "key-unchanged", "the new key is the old key")

    def _key_revoked(self, e: m.KeyRevokedV1Envelope, f: Findings) -> None:
        since = e.data.compromised_since
        if since is not UNSET and _instant(since) > _instant(e.time):
            f.error("/data/compromised_since", "time-order",
                    f"compromised_since {since} is after the event time {e.time}")


def _unloaded_look_fine(wagons: tuple[m.UnloadedWagon, ...], declared_total: int) -> bool:
    total = 0
    for w in wagons:
        net = w.net_weight_kg
        total += net
        gross, tare = w.gross_weight_kg, w.tare_weight_kg
        if gross is UNSET and tare is UNSET:
            continue
        if gross is UNSET or tare is UNSET or net != gross - tare:
            return False
    return total == declared_total and len({w.wagon_no for w in wagons}) == len(wagons)


def _instant(text: str) -> str:
    """A sortable form of a schema-valid UTC time (microsecond precision)."""
    if len(text) == 20:
        return text[:19] + ".000000"
    return text[:-1].ljust(26, "0")


def _window(start: object, end: object, path: str, f: Findings) -> None:
    if end < start:  # type: ignore[operator]  # both datetime.date
        f.error(path, "window-order", f"window ends {end} before it starts {start}")


def _ranges(q: m.QualityRequirement, at: str, f: Findings) -> None:
    for name in q.__struct_fields__:
        r = getattr(q, name)
        if r is UNSET or r.min is UNSET or r.max is UNSET:
            continue
        lo, hi = (hundredths(r.min), hundredths(r.max)) if isinstance(r.min, str) else (r.min, r.max)
        if lo > hi:
            f.error(f"{at}/{name}/max", "range-order", f"{name}: max {r.max} is below min {r.min}")


def _distinct(a: str, b: str, path: str, f: Findings) -> None:
    if a == b:
        f.error(path, "distinct-stations", f"origin and destination are both {a}")


def _net_error(at: str, gross: int, tare: int, net: int, f: Findings) -> None:
    f.error(f"{at}/net_weight_kg", "net-equals-gross-minus-tare",
            f"net {net} kg ≠ gross {gross} kg − tare {tare} kg = {gross - tare} kg")


def _total(total: int, declared: int, f: Findings) -> None:
    if total != declared:
        f.error("/data/total_net_weight_kg", "total-equals-sum",
                f"total {declared} kg ≠ Σ wagon net weights {total} kg")


def _unique(value: str, seen: set[str], path: str, rule: str, what: str, f: Findings) -> None:
    if value in seen:
        f.error(path, rule, f"{what} {value} appears more than once")
    seen.add(value)


def _key_id(public_key_b64: str, key_id: str, path: str, f: Findings) -> None:
    digest = hashlib.sha256(base64.b64decode(public_key_b64)).hexdigest()
    if digest != key_id:
        f.error(path, "key-id-mismatch", f"key id must be the SHA-256 of the public key: {digest}")


def rule_codes(kind: Literal["error", "warning"]) -> Iterable[str]:
    """Codes of every rule of one kind."""
    return (r.code for r in RULES if r.kind == kind)
