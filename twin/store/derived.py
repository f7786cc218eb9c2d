"""Properties the catalog derives for each object: its postal address and its 3D measures.

They are columns of ``objects`` (so filters, ``sortby`` and aggregates read them without
parsing JSON) and appear in items, queryables and exports under these names:

- the address as schema.org ``PostalAddress`` fields, as Smart Data Models' ``Building`` uses
  them: ``streetAddress`` (street and house number, ``"Hauptstraße 5"``), ``postalCode``,
  ``addressLocality``, ``addressCountry``;
- the measures of :class:`twin.model.Measures`: ``height`` (m), ``footprintArea``,
  ``roofArea``, ``wallArea``, ``groundArea`` (m²) and ``volume`` (m³, closed shells only).

Every object also has ``id``, ``type``, ``parent_id``, ``lod``, ``address``, its
``geometry`` (``footprint``) and ``bbox``: these and the derived names are
:data:`CATALOG_NAMES`. A CityGML attribute of one of these names is kept under another, per
dataset: :func:`catalog_names`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from twin.model import Address, AttributeValue, BuildingRecord, names_apart

__all__ = [
    "CATALOG_NAMES",
    "DERIVED",
    "Derived",
    "catalog_attributes",
    "catalog_names",
    "derived_values",
    "postal_address",
]


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

CATALOG_NAMES: Final = frozenset(
    {"id", "type", "parent_id", "lod", "address", "geometry", "footprint", "bbox"}
    | {d.name for d in DERIVED}
)
"""The properties the catalog gives every object, which no attribute may be named (``bbox``
is the bounding box column of a GeoParquet export, GeoParquet 1.1 ``covering``)."""


def catalog_names(attributes: Iterable[str]) -> dict[str, str]:
    """Return the new names of a dataset's attributes named like a :data:`CATALOG_NAMES`.

    ``attributes`` are the attribute names of the whole dataset; each colliding one gets the
    first of ``name_2``, ``name_3`` … that is neither a catalog name nor another attribute's
    (:func:`twin.model.names_apart`). The rule is per dataset, not per object, so that a name
    means the same column on every page of a query.

    >>> catalog_names(["type", "roofType", "type_2", "height"])
    {'height': 'height_2', 'type': 'type_3'}
    """
    names = tuple(sorted(set(attributes)))
    given = names_apart(names, CATALOG_NAMES)
    return {old: new for old, new in zip(names, given, strict=True) if old != new}


def catalog_attributes(
    attributes: Mapping[str, AttributeValue], renamed: Mapping[str, str]
) -> dict[str, AttributeValue]:
    """Return an object's attributes under their names in the catalog's API.

    ``renamed`` is the dataset's :func:`catalog_names`.

    >>> catalog_attributes({"type": "shed", "roofType": "1000"}, {"type": "type_2"})
    {'type_2': 'shed', 'roofType': '1000'}
    """
    return {renamed.get(k, k): v for k, v in attributes.items()}


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
