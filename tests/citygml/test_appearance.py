"""The reader gives each polygon its X3DMaterial or texture and each vertex its texture coordinate;
what it cannot draw (missing images, other themes, GeoreferencedTexture, unknown targets) is
counted for the import report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from appearance_documents import (
    DIFFUSE,
    EMISSIVE,
    SHININESS,
    TRANSPARENCY,
    WALL_UV,
    X0,
    Y0,
    Z0,
    appearance,
    textured_building,
    write_textured,
)
from appearance_documents import WALL as WALL_CORNERS

from twin.citygml import iter_city_objects
from twin.model import AppearanceLog, CityObject, SurfaceAppearance, SurfaceMaterial

WALL, ROOF, GROUND = 0, 1, 2  # polygon order in the fixture


def _read(path: Path, theme: str | None = None) -> tuple[CityObject, AppearanceLog]:
    log = AppearanceLog()
    (obj,) = iter_city_objects(path, appearance_theme=theme, appearance_log=log)
    assert isinstance(obj, CityObject)
    return obj, log


def _material(appearance: SurfaceAppearance, polygon: int) -> SurfaceMaterial | None:
    index = int(appearance.polygon_materials[polygon])
    return None if index < 0 else appearance.materials[index]


@pytest.mark.parametrize("where", ["member after the object", "inside the object"])
def test_texture_and_material_reach_their_polygons(tmp_path: Path, where: str) -> None:
    if where == "member after the object":
        document = textured_building()
    else:
        local = f"<app:appearance>{appearance()}</app:appearance>"
        document = textured_building(appearances=[], local=local)
    obj, log = _read(write_textured(tmp_path, document))
    looks = obj.appearance
    assert looks is not None
    assert looks.uv is not None
    wall = _material(looks, WALL)
    assert wall == SurfaceMaterial(
        (1.0, 1.0, 1.0), shininess=0.0, image=str(tmp_path / "tex.png"), wrap="mirror"
    )
    assert _material(looks, ROOF) == SurfaceMaterial(DIFFUSE, EMISSIVE, SHININESS, TRANSPARENCY)
    assert _material(looks, GROUND) is None
    ring = slice(obj.surfaces.ring_offsets[WALL], obj.surfaces.ring_offsets[WALL + 1])
    assert looks.uv[ring].tolist() == [list(uv) for uv in WALL_UV]  # open ring, file order
    assert looks.uv.shape == (len(obj.surfaces.coords), 2)
    assert (log.theme, log.textured_surfaces, log.material_surfaces) == ("photo", 1, 1)


@pytest.mark.parametrize("wrapper", ["gml:featureMember", "gml:featureMembers"])
def test_an_appearance_written_as_a_gml_feature_member_is_read(
    tmp_path: Path, wrapper: str
) -> None:
    # CityGML 2.0's Appearance is a gml:_Feature: a CityModel may hold it in a plain GML
    # feature member instead of app:appearanceMember.
    document = textured_building(appearances=[]).replace(
        "</CityModel>", f"<{wrapper}>{appearance()}</{wrapper}></CityModel>"
    )
    path = write_textured(tmp_path, document)
    log = AppearanceLog()
    read = list(iter_city_objects(path, appearance_log=log))
    assert [type(o).__name__ for o in read] == ["CityObject"]  # the Appearance is no object
    assert (log.textured_surfaces, log.material_surfaces, log.unknown_targets) == (1, 1, 0)


def test_a_document_without_appearances_gives_none(tmp_path: Path) -> None:
    obj, log = _read(write_textured(tmp_path, textured_building(appearances=[])))
    assert obj.appearance is None
    assert log.empty


def test_textured_surfaces_are_counted_per_image_found_or_not(tmp_path: Path) -> None:
    obj, log = _read(write_textured(tmp_path, image=False))  # the import checks images
    assert obj.appearance is not None
    assert _material(obj.appearance, WALL) is not None
    assert dict(log.image_surfaces) == {str(tmp_path / "tex.png"): 1}


@pytest.mark.parametrize(
    ("asked", "drawn", "ignored"), [(None, "photo", "winter"), ("winter", "winter", "photo")]
)
def test_one_theme_is_drawn_and_the_others_are_reported(
    tmp_path: Path, asked: str | None, drawn: str, ignored: str
) -> None:
    document = textured_building([appearance(), appearance(theme="winter", wrap="wrap")])
    obj, log = _read(write_textured(tmp_path, document), theme=asked)
    assert obj.appearance is not None
    wall = _material(obj.appearance, WALL)
    assert wall is not None
    assert wall.wrap == ("mirror" if drawn == "photo" else "wrap")
    assert log.theme == drawn
    assert dict(log.themes_ignored) == {ignored: 2}


def test_georeferenced_texture_and_unknown_targets_are_reported(tmp_path: Path) -> None:
    georeferenced = (
        "<app:surfaceDataMember><app:GeoreferencedTexture><app:imageURI>ortho.tif"
        "</app:imageURI><app:target>#roof</app:target></app:GeoreferencedTexture>"
        "</app:surfaceDataMember>"
    )
    document = textured_building([appearance(wall_target="nowhere", extra=georeferenced)])
    obj, log = _read(write_textured(tmp_path, document))
    assert obj.appearance is not None
    assert obj.appearance.uv is None
    assert log.ignored == {"GeoreferencedTexture (not supported; surfaces keep colour)": 1}
    assert (log.unknown_targets, log.unknown_examples) == (1, ["nowhere"])


@pytest.mark.parametrize(
    ("wrap", "read_as"), [("none", "clamp"), ("border", "clamp"), ("clamp", "clamp")]
)
def test_wrap_modes_without_a_gltf_sampler_are_clamped_and_reported(
    tmp_path: Path, wrap: str, read_as: str
) -> None:
    obj, log = _read(write_textured(tmp_path, textured_building([appearance(wrap=wrap)])))
    assert obj.appearance is not None
    wall = _material(obj.appearance, WALL)
    assert wall is not None
    assert wall.wrap == read_as
    changed = {f"wrapMode {wrap!r} drawn as clamp-to-edge": 1} if wrap != "clamp" else {}
    assert dict(log.ignored) == changed


def test_a_reversed_polygon_reverses_its_texture_coordinates(tmp_path: Path) -> None:
    document = textured_building().replace(
        '<gml:surfaceMember><gml:Polygon gml:id="wall">',
        '<gml:surfaceMember><gml:OrientableSurface orientation="-"><gml:baseSurface>'
        '<gml:Polygon gml:id="wall">',
        1,
    )
    end = document.index("</gml:Polygon>", document.index('gml:id="wall"'))
    document = (
        document[:end]
        + "</gml:Polygon></gml:baseSurface></gml:OrientableSurface>"
        + document[end + len("</gml:Polygon>") :]
    )
    obj, _ = _read(write_textured(tmp_path, document))
    assert obj.appearance is not None
    assert obj.appearance.uv is not None
    ring = slice(obj.surfaces.ring_offsets[WALL], obj.surfaces.ring_offsets[WALL + 1])
    assert obj.appearance.uv[ring].tolist() == [list(uv) for uv in WALL_UV[::-1]]
    corners = obj.surfaces.coords[ring] - (X0, Y0, Z0)
    np.testing.assert_allclose(corners, np.array(WALL_CORNERS[::-1]))  # each keeps its (s, t)


CITYGML3_TEXTURED = """<?xml version="1.0" encoding="UTF-8"?>
<CityModel xmlns="http://www.opengis.net/citygml/3.0"
    xmlns:bldg="http://www.opengis.net/citygml/building/3.0"
    xmlns:con="http://www.opengis.net/citygml/construction/3.0"
    xmlns:app="http://www.opengis.net/citygml/appearance/3.0"
    xmlns:gml="http://www.opengis.net/gml/3.2">
<cityObjectMember><bldg:Building gml:id="b3">
  <bldg:lod2MultiSurface><gml:MultiSurface srsName="EPSG:25832"><gml:surfaceMember>
    <gml:Polygon gml:id="p3"><gml:exterior><gml:LinearRing gml:id="p3-ring">
      <gml:posList>0 0 0 2 0 0 2 0 1 0 0 0</gml:posList>
    </gml:LinearRing></gml:exterior></gml:Polygon></gml:surfaceMember>
  <gml:surfaceMember><gml:Polygon gml:id="q3"><gml:exterior><gml:LinearRing>
      <gml:posList>0 0 0 0 1 0 0 1 1 0 0 0</gml:posList>
    </gml:LinearRing></gml:exterior></gml:Polygon></gml:surfaceMember>
  </gml:MultiSurface></bldg:lod2MultiSurface>
</bldg:Building></cityObjectMember>
<appearanceMember><app:Appearance><app:theme>rgb</app:theme>
  <app:surfaceData><app:ParameterizedTexture>
    <app:imageURI>tex.png</app:imageURI><app:wrapMode>wrap</app:wrapMode>
    <app:textureParameterization><app:TextureAssociation>
      <app:target>#p3</app:target>
      <app:textureParameterization><app:TexCoordList>
        <app:textureCoordinates ring="#p3-ring">0 0 1 0 1 0.5 0 0</app:textureCoordinates>
      </app:TexCoordList></app:textureParameterization>
    </app:TextureAssociation></app:textureParameterization>
  </app:ParameterizedTexture></app:surfaceData>
  <app:surfaceData><app:X3DMaterial>
    <app:diffuseColor>0.2 0.4 0.6</app:diffuseColor><app:target>#q3</app:target>
  </app:X3DMaterial></app:surfaceData>
</app:Appearance></appearanceMember>
</CityModel>
"""


def test_citygml3_texture_associations_and_materials(tmp_path: Path) -> None:
    path = tmp_path / "textured3.gml"
    path.write_text(CITYGML3_TEXTURED, encoding="utf-8")
    obj, log = _read(path)
    assert obj.appearance is not None
    texture = _material(obj.appearance, 0)
    assert texture is not None
    assert (texture.image, texture.wrap) == (str(tmp_path / "tex.png"), "wrap")
    assert obj.appearance.uv is not None
    assert obj.appearance.uv[:3].tolist() == [[0.0, 0.0], [1.0, 0.0], [1.0, 0.5]]
    assert _material(obj.appearance, 1) == SurfaceMaterial((0.2, 0.4, 0.6))
    assert (log.theme, log.textured_surfaces, log.material_surfaces) == ("rgb", 1, 1)


def test_a_target_naming_a_surface_aggregate_reaches_its_polygons(tmp_path: Path) -> None:
    # PLATEAU vegetation: the X3DMaterial targets the CompositeSurface, not its polygons
    document = (
        textured_building()
        .replace(
            "<bldg:RoofSurface><bldg:lod2MultiSurface><gml:MultiSurface>",
            '<bldg:RoofSurface><bldg:lod2MultiSurface><gml:MultiSurface gml:id="roofs">',
        )
        .replace("<app:target>#roof</app:target>", "<app:target>#roofs</app:target>")
    )
    obj, log = _read(write_textured(tmp_path, document))
    assert obj.appearance is not None
    assert _material(obj.appearance, ROOF) == SurfaceMaterial(
        DIFFUSE, EMISSIVE, SHININESS, TRANSPARENCY
    )
    assert _material(obj.appearance, GROUND) is None
    assert log.unknown_targets == 0


@pytest.mark.parametrize(
    ("written", "read_as"),
    [("0.5 0.25 0", (0.5, 0.25, 0.0)), ("", (1.0, 1.0, 1.0)), ("2 -1 0.5", (1.0, 0.0, 0.5))],
    ids=["given", "absent: CityGML's default white", "clamped to 0..1"],
)
def test_the_x3d_specular_colour_is_read(
    tmp_path: Path, written: str, read_as: tuple[float, float, float]
) -> None:
    look = appearance(specular=written)
    if not written:
        look = look.replace("<app:specularColor></app:specularColor>", "")
    obj, _ = _read(write_textured(tmp_path, textured_building([look])))
    assert obj.appearance is not None
    roof = _material(obj.appearance, ROOF)
    assert roof is not None
    assert roof.specular == read_as
