"""Who publishes what in the simulation, derived from the reference data (``schemas/data``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.refdata import Mine, RefData

__all__ = ["World"]


@dataclass
class World:
    """Lookups from stations and mines to the participants that publish for them."""

    ref: RefData
    railway_of: dict[str, str] = field(default_factory=dict)
    carrier_of: dict[str, str] = field(default_factory=dict)
    mine_owner: dict[str, str] = field(default_factory=dict)
    mines_for_product: dict[str, list[Mine]] = field(default_factory=dict)

    @classmethod
    def from_refdata(cls, ref: RefData) -> World:
        world = cls(ref)
        for p in ref.participants:
            for station in p.stations:
                if "railway" in p.roles:
                    world.railway_of.setdefault(station, p.id)
                if "carrier" in p.roles:
                    world.carrier_of.setdefault(station, p.id)
            if "mine" in p.roles:
                for mine_id in p.mines:
                    world.mine_owner.setdefault(mine_id, p.id)
        for mine in ref.mines:
            for product in mine.products:
                world.mines_for_product.setdefault(product, []).append(mine)
        return world

    def distance_km(self, a: str, b: str) -> int:
        km = self.ref.route_distance_km(a, b)
        if km is None:
            raise ValueError(f"no route distance between {a} and {b}")
        return km

    def load_limit_kg(self, wagon_type: str) -> int:
        return self.ref.wagon_by_type[wagon_type].load_limit_kg
