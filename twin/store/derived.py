"""Properties the catalog derives for each object: its postal address and its 3D measures.

They are columns of ``objects`` (so filters, ``sortby`` and aggregates read them without
parsing JSON) and appear in items, queryables and exports under these names:

- the address as schema.org ``PostalAddress`` fields, as Smart Data Models' ``Building`` uses
  them: ``streetAddress`` (street and house number, ``"Hauptstraße 5"``), ``postalCode``,
  ``addressLocality``, ``addressCountry``;
- the measures of :class:`twin.model.Measures`: ``height`` (m), ``footprintArea``,
  ``roofArea``, ``wallArea``, ``groundArea`` (m²) and ``volume`` (m³, closed shells only).

A derived name wins over a CityGML attribute of the same name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from twin.model import Address, BuildingRecord

__all__ = ["DERIVED", "Derived", "derived_values", "postal_address"]


@dataclass(frozen=True, slots=True)
class Derived:
    """One derived property: its public name, its ``objects`` column, JSON type and meaning."""

    name: str
    column: str
    kind: Literal["string", "number"]
    description: str


DERIVED: Final = (
    Derived("streetAddress", "street_address", "string", "street and house number"),
    Derived("postalCode", "postal_code", "string", "postal code"),
    Derived("addressLocality", "address_locality", "string", "town or city"),
    Derived("addressCountry", "address_country", "string", "country"),
    Derived("height", "height", "number",
            "m: measuredHeight when given, else top minus lowest point of the geometry"),
    Derived("footprintArea", "footprint_area", "number", "m²: area of the 2D footprint"),
    Derived("roofArea", "roof_area", "number", "m²: area of the roof surfaces"),
    Derived("wallArea", "wall_area", "number", "m²: area of the wall surfaces"),
    Derived("groundArea", "ground_area", "number", "m²: area of the ground surfaces"),
    Derived("volume", "volume", "number", "m³: volume enclosed, when the shell is closed"),
)  # fmt: skip
"""Every derived property, in the column order of ``objects``."""


def postal_address(address: Address) -> dict[str, str]:
    """Return the schema.org ``PostalAddress`` fields of an address that are set.

    >>> postal_address(Address(street="Hauptstraße", house_number="5", locality="Bonn"))
    {'streetAddress': 'Hauptstraße 5', 'addressLocality': 'Bonn'}
    """
    street = " ".join(p for p in (address.street, address.house_number) if p)
    fields = {
        "streetAddress": street,
        "postalCode": address.postal_code,
        "addressLocality": address.locality,
        "addressCountry": address.country,
    }
    return {k: v for k, v in fields.items() if v}


def derived_values(record: BuildingRecord) -> dict[str, str | float | None]:
    """Return every derived property of a record by name (None where unknown)."""
    m = record.measures
    known: dict[str, str | float | None] = {
        "height": m.height_m,
        "footprintArea": m.footprint_area_m2,
        "roofArea": m.roof_area_m2,
        "wallArea": m.wall_area_m2,
        "groundArea": m.ground_area_m2,
        "volume": m.volume_m3,
    }
    if record.address is not None:
        known.update(postal_address(record.address))
    return {d.name: known.get(d.name) for d in DERIVED}
