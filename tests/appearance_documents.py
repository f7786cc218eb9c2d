"""A hand-written textured CityGML 2.0 building, for the appearance tests of reader and tiles.

One Building in EPSG:25832 with three LoD2 polygons:

- ``wall``: a vertical scalene quadrilateral (no two sides alike, so a texture coordinate on
  the wrong vertex changes a distance), textured with ``tex.png`` by a ParameterizedTexture;
- ``roof``: a triangle with an X3DMaterial (diffuse, emissive, shininess, transparency);
- ``ground``: a square with no appearance (keeps its class colour).

The appearance is a top-level ``appearanceMember`` written after the building, as PLATEAU and
most exporters do.

:func:`write_district` writes a district of one-wall buildings sharing one texture atlas.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image

X0, Y0, Z0 = 690000.0, 5336000.0, 500.0
WALL = [(0.0, 0.0, 0.0), (4.0, 0.0, 0.0), (3.0, 0.0, 2.5), (0.0, 0.0, 1.0)]
"""Wall corners relative to (X0, Y0, Z0), in ring order (open)."""
WALL_UV = [(0.0, 0.0), (1.0, 0.0), (0.75, 0.625), (0.0, 0.25)]
"""Texture coordinates (s, t) of the wall's corners as the file writes them (origin lower left)."""
DIFFUSE, EMISSIVE, SHININESS, TRANSPARENCY = (0.5, 0.25, 1.0), (0.2, 0.0, 0.0), 0.6, 0.5


def _pos_list(points: list[tuple[float, float, float]]) -> str:
    closed = [*points, points[0]]
    return " ".join(f"{X0 + x} {Y0 + y} {Z0 + z}" for x, y, z in closed)


def _surface(kind: str, gml_id: str, points: list[tuple[float, float, float]]) -> str:
    return (
        f"<bldg:boundedBy><bldg:{kind}><bldg:lod2MultiSurface><gml:MultiSurface>"
        f'<gml:surfaceMember><gml:Polygon gml:id="{gml_id}"><gml:exterior>'
        f'<gml:LinearRing gml:id="{gml_id}-ring"><gml:posList>{_pos_list(points)}'
        "</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon></gml:surfaceMember>"
        f"</gml:MultiSurface></bldg:lod2MultiSurface></bldg:{kind}></bldg:boundedBy>"
    )


def _model_head(dx: float, dy: float, dz: float) -> str:
    """Return the XML declaration, the CityModel's start tag and its envelope, which spans
    (X0, Y0, Z0) to (X0 + dx, Y0 + dy, Z0 + dz) in EPSG:25832."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<CityModel xmlns="http://www.opengis.net/citygml/2.0"'
        ' xmlns:bldg="http://www.opengis.net/citygml/building/2.0"'
        ' xmlns:app="http://www.opengis.net/citygml/appearance/2.0"'
        ' xmlns:gml="http://www.opengis.net/gml">\n'
        '<gml:boundedBy><gml:Envelope srsName="EPSG:25832" srsDimension="3">'
        f"<gml:lowerCorner>{X0} {Y0} {Z0}</gml:lowerCorner>"
        f"<gml:upperCorner>{X0 + dx} {Y0 + dy} {Z0 + dz}</gml:upperCorner>"
        "</gml:Envelope></gml:boundedBy>\n"
    )


def appearance(
    image: str = "tex.png",
    wrap: str = "mirror",
    theme: str = "photo",
    wall_target: str = "wall",
    extra: str = "",
    wall_uv: list[tuple[float, float]] = WALL_UV,
    specular: str = "1 1 1",
) -> str:
    """Return an ``app:Appearance`` texturing the wall and giving the roof its material."""
    uv = " ".join(f"{s} {t}" for s, t in [*wall_uv, wall_uv[0]])
    return (
        f"<app:Appearance><app:theme>{theme}</app:theme>"
        "<app:surfaceDataMember><app:ParameterizedTexture>"
        f"<app:imageURI>{image}</app:imageURI><app:mimeType>image/png</app:mimeType>"
        f"<app:wrapMode>{wrap}</app:wrapMode>"
        f'<app:target uri="#{wall_target}"><app:TexCoordList>'
        f'<app:textureCoordinates ring="#{wall_target}-ring">{uv}</app:textureCoordinates>'
        "</app:TexCoordList></app:target></app:ParameterizedTexture></app:surfaceDataMember>"
        "<app:surfaceDataMember><app:X3DMaterial>"
        f"<app:shininess>{SHININESS}</app:shininess>"
        f"<app:transparency>{TRANSPARENCY}</app:transparency>"
        f"<app:diffuseColor>{' '.join(map(str, DIFFUSE))}</app:diffuseColor>"
        f"<app:emissiveColor>{' '.join(map(str, EMISSIVE))}</app:emissiveColor>"
        f"<app:specularColor>{specular}</app:specularColor>"
        "<app:target>#roof</app:target></app:X3DMaterial></app:surfaceDataMember>"
        f"{extra}</app:Appearance>"
    )


def textured_building(appearances: list[str] | None = None, local: str = "") -> str:
    """Return the document: the building (with ``local`` appearances in it), then members."""
    surfaces = (
        _surface("WallSurface", "wall", WALL)
        + _surface("RoofSurface", "roof", [(0.0, 0.0, 1.0), (4.0, 0.0, 0.0), (2.0, 3.0, 4.0)])
        + _surface(
            "GroundSurface",
            "ground",
            [(0.0, 0.0, 0.0), (0.0, 4.0, 0.0), (4.0, 4.0, 0.0), (4.0, 0.0, 0.0)],
        )
    )
    members = "".join(
        f"<app:appearanceMember>{a}</app:appearanceMember>\n"
        for a in (appearances if appearances is not None else [appearance()])
    )
    return (
        _model_head(4.0, 4.0, 4.0)
        + f'<cityObjectMember><bldg:Building gml:id="b-1">{local}{surfaces}'
        "</bldg:Building></cityObjectMember>\n"
        f"{members}</CityModel>\n"
    )


def write_textured(folder: Path, document: str | None = None, image: bool = True) -> Path:
    """Write the document (default: :func:`textured_building`) and a 4×2 ``tex.png`` beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "textured.gml"
    path.write_text(document if document is not None else textured_building(), encoding="utf-8")
    if image:
        Image.new("RGB", (4, 2), (200, 30, 40)).save(folder / "tex.png")
    return path


def write_district(folder: Path, atlas: Path, cells: int) -> Path:
    """Write ``cells × cells`` one-wall buildings sharing the image ``atlas`` (copied beside).

    Building ``b-i-j`` stands 30 m from its neighbours (EPSG:25832); its south wall, 10 m by
    8 m, is textured with cell (i, j) of the atlas cut into ``cells × cells`` (less 5% of a cell
    on each side), by one top-level ParameterizedTexture, as a district atlas is.
    """
    walls, targets = [], []
    for i in range(cells):
        for j in range(cells):
            x, y = X0 + 30 * i, Y0 + 30 * j
            ring = [(x, y, Z0), (x + 10, y, Z0), (x + 10, y, Z0 + 8), (x, y, Z0 + 8)]
            pos = " ".join(f"{a} {b} {c}" for a, b, c in [*ring, ring[0]])
            walls.append(
                f'<cityObjectMember><bldg:Building gml:id="b-{i}-{j}"><bldg:boundedBy>'
                "<bldg:WallSurface><bldg:lod2MultiSurface><gml:MultiSurface><gml:surfaceMember>"
                f'<gml:Polygon gml:id="w-{i}-{j}"><gml:exterior><gml:LinearRing gml:id="r-{i}-{j}">'
                f"<gml:posList>{pos}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"
                "</gml:surfaceMember></gml:MultiSurface></bldg:lod2MultiSurface>"
                "</bldg:WallSurface></bldg:boundedBy></bldg:Building></cityObjectMember>\n"
            )
            s0, t0 = (i + 0.05) / cells, (j + 0.05) / cells
            s1, t1 = (i + 0.95) / cells, (j + 0.95) / cells
            uv = f"{s0} {t0} {s1} {t0} {s1} {t1} {s0} {t1} {s0} {t0}"
            targets.append(
                f'<app:target uri="#w-{i}-{j}"><app:TexCoordList><app:textureCoordinates '
                f'ring="#r-{i}-{j}">{uv}</app:textureCoordinates></app:TexCoordList></app:target>'
            )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "district.gml"
    path.write_text(
        _model_head(30.0 * cells, 30.0 * cells, 8.0)
        + "".join(walls)
        + "<app:appearanceMember><app:Appearance><app:surfaceDataMember><app:ParameterizedTexture>"
        f"<app:imageURI>{atlas.name}</app:imageURI>{''.join(targets)}</app:ParameterizedTexture>"
        "</app:surfaceDataMember></app:Appearance></app:appearanceMember>\n</CityModel>\n",
        encoding="utf-8",
    )
    shutil.copy(atlas, folder / atlas.name)
    return path
