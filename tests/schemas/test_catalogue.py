"""The catalogue: types, areas, publisher roles, owner and subject fields (what permissions rely on)."""

from __future__ import annotations

import pytest

import schemas
from tests.schemas.examples_data import valid_documents

EXPECTED = {
    "demand": ({"DemandPosted", "DemandAmended", "DemandWithdrawn"}, ("buyer",), "/data/buyer_id", "participant"),
    "inventory": ({"StockReported", "LotAssayed", "SupplyOffered"}, ("mine",), "/data/mine_id", "mine"),
    "receipt": ({"DeliveryConfirmed", "DeliveryDisputed"}, ("buyer",), "/data/buyer_id", "participant"),
    "registry": ({"ParticipantRegistered", "KeyRotated", "KeyRevoked"}, ("admin",), None, None),
}
TRANSPORT = {"WagonsRequested", "WagonsAllocated", "WagonsLoaded", "TrainDeparted", "TrainArrived",
             "WagonsUnloaded", "TruckWeighed", "CapacityPublished"}


def test_catalogue_covers_the_issue() -> None:
    names = {e.name for e in schemas.catalogue()}
    assert names == set().union(*(v[0] for v in EXPECTED.values()), TRANSPORT)
    assert all(e.version == 1 for e in schemas.catalogue())


@pytest.mark.parametrize("area", sorted(EXPECTED))
def test_roles_and_owner_fields_per_area(area: str) -> None:
    _names, roles, owner, kind = EXPECTED[area]
    for e in schemas.catalogue():
        if e.area == area:
            assert (e.publisher_roles, e.owner_field, e.owner_kind) == (roles, owner, kind), e.name


def test_transport_is_railway_except_the_weighbridge() -> None:
    for e in schemas.catalogue():
        if e.area != "transport":
            continue
        expected_roles = ("carrier",) if e.name == "TruckWeighed" else ("railway",)
        expected_owner = "/data/from_station" if e.name == "CapacityPublished" else "/data/station"
        assert (e.publisher_roles, e.owner_field, e.owner_kind) == (expected_roles, expected_owner, "station")


def test_entries_are_consistent_with_their_schema() -> None:
    for e in schemas.catalogue():
        assert e.type == f"cn.taijiao.coal.{e.area}.{e.name}.v{e.version}"
        assert e.schema_id == f"https://schemas.taijiao-coal.cn/{e.area}/{e.name}/v{e.version}.json"
        assert set(e.publisher_roles) <= set(schemas.ROLES)
        assert schemas.event_type(e.type) is e
        assert schemas.parse_type(e.type) == (e.area, e.name, e.version)
        assert e.data_model.__name__ == f"{e.name}V{e.version}"
        assert e.title and e.title_zh and e.description


def test_owner_and_subject_fields_resolve_in_every_valid_example() -> None:
    for _, doc in valid_documents():
        e = schemas.event_type(doc["type"])
        assert schemas.resolve_pointer(doc, e.subject_field) == doc["subject"]
        if e.owner_field is not None:
            assert isinstance(e.owner(doc), str)


LINKS = {
    "DemandPosted": {"order_id", "buyer_id", "product", "quality", "quantity_kg", "delivery_start_date",
                     "delivery_end_date", "destination_station"},
    "WagonsLoaded": {"shipment_id", "order_id", "buyer_id", "mine_id", "lot_id", "station", "destination_station",
                     "wagons"},
    "TrainDeparted": {"train_no", "station", "shipment_ids"},
    "TrainArrived": {"train_no", "station", "shipment_ids"},
    "WagonsUnloaded": {"shipment_id", "station", "wagons"},
    "TruckWeighed": {"station", "plate_no", "axles", "product", "pickup_order_no", "gross_weight_kg",
                     "tare_weight_kg", "net_weight_kg"},
    "DeliveryConfirmed": {"shipment_id", "order_id", "buyer_id", "accepted_net_weight_kg"},
    "DeliveryDisputed": {"shipment_id", "order_id", "buyer_id", "accepted_net_weight_kg", "reason_code",
                         "measured_net_weight_kg"},
    "StockReported": {"mine_id", "lot_id", "product", "quantity_kg", "station", "assay"},
    "LotAssayed": {"mine_id", "lot_id", "product", "quantity_kg", "station", "assay"},
    "CapacityPublished": {"from_station", "plan_date", "trains_capacity", "wagons_capacity"},
    "WagonsRequested": {"station", "plan_date", "wagons_requested", "order_id"},
    "WagonsAllocated": {"station", "plan_date", "wagons_allocated", "order_id"},
}


@pytest.mark.parametrize("name", sorted(LINKS))
def test_linkage_fields_the_other_components_rely_on_are_required(name: str) -> None:
    [entry] = [e for e in schemas.catalogue() if e.name == name]
    assert LINKS[name] <= set(entry.schema["properties"]["data"]["required"])


def test_optional_linkage_on_weigh_tickets() -> None:
    data = schemas.event_type("cn.taijiao.coal.transport.TruckWeighed.v1").schema["properties"]["data"]
    assert {"shipment_id", "order_id"} <= set(data["properties"]) - set(data["required"])


def test_resolve_pointer() -> None:
    doc = {"a": {"b/c": [1, {"~d": 2}]}}
    assert schemas.resolve_pointer(doc, "/a/b~1c/1/~0d") == 2
    assert schemas.resolve_pointer(doc, "/a/x") is None
    assert schemas.resolve_pointer(doc, "/a/b~1c/9") is None
    assert schemas.resolve_pointer(doc, "") == doc

