"""Geo-queries (CIM 009 clause 4.10): parsing, distances in metres, topological relations."""

from __future__ import annotations

import math
from typing import Any

import pyproj
import pytest
from hypothesis import given
from hypothesis import strategies as st
from shapely.geometry import Point

from twin.errors import QueryError
from twin.ngsild.query import distance_m, evaluate_geo, parse_geoquery

# 1 km along a meridian on the mean-radius sphere: 1000 / 6371008.8 rad in degrees.
KM_DEG = math.degrees(1000 / 6_371_008.8)  # ≈ 0.008993°
SQUARE = "[[[100.0,0.0],[101.0,0.0],[101.0,1.0],[100.0,1.0],[100.0,0.0]]]"  # clause 4.10 ex. 2


def _entity(geometry: dict[str, Any], prop: str = "location") -> dict[str, Any]:
    return {"id": "urn:ngsi-ld:Thing:1", prop: {"type": "GeoProperty", "value": geometry}}


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def _polygon(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_km_along_meridian() -> None:
    assert round(KM_DEG, 6) == 0.008993
    assert distance_m(Point(8.0, 40.0), Point(8.0, 40.0 + KM_DEG)) == pytest.approx(1000, rel=1e-9)


@pytest.mark.parametrize(
    ("a", "b"),
    [((13.377704, 52.516275), (13.409419, 52.520817)), ((8.0, 40.0), (8.3, 40.2))],
    ids=["berlin-gate-to-tv-tower", "30km-diagonal"],
)
def test_within_half_a_percent_of_the_wgs84_geodesic(
    a: tuple[float, float], b: tuple[float, float]
) -> None:
    geodesic = pyproj.Geod(ellps="WGS84").inv(*a, *b)[2]  # an independent reference
    assert distance_m(Point(*a), Point(*b)) == pytest.approx(geodesic, rel=0.005)


NEAR = [
    ("near;maxDistance==1001", KM_DEG, True),
    ("near;maxDistance==999", KM_DEG, False),
    ("near;minDistance==999", KM_DEG, True),
    ("near;minDistance==1001", KM_DEG, False),
    ("near;maxDistance==2000", 0.0, True),
    ("near;minDistance==1", 0.0, False),
    ("near;maxDistance==1.5e3", KM_DEG, True),
]


@pytest.mark.parametrize(("georel", "dlat", "expected"), NEAR)
def test_near_point(georel: str, dlat: float, expected: bool) -> None:
    query = parse_geoquery(georel, "Point", "[8,40]")
    assert evaluate_geo(query, _entity(_point(8.0, 40.0 + dlat))) is expected


def test_near_measures_to_the_closest_edge() -> None:
    # A building footprint whose south edge is 1 km north of the reference point.
    query = parse_geoquery("near;maxDistance==1010", "Point", "[8,40]")
    footprint = _polygon(7.999, 40.0 + KM_DEG, 8.001, 40.0 + KM_DEG + 0.001)
    assert evaluate_geo(query, _entity(footprint))
    far = parse_geoquery("near;maxDistance==990", "Point", "[8,40]")
    assert not evaluate_geo(far, _entity(footprint))


def test_near_across_the_antimeridian() -> None:
    assert distance_m(Point(179.999, 0.0), Point(-179.999, 0.0)) == pytest.approx(222.4, abs=0.5)


RELATIONS = [
    ("within", _point(100.5, 0.5), True),
    ("within", _point(102.0, 0.5), False),
    ("within", _polygon(100.2, 0.2, 100.8, 0.8), True),
    ("contains", _polygon(99.0, -1.0, 102.0, 2.0), True),
    ("contains", _polygon(100.2, 0.2, 100.8, 0.8), False),
    ("intersects", _polygon(100.5, 0.5, 102.0, 2.0), True),
    ("intersects", _polygon(102.0, 2.0, 103.0, 3.0), False),
    ("intersects", _point(101.0, 0.5), True),  # on the boundary
    ("disjoint", _polygon(102.0, 2.0, 103.0, 3.0), True),
    ("disjoint", _point(100.5, 0.5), False),
    ("equals", _polygon(100.0, 0.0, 101.0, 1.0), True),
    (
        "equals",
        {"type": "Polygon", "coordinates": [[[101, 1], [100, 1], [100, 0], [101, 0], [101, 1]]]},
        True,
    ),
    ("equals", _polygon(100.0, 0.0, 101.0, 1.5), False),
    ("overlaps", _polygon(100.5, 0.5, 102.0, 2.0), True),
    ("overlaps", _polygon(100.2, 0.2, 100.8, 0.8), False),
    ("overlaps", _polygon(102.0, 2.0, 103.0, 3.0), False),
]


@pytest.mark.parametrize(("georel", "target", "expected"), RELATIONS)
def test_relations_with_a_polygon(georel: str, target: dict[str, Any], expected: bool) -> None:
    query = parse_geoquery(georel, "Polygon", SQUARE)
    assert evaluate_geo(query, _entity(target)) is expected


def test_other_geoproperty() -> None:
    query = parse_geoquery("within", "Polygon", SQUARE, geoproperty="observationSpace")
    entity = _entity(_point(100.5, 0.5), prop="observationSpace")
    assert evaluate_geo(query, entity)
    assert not evaluate_geo(parse_geoquery("within", "Polygon", SQUARE), entity)


@pytest.mark.parametrize(
    "entity",
    [
        {"id": "urn:x:1"},
        {"location": {"type": "GeoProperty", "value": {"type": "Point"}}},
        {"location": {"type": "GeoProperty", "value": "POINT (1 2)"}},
        {"location": {"type": "Property", "value": 3}},
    ],
    ids=["missing", "no-coordinates", "wkt", "not-geojson"],
)
def test_entity_without_readable_geometry_does_not_match(entity: dict[str, Any]) -> None:
    assert not evaluate_geo(parse_geoquery("disjoint", "Polygon", SQUARE), entity)


def test_multi_instance_geoproperty_matches_any() -> None:
    entity = {
        "location": [
            {"type": "GeoProperty", "value": _point(0, 0), "datasetId": "urn:a"},
            {"type": "GeoProperty", "value": _point(100.5, 0.5), "datasetId": "urn:b"},
        ]
    }
    assert evaluate_geo(parse_geoquery("within", "Polygon", SQUARE), entity)


@pytest.mark.parametrize(
    ("geometry", "coordinates"),
    [
        ("MultiPoint", "[[8,40],[9,41]]"),
        ("LineString", "[[8,40],[9,41]]"),
        ("MultiLineString", "[[[8,40],[9,41]],[[10,40],[11,41]]]"),
        ("MultiPolygon", f"[{SQUARE}]"),
        ("Point", "[8, 40, 35.5]"),
    ],
)
def test_every_geometry_type_parses(geometry: str, coordinates: str) -> None:
    assert parse_geoquery("intersects", geometry, coordinates).geometry == geometry


NEEDS = "needs ';maxDistance==<metres>' or ';minDistance==<metres>'"
RELS = "near, within, contains, intersects, equals, disjoint, overlaps"
TYPES = "Point, MultiPoint, LineString, MultiLineString, Polygon, MultiPolygon"
RING = "a ring of the Polygon is not closed or has fewer than 4 positions"
SHALLOW = "coordinates nest too shallowly for a Polygon"
MALFORMED = [
    ("near", "Point", "[8,40]", f"georel 'near' {NEEDS}"),
    ("near;maxDistance==0", "Point", "[8,40]", f"georel 'near;maxDistance==0' {NEEDS}"),
    ("near;maxDistance==-5", "Point", "[8,40]", f"georel 'near;maxDistance==-5' {NEEDS}"),
    ("near;distance==5", "Point", "[8,40]", f"georel 'near;distance==5' {NEEDS}"),
    ("touches", "Point", "[8,40]", f"unknown georel 'touches'; expected one of {RELS}"),
    ("within", "Circle", "[8,40]", f"unknown geometry 'Circle'; expected one of {TYPES}"),
    (
        "within",
        "GeometryCollection",
        "[]",
        f"unknown geometry 'GeometryCollection'; expected one of {TYPES}",
    ),
    ("within", "Point", "8,40", "coordinates must be a JSON array, e.g. [8,40]"),
    ("within", "Point", "[8,40", "coordinates are not a JSON array: Expecting ',' delimiter at 5"),
    ("within", "Point", "[8]", "[8] is not a position [lon, lat] in the Point"),
    ("within", "Point", '[8,"40"]', '[8, "40"] is not a position [lon, lat] in the Point'),
    ("within", "Point", "[[8,40]]", "[[8, 40]] is not a position [lon, lat] in the Point"),
    ("within", "Point", "[200,40]", "position [200, 40] is outside lon [-180, 180], lat [-90, 90]"),
    ("within", "Polygon", "[[8,40],[9,40],[9,41],[8,40]]", SHALLOW),
    ("within", "Polygon", "[]", SHALLOW),
    ("within", "LineString", "[[8,40]]", "a line of the LineString has fewer than 2 positions"),
    ("within", "Polygon", "[[[8,40],[9,40],[8,40]]]", RING),
    ("within", "Polygon", "[[[8,40],[9,40],[9,41],[8,41]]]", RING),
    (
        "within",
        "Polygon",
        "[[[0,0],[1,1],[1,0],[0,1],[0,0]]]",
        "invalid Polygon: Self-intersection[0.5 0.5]",
    ),
]


@pytest.mark.parametrize(("georel", "geometry", "coordinates", "message"), MALFORMED)
def test_malformed(georel: str, geometry: str, coordinates: str, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_geoquery(georel, geometry, coordinates)
    assert str(caught.value) == "invalid geo-query: " + message


_lon = st.floats(-179.0, 179.0)
_lat = st.floats(-80.0, 80.0)


@given(_lon, _lat, st.floats(0.0, 5000.0), st.floats(0.0, 2 * math.pi))
def test_distance_agrees_with_haversine_offsets(
    lon: float, lat: float, metres: float, bearing: float
) -> None:
    """A point moved ``metres`` along a bearing on the sphere is ``metres`` away."""
    r = 6_371_008.8
    d = metres / r
    phi, lmb = math.radians(lat), math.radians(lon)
    phi2 = math.asin(math.sin(phi) * math.cos(d) + math.cos(phi) * math.sin(d) * math.cos(bearing))
    lmb2 = lmb + math.atan2(
        math.sin(bearing) * math.sin(d) * math.cos(phi),
        math.cos(d) - math.sin(phi) * math.sin(phi2),
    )
    other = Point(math.degrees(lmb2), math.degrees(phi2))
    assert distance_m(Point(lon, lat), other) == pytest.approx(metres, abs=1e-6)
