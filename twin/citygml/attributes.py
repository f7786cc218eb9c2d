"""Read a city object's attributes as typed values, and its postal address.

Only the object's own properties (direct children) are read, so attributes of its thematic
surfaces or parts never leak into it. Where a property repeats (``function``, ``usage``,
``class``, ``gml:name``), the first value is kept — later ones are rare in practice and
are logged. Generic attributes inside a ``genericAttributeSet`` are named
``<set name>.<attribute name>``.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Iterator

from lxml import etree

from twin.citygml.namespaces import (
    LOCAL_NAMES,
    TagTable,
    children,
    find_child,
    is_citygml_namespace,
    is_generics_namespace,
    local_name,
    namespace,
    source_line,
)
from twin.model import Address, AttributeValue

__all__ = ["read_address", "read_attributes"]

logger = logging.getLogger(__name__)

_FEET_UOMS = frozenset({"ft", "feet", "foot", "[ft_i]", "ft_i"})
_METRES_PER_FOOT = 0.3048


def _parse_date(text: str) -> dt.date:
    return dt.date.fromisoformat(text[:10])


def _text(text: str) -> str:
    return text


def _measures(text: str) -> AttributeValue:
    """Read a list of measures: one number as a float, several as the text ("2.8 2.6")."""
    values = [float(v) for v in text.split()]  # ValueError: not numbers
    return values[0] if len(values) == 1 else " ".join(text.split())


_PROPERTIES: dict[str, tuple[str, Callable[[str], AttributeValue]]] = {
    "name": ("name", _text),
    "description": ("description", _text),
    "class": ("class", _text),
    "function": ("function", _text),
    "usage": ("usage", _text),
    "yearOfConstruction": ("yearOfConstruction", int),
    "roofType": ("roofType", _text),
    "measuredHeight": ("measuredHeight", float),
    "storeysAboveGround": ("storeysAboveGround", int),
    "storeysBelowGround": ("storeysBelowGround", int),
    "creationDate": ("creationDate", _parse_date),
    "terminationDate": ("terminationDate", _parse_date),
    # CityGML 3.0 (construction module)
    "dateOfConstruction": ("dateOfConstruction", _parse_date),
    "dateOfDemolition": ("dateOfDemolition", _parse_date),
    "storeyHeightsAboveGround": ("storeyHeightsAboveGround", _measures),
    "storeyHeightsBelowGround": ("storeyHeightsBelowGround", _measures),
}

_LENGTHS = frozenset({"measuredHeight", "storeyHeightsAboveGround", "storeyHeightsBelowGround"})
"""Properties converted to metres when written in feet."""

_GENERIC_TYPES: dict[str, Callable[[str], AttributeValue]] = {
    "stringAttribute": _text,
    "uriAttribute": _text,
    "intAttribute": int,
    "doubleAttribute": float,
    "measureAttribute": float,
    "dateAttribute": _parse_date,
    # CityGML 3.0 spells the types with a capital letter
    "StringAttribute": _text,
    "UriAttribute": _text,
    "IntAttribute": int,
    "DoubleAttribute": float,
    "MeasureAttribute": float,
    "DateAttribute": _parse_date,
}


def read_attributes(obj: etree._Element) -> dict[str, AttributeValue]:
    """Return the typed attributes of a city object element.

    Standard properties keep their CityGML names (``measuredHeight`` in metres, ``uom`` in
    feet converted); generic attributes are keyed by their ``name``. A value that does not
    parse as its declared type, or is a number but not a finite one (JSON has no NaN), is
    left out and logged.
    """
    attributes: dict[str, AttributeValue] = {}
    for name, value in _iter_properties(obj):
        if name in attributes:
            logger.debug(
                "%s: repeated %s %r ignored (line %s)", _id(obj), name, value, source_line(obj)
            )
            continue
        attributes[name] = value
    return attributes


_Kind = tuple[str] | tuple[str, Callable[[str], AttributeValue]] | None
_GENERIC: _Kind = ("generic",)
_HEIGHT: _Kind = ("height",)  # CityGML 3.0 con:height/con:Height
_EXTERNAL: _Kind = ("externalReference",)


def _property_kind(tag: object) -> _Kind:
    """Tell what a property tag is: generic attribute, standard property or None."""
    if not isinstance(tag, str):
        return None
    name = local_name(tag)
    if is_generics_namespace(namespace(tag)):
        return _GENERIC
    if name == "height" and is_citygml_namespace(namespace(tag)):
        return _HEIGHT
    if name == "externalReference":
        return _EXTERNAL
    return _PROPERTIES.get(name)


_PROPERTY_KINDS = TagTable(_property_kind)


def _iter_properties(obj: etree._Element) -> Iterator[tuple[str, AttributeValue]]:
    for prop in obj:
        kind = _PROPERTY_KINDS[prop.tag]
        if kind is None:
            continue
        if kind is _GENERIC:
            yield from _iter_generic(prop, prefix="")
            continue
        if kind is _HEIGHT:
            yield from _iter_height(prop)
            continue
        if kind is _EXTERNAL:
            yield from _iter_external_reference(prop)
            continue
        if len(kind) != 2:  # unreachable: the one-word kinds are handled above (for mypy)
            continue
        key, parse = kind
        value = _parse(obj, key, (prop.text or "").strip(), parse)
        if value is None:
            continue
        if key in _LENGTHS and isinstance(value, float):
            value = _to_metres(value, prop.get("uom"))
        yield key, value


_HEIGHT_REFS = ("highReference", "lowReference")


def _iter_height(prop: etree._Element) -> Iterator[tuple[str, AttributeValue]]:
    """Yield a CityGML 3.0 ``Height``: the measured roof-to-ground one as ``measuredHeight``
    (what CityGML 2.0 calls it), any other as ``height.<highReference>.<lowReference>``."""
    height = find_child(prop, "Height")
    if height is None:
        return
    fields = {local_name(c.tag): c for c in height if isinstance(c.tag, str)}
    value = fields.get("value")
    number = None if value is None else _parse(prop, "height", (value.text or "").strip(), float)
    if not isinstance(number, float):
        return
    assert value is not None
    high, low = ((fields[k].text or "").strip() if k in fields else "" for k in _HEIGHT_REFS)
    status = (fields["status"].text or "").strip() if "status" in fields else ""
    roof_to_ground = (high, low) == ("highestRoofEdge", "lowestGroundPoint")
    key = "measuredHeight" if roof_to_ground and status in ("", "measured") else None
    yield (
        key or f"height.{high or 'unknown'}.{low or 'unknown'}",
        _to_metres(number, value.get("uom")),
    )


def _iter_external_reference(prop: etree._Element) -> Iterator[tuple[str, AttributeValue]]:
    """Yield an external reference (2.0 and 3.0 forms): the object's URI or name, and the
    information system it lives in, as ``externalReference`` and
    ``externalReference.informationSystem``."""
    wrapped = find_child(prop, "ExternalReference")  # 3.0 wraps it in an object
    reference = prop if wrapped is None else wrapped
    texts: dict[str, str] = {}
    for element in reference.iter():
        name = local_name(str(element.tag))
        text = (element.text or "").strip()
        if name in ("informationSystem", "uri", "name", "targetResource") and text:
            texts.setdefault(name, text)
    target = texts.get("uri") or texts.get("targetResource") or texts.get("name")
    if target:
        yield "externalReference", target
    if "informationSystem" in texts:
        yield "externalReference.informationSystem", texts["informationSystem"]


def _iter_generic(prop: etree._Element, prefix: str) -> Iterator[tuple[str, AttributeValue]]:
    """Yield a generic attribute (CityGML 1.0/2.0 or 3.0 form), flattening attribute sets."""
    kind = local_name(prop.tag)
    if kind == "genericAttribute":  # CityGML 3.0 wrapper property
        for inner in children(prop):
            yield from _iter_generic(inner, prefix)
        return
    name = prop.get("name")
    if name is None:  # CityGML 3.0 writes the name as an element
        name_element = find_child(prop, "name")
        name = None if name_element is None else name_element.text
    if name is None:
        return
    if kind in ("genericAttributeSet", "GenericAttributeSet"):
        for member in children(prop):
            yield from _iter_generic(member, f"{prefix}{name}.")
        return
    parse = _GENERIC_TYPES.get(kind)
    if parse is None:
        return
    value_element = find_child(prop, "value")
    text = "" if value_element is None else (value_element.text or "").strip()
    if not text:
        yield prefix + name, "" if parse is _text else None
        return
    yield prefix + name, _parse(prop, prefix + name, text, parse)


def _parse(
    element: etree._Element, key: str, text: str, parse: Callable[[str], AttributeValue]
) -> AttributeValue:
    if not text:
        return None
    try:
        value = parse(text)
    except ValueError:
        logger.warning(
            "line %s: %s value %r is not valid; left out", source_line(element), key, text
        )
        return None
    if isinstance(value, float) and not math.isfinite(value):
        # xs:double reads NaN and INF, but JSON (RFC 8259 §6), and so the catalog, the
        # NGSI-LD entity and the tiles' metadata, holds neither
        logger.warning(
            "line %s: %s value %r is not a finite number; left out",
            source_line(element),
            key,
            text,
        )
        return None
    return value


def _to_metres(value: float, uom: str | None) -> float:
    """Convert a length written in feet to metres; other units are taken as metres.

    >>> _to_metres(10.0, "ft")
    3.048
    """
    unit = (uom or "m").rsplit("#", 1)[-1].rsplit(":", 1)[-1].lower()
    return value * _METRES_PER_FOOT if unit in _FEET_UOMS else value


def _id(obj: etree._Element) -> str:
    return next((str(v) for k, v in obj.attrib.items() if local_name(str(k)) == "id"), "?")


_ADDRESS_FIELDS = {
    "ThoroughfareName": "street",
    "ThoroughfareNumber": "house_number",
    "PostalCodeNumber": "postal_code",
    "LocalityName": "locality",
    "CountryName": "country",
}

_ADDRESS_TAGS = [f"{{*}}{name}" for name in _ADDRESS_FIELDS]

# xAL 3 (OASIS CIQ v3, CityGML 3.0): the element holding each field's text, by parent.
_XAL3_FIELDS = {
    ("Thoroughfare", "NameElement"): "street",
    ("Thoroughfare", "Number"): "house_number",
    ("PostCode", "Identifier"): "postal_code",
    ("Locality", "NameElement"): "locality",
    ("Country", "NameElement"): "country",
}
# A thoroughfare's NameElement may name a landmark on it (NameType="ReferenceLocation") rather
# than the street; xAL 3's code list "NameType" says which (absent = the name itself).
_XAL3_STREET_NAME_TYPES = frozenset({"", "Name", "NameOnly", "NameAndType"})


def read_address(obj: etree._Element) -> Address | None:
    """Return the first address of a city object, or None when it has none.

    xAL 2.0 (CityGML 1.0/2.0), ``address/Address/xalAddress/AddressDetails``: street =
    ThoroughfareName, house_number = ThoroughfareNumber, postal_code = PostalCodeNumber,
    locality = LocalityName, country = CountryName. xAL 3.0 (CityGML 3.0),
    ``address/Address/xalAddress/Address``: street = Thoroughfare/NameElement (not a
    ReferenceLocation), house_number = Thoroughfare/Number, postal_code = PostCode/Identifier,
    locality = Locality/NameElement, country = Country/NameElement. Empty elements count as
    absent; the first of a repeated field is kept.
    """
    for xal in _xal_addresses(obj):
        fields = _xal2_fields(xal) if local_name(xal.tag) == "AddressDetails" else _xal3_fields(xal)
        if fields:
            return Address(**fields)
    return None


def _xal2_fields(details: etree._Element) -> dict[str, str]:
    fields: dict[str, str] = {}
    for element in details.iter(_ADDRESS_TAGS):  # matched in lxml's C code, any namespace
        field_name = _ADDRESS_FIELDS[LOCAL_NAMES[element.tag]]
        text = (element.text or "").strip()
        if text and field_name not in fields:
            fields[field_name] = text
    return fields


def _xal3_fields(address: etree._Element) -> dict[str, str]:
    fields: dict[str, str] = {}
    for element in address.iter():
        parent = element.getparent()
        if parent is None or not isinstance(element.tag, str):
            continue
        field_name = _XAL3_FIELDS.get((local_name(str(parent.tag)), local_name(element.tag)))
        text = (element.text or "").strip()
        if field_name is None or not text or field_name in fields:
            continue
        if field_name == "street" and _name_type(element) not in _XAL3_STREET_NAME_TYPES:
            continue
        fields[field_name] = text
    return fields


def _name_type(element: etree._Element) -> str:
    return next((str(v) for k, v in element.attrib.items() if local_name(str(k)) == "NameType"), "")


def _xal_addresses(obj: etree._Element) -> Iterator[etree._Element]:
    """Yield the xAL address elements (2.0 AddressDetails or 3.0 Address) of ``obj``."""
    for prop in obj.iterchildren("{*}address"):  # matched in lxml's C code, any namespace
        postal = find_child(prop, "Address")
        xal = None if postal is None else find_child(postal, "xalAddress")
        if xal is None:
            continue
        found = find_child(xal, "AddressDetails")
        if found is None:
            found = find_child(xal, "Address")
        if found is not None:
            yield found
