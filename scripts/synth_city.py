#!/usr/bin/env python3
"""Write a synthetic CityGML 2.0 city: N LoD2 buildings on a jittered street grid.

Buildings get gable, hip or flat roofs with semantic Roof/Wall/Ground surfaces and a
``lod2Solid`` whose members are xlinks to the ``boundedBy`` polygons. Some are courtyard blocks
(ground and roof polygons with an interior ring, walls facing into the courtyard), some are made
of two ``BuildingPart`` s. Every building carries typed CityGML and generic attributes, some an
xAL address. The document is streamed to disk building by building (never held in memory) and is
the same for the same ``--seed``.

Usage::

    scripts/synth_city.py 10000 city.gml --seed 1 --crs EPSG:25832+7837

Output ending in ``.gz`` is gzip-compressed.
"""

from __future__ import annotations

import argparse
import gzip
import math
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

LOT_M = 24.0  # lot pitch along a street
STREET_M = 16.0  # street width between blocks
LOTS_PER_BLOCK = 4  # lots per block side
COURTYARD_SHARE = 0.05
PARTS_SHARE = 0.10
ADDRESS_SHARE = 0.30
ROOFS = ("gable", "hip", "flat")
ROOF_CODES = {"flat": "1000", "gable": "3100", "hip": "3200"}  # AdV roofType codes

_HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<core:CityModel xmlns:core="http://www.opengis.net/citygml/2.0" \
xmlns:bldg="http://www.opengis.net/citygml/building/2.0" \
xmlns:gen="http://www.opengis.net/citygml/generics/2.0" xmlns:gml="http://www.opengis.net/gml" \
xmlns:xAL="urn:oasis:names:tc:ciq:xsdschema:xAL:2.0" xmlns:xlink="http://www.w3.org/1999/xlink">
<gml:name>synthetic city, {n} buildings, seed {seed}</gml:name>
<gml:boundedBy><gml:Envelope srsName="{srs}" srsDimension="3">\
<gml:lowerCorner>{lo}</gml:lowerCorner><gml:upperCorner>{hi}</gml:upperCorner></gml:Envelope>\
</gml:boundedBy>
"""
_FOOTER = "</core:CityModel>\n"


def srs_name(crs: str) -> str:
    """Return the srsName URN of ``EPSG:h`` or ``EPSG:h+v``.

    >>> srs_name("EPSG:25832+7837")
    'urn:ogc:def:crs,crs:EPSG::25832,crs:EPSG::7837'
    >>> srs_name("EPSG:3879")
    'urn:ogc:def:crs:EPSG::3879'
    """
    match = re.fullmatch(r"EPSG:(\d+)(?:\+(\d+))?", crs, re.IGNORECASE)
    if match is None:
        raise ValueError(f"--crs must read EPSG:<code> or EPSG:<code>+<code>, got {crs!r}")
    h, v = match.groups()
    return f"urn:ogc:def:crs,crs:EPSG::{h},crs:EPSG::{v}" if v else f"urn:ogc:def:crs:EPSG::{h}"


def lot_origins(n: int, origin: tuple[float, float]) -> np.ndarray:
    """Return (n, 2) lot corners on a street grid: blocks of ``LOTS_PER_BLOCK``² lots.

    >>> lot_origins(3, (0.0, 0.0)).tolist()
    [[0.0, 0.0], [24.0, 0.0], [0.0, 24.0]]
    """
    side = max(1, math.ceil(math.sqrt(n)))
    k = np.arange(n)
    ij = np.column_stack([k % side, k // side]).astype(np.float64)
    streets = np.floor(ij / LOTS_PER_BLOCK) * STREET_M
    return np.asarray(ij * LOT_M + streets + np.asarray(origin), dtype=np.float64)


def _pos(points: np.ndarray) -> str:
    """Format an open ring (k, 3) as a closed posList (mm resolution)."""
    closed = np.vstack([points, points[:1]])
    return " ".join(f"{v:.3f}" for v in closed.reshape(-1))


def _polygon(pid: str, exterior: np.ndarray, holes: tuple[np.ndarray, ...] = ()) -> str:
    rings = f"<gml:exterior><gml:LinearRing><gml:posList>{_pos(exterior)}</gml:posList>"
    rings += "</gml:LinearRing></gml:exterior>"
    for hole in holes:
        rings += f"<gml:interior><gml:LinearRing><gml:posList>{_pos(hole)}</gml:posList>"
        rings += "</gml:LinearRing></gml:interior>"
    return f'<gml:Polygon gml:id="{pid}">{rings}</gml:Polygon>'


def _at(ring2d: np.ndarray, z: float) -> np.ndarray:
    return np.column_stack([ring2d, np.full(len(ring2d), z)])


def _walls(ring2d: np.ndarray, z0: float, z1: float) -> list[np.ndarray]:
    """Return one quad per edge; outward when ``ring2d`` runs counter-clockwise from above."""
    b = np.roll(ring2d, -1, axis=0)
    return [
        np.array([[*p, z0], [*q, z0], [*q, z1], [*p, z1]]) for p, q in zip(ring2d, b, strict=True)
    ]


def box_surfaces(
    corners: np.ndarray, z0: float, z1: float, z2: float, roof: str
) -> list[tuple[str, np.ndarray, tuple[np.ndarray, ...]]]:
    """Return (class, exterior, holes) of a box building with a roof over ``corners`` (4, 2).

    ``corners`` run counter-clockwise seen from above, ``corners[0]→corners[1]`` along the long
    side; the eaves are at ``z1`` and the ridge at ``z2``.

    >>> sq = np.array([[0.0, 0], [10, 0], [10, 6], [0, 6]])
    >>> [(c, len(e)) for c, e, _ in box_surfaces(sq, 0.0, 3.0, 5.0, "gable")]  # doctest: +ELLIPSIS
    [('GroundSurface', 4), ('WallSurface', 4), ('WallSurface', 5), ('WallSurface', 4), ...]
    """
    out: list[tuple[str, np.ndarray, tuple[np.ndarray, ...]]] = [
        ("GroundSurface", _at(corners[::-1], z0), ())
    ]
    p0, p1, p2, p3 = corners
    if roof == "flat":
        out += [("WallSurface", w, ()) for w in _walls(corners, z0, z1)]
        return [*out, ("RoofSurface", _at(corners, z1), ())]
    r0, r1 = (p0 + p3) / 2.0, (p1 + p2) / 2.0
    if roof == "hip":
        inset = (r1 - r0) / np.linalg.norm(r1 - r0) * min(np.linalg.norm(p3 - p0) / 2.0, 3.0)
        r0, r1 = r0 + inset, r1 - inset
        out += [("WallSurface", w, ()) for w in _walls(corners, z0, z1)]
        out += [
            ("RoofSurface", np.array([[*p1, z1], [*p2, z1], [*r1, z2]]), ()),
            ("RoofSurface", np.array([[*p3, z1], [*p0, z1], [*r0, z2]]), ()),
        ]
    else:  # gable: the short walls reach up to the ridge
        long0, gable1, long2, gable3 = _walls(corners, z0, z1)
        gable1 = np.insert(gable1, 3, [*r1, z2], axis=0)
        gable3 = np.insert(gable3, 3, [*r0, z2], axis=0)
        out += [("WallSurface", w, ()) for w in (long0, gable1, long2, gable3)]
    out += [
        ("RoofSurface", np.array([[*p0, z1], [*p1, z1], [*r1, z2], [*r0, z2]]), ()),
        ("RoofSurface", np.array([[*p2, z1], [*p3, z1], [*r0, z2], [*r1, z2]]), ()),
    ]
    return out


def courtyard_surfaces(
    outer: np.ndarray, inner: np.ndarray, z0: float, z1: float
) -> list[tuple[str, np.ndarray, tuple[np.ndarray, ...]]]:
    """Return the surfaces of a flat-roofed block around a courtyard (both rings CCW, (4, 2))."""
    out: list[tuple[str, np.ndarray, tuple[np.ndarray, ...]]] = [
        ("GroundSurface", _at(outer[::-1], z0), (_at(inner, z0),)),
        ("RoofSurface", _at(outer, z1), (_at(inner[::-1], z1),)),
    ]
    out += [("WallSurface", w, ()) for w in _walls(outer, z0, z1)]
    out += [("WallSurface", w, ()) for w in _walls(inner[::-1], z0, z1)]  # face the courtyard
    return out


def _rect(centre: np.ndarray, width: float, depth: float, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    local = np.array([[-width, -depth], [width, -depth], [width, depth], [-width, depth]]) / 2.0
    return np.asarray(local @ np.array([[c, s], [-s, c]]) + centre)


def _geometry_xml(gid: str, surfaces: list[tuple[str, np.ndarray, tuple[np.ndarray, ...]]]) -> str:
    """Return ``lod2Solid`` (xlinks) and ``boundedBy`` elements of an object."""
    ids = [f"{gid}_p{k}" for k in range(len(surfaces))]
    members = "".join(f'<gml:surfaceMember xlink:href="#{pid}"/>' for pid in ids)
    parts = [
        "<bldg:lod2Solid><gml:Solid><gml:exterior><gml:CompositeSurface>",
        members,
        "</gml:CompositeSurface></gml:exterior></gml:Solid></bldg:lod2Solid>\n",
    ]
    for pid, (cls, exterior, holes) in zip(ids, surfaces, strict=True):
        parts.append(
            f'<bldg:boundedBy><bldg:{cls} gml:id="{pid}_s"><bldg:lod2MultiSurface>'
            f"<gml:MultiSurface><gml:surfaceMember>{_polygon(pid, exterior, holes)}"
            f"</gml:surfaceMember></gml:MultiSurface></bldg:lod2MultiSurface></bldg:{cls}>"
            "</bldg:boundedBy>\n"
        )
    return "".join(parts)


def _attributes_xml(rng: np.random.Generator, i: int, roof: str, height: float) -> str:
    year = int(rng.integers(1850, 2024))
    storeys = max(1, round(height / 3.0))
    return (
        f"<gml:name>Building {i}</gml:name>"
        f"<core:creationDate>2024-0{1 + i % 9}-1{i % 10}</core:creationDate>"
        f'<gen:stringAttribute name="district"><gen:value>D{i % 17}</gen:value>'
        "</gen:stringAttribute>"
        f'<gen:intAttribute name="residents"><gen:value>{int(rng.integers(0, 80))}</gen:value>'
        "</gen:intAttribute>"
        f'<gen:doubleAttribute name="energyDemand"><gen:value>{rng.uniform(40, 250):.1f}'
        "</gen:value></gen:doubleAttribute>"
        f'<gen:measureAttribute name="roofArea"><gen:value uom="m2">{rng.uniform(50, 400):.2f}'
        "</gen:value></gen:measureAttribute>"
        f'<gen:dateAttribute name="surveyed"><gen:value>20{10 + i % 14}-06-01</gen:value>'
        "</gen:dateAttribute>\n"
        f"<bldg:function>31001_{1000 + 10 * (i % 4)}</bldg:function>"
        f"<bldg:yearOfConstruction>{year}</bldg:yearOfConstruction>"
        f"<bldg:roofType>{ROOF_CODES[roof]}</bldg:roofType>"
        f'<bldg:measuredHeight uom="m">{height:.2f}</bldg:measuredHeight>'
        f"<bldg:storeysAboveGround>{storeys}</bldg:storeysAboveGround>\n"
    )


def _address_xml(i: int) -> str:
    return (
        "<bldg:address><core:Address><core:xalAddress><xAL:AddressDetails><xAL:Country>"
        "<xAL:CountryName>Germany</xAL:CountryName><xAL:Locality Type='Town'>"
        "<xAL:LocalityName>Synthstadt</xAL:LocalityName><xAL:Thoroughfare Type='Street'>"
        f"<xAL:ThoroughfareNumber>{1 + i % 97}</xAL:ThoroughfareNumber>"
        f"<xAL:ThoroughfareName>Street {i // 97}</xAL:ThoroughfareName></xAL:Thoroughfare>"
        "<xAL:PostalCode><xAL:PostalCodeNumber>76131</xAL:PostalCodeNumber></xAL:PostalCode>"
        "</xAL:Locality></xAL:Country></xAL:AddressDetails></core:xalAddress></core:Address>"
        "</bldg:address>\n"
    )


def building_xml(i: int, lot: np.ndarray, ground_z: float, rng: np.random.Generator) -> str:
    """Return one ``cityObjectMember`` for building ``i`` on the lot at ``lot`` (2,)."""
    gid = f"SYN_{i:07d}"
    kind = rng.random()
    angle = float(rng.normal(0.0, 0.05))
    centre = lot + LOT_M / 2.0 + rng.uniform(-1.5, 1.5, 2)
    z0 = ground_z + float(rng.uniform(-0.3, 0.3))
    eaves = float(rng.uniform(6.0, 18.0))
    roof = ROOFS[int(rng.integers(0, 3))]
    ridge = 0.0 if roof == "flat" else float(rng.uniform(2.5, 6.0))
    body: str
    if kind < COURTYARD_SHARE:
        roof, ridge = "flat", 0.0
        outer, inner = _rect(centre, 21.0, 21.0, angle), _rect(centre, 9.0, 9.0, angle)
        body = _geometry_xml(gid, courtyard_surfaces(outer, inner, z0, z0 + eaves))
    elif kind < COURTYARD_SHARE + PARTS_SHARE:
        main = _rect(centre - np.array([3.0, 0.0]), 12.0, 10.0, angle)
        annex = _rect(centre + np.array([6.5, 0.0]), 6.0, 8.0, angle)
        parts = [
            (f"{gid}_part1", box_surfaces(main, z0, z0 + eaves, z0 + eaves + ridge, roof)),
            (f"{gid}_part2", box_surfaces(annex, z0, z0 + 4.0, z0 + 4.0, "flat")),
        ]
        body = "".join(
            f'<bldg:consistsOfBuildingPart><bldg:BuildingPart gml:id="{pid}">'
            f"<bldg:roofType>{ROOF_CODES[r]}</bldg:roofType>\n{_geometry_xml(pid, s)}"
            "</bldg:BuildingPart></bldg:consistsOfBuildingPart>\n"
            for (pid, s), r in zip(parts, (roof, "flat"), strict=True)
        )
    else:
        width, depth = float(rng.uniform(9.0, 18.0)), float(rng.uniform(7.0, 11.0))
        corners = _rect(centre, width, depth, angle)
        body = _geometry_xml(gid, box_surfaces(corners, z0, z0 + eaves, z0 + eaves + ridge, roof))
    address = _address_xml(i) if rng.random() < ADDRESS_SHARE else ""
    attributes = _attributes_xml(rng, i, roof, eaves + ridge)
    return (
        f'<core:cityObjectMember><bldg:Building gml:id="{gid}">\n{attributes}{body}{address}'
        "</bldg:Building></core:cityObjectMember>\n"
    )


def iter_document(n: int, seed: int, srs: str, origin: tuple[float, float, float]) -> Iterator[str]:
    """Yield the document in pieces: header, one piece per building, footer."""
    rng = np.random.default_rng(seed)
    lots = lot_origins(n, origin[:2])
    lo = lots.min(axis=0) if n else np.asarray(origin[:2])
    hi = (lots.max(axis=0) if n else lo) + LOT_M
    yield _HEADER.format(
        n=n,
        seed=seed,
        srs=srs,
        lo=f"{lo[0]:.3f} {lo[1]:.3f} {origin[2] - 5:.3f}",
        hi=f"{hi[0]:.3f} {hi[1]:.3f} {origin[2] + 40:.3f}",
    )
    for i in range(n):
        ground = origin[2] + 5.0 * math.sin(lots[i, 0] / 700.0) * math.cos(lots[i, 1] / 900.0)
        yield building_xml(i, lots[i], ground, rng)
    yield _FOOTER


def write_city(
    path: Path,
    n: int,
    *,
    seed: int = 0,
    crs: str = "EPSG:25832+7837",
    origin: tuple[float, float, float] = (456_000.0, 5_430_000.0, 115.0),
) -> int:
    """Write a synthetic city of ``n`` buildings to ``path``; return the bytes written."""
    srs = srs_name(crs)
    opener = gzip.open if path.suffix == ".gz" else open
    written = 0
    with opener(path, "wt", encoding="utf-8") as out:
        stream: IO[str] = out
        for piece in iter_document(n, seed, srs, origin):
            stream.write(piece)
            written += len(piece)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("buildings", type=int, help="number of buildings")
    parser.add_argument("out", type=Path, help="output .gml (or .gml.gz)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--crs", default="EPSG:25832+7837", help="EPSG:<h> or EPSG:<h>+<v>")
    parser.add_argument(
        "--origin",
        type=float,
        nargs=3,
        default=(456_000.0, 5_430_000.0, 115.0),
        metavar=("X", "Y", "H"),
        help="south-west corner and ground height, in the CRS (default: Karlsruhe, UTM 32)",
    )
    args = parser.parse_args(argv)
    if args.buildings < 0:
        parser.error("buildings must be >= 0")
    size = write_city(args.out, args.buildings, seed=args.seed, crs=args.crs, origin=args.origin)
    print(f"{args.out}: {args.buildings} buildings, {size / 1e6:.1f} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
