"""CityJSON appearances: a material per surface, a texture and its vertices per ring, themes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from twin.cityjson import iter_cityjson_objects
from twin.model import AppearanceLog, CityObject, SurfaceMaterial

UV = [[0.0, 0.0], [1.0, 0.0], [1.0, 0.5], [0.25, 1.0]]


def _document(texture_values: Any, theme: str = "rgb") -> dict[str, Any]:
    """A Solid of two surfaces: a textured quad (0-1-2-3) and a triangle with a material."""
    return {
        "type": "CityJSON",
        "version": "2.0",
        "transform": {"scale": [1.0, 1.0, 1.0], "translate": [0.0, 0.0, 0.0]},
        "metadata": {"referenceSystem": "https://www.opengis.net/def/crs/EPSG/0/7415"},
        "appearance": {
            "materials": [
                {"name": "red", "diffuseColor": [0.9, 0.1, 0.1], "transparency": 0.25},
                {"name": "blue", "diffuseColor": [0.1, 0.1, 0.9], "shininess": 0.5},
            ],
            "textures": [{"type": "PNG", "image": "img/facade.png", "wrapMode": "mirror"}],
            "vertices-texture": [[0.5, 0.5], *UV],
        },
        "CityObjects": {
            "b": {
                "type": "Building",
                "geometry": [
                    {
                        "type": "Solid",
                        "lod": "2",
                        "boundaries": [[[[0, 1, 2, 3]], [[0, 1, 4]]]],
                        "material": {
                            "look": {"values": [[None, 0]]},
                            "other": {"values": [[1, 1]]},
                        },
                        "texture": {theme: {"values": texture_values}},
                    }
                ],
            }
        },
        "vertices": [[0, 0, 0], [4, 0, 0], [4, 0, 2], [0, 0, 3], [2, 3, 1]],
    }


def _read(
    tmp_path: Path, document: dict[str, Any], theme: str | None = None
) -> tuple[CityObject, AppearanceLog]:
    path = tmp_path / "city.json"
    path.write_text(json.dumps(document))
    log = AppearanceLog()
    (obj,) = iter_cityjson_objects(path, appearance_theme=theme, appearance_log=log)
    assert isinstance(obj, CityObject)
    return obj, log


def test_texture_vertices_and_materials_reach_their_surfaces(tmp_path: Path) -> None:
    obj, log = _read(tmp_path, _document([[[[0, 1, 2, 3, 4]], [[None]]]]))
    looks = obj.appearance
    assert looks is not None
    assert looks.uv is not None
    facade, red = (looks.materials[i] for i in looks.polygon_materials.tolist())
    assert facade == SurfaceMaterial(
        (1.0, 1.0, 1.0), shininess=0.0, image=str(tmp_path / "img" / "facade.png"), wrap="mirror"
    )
    assert red == SurfaceMaterial((0.9, 0.1, 0.1), transparency=0.25)
    assert looks.uv[:4].tolist() == UV  # ring vertices 0-1-2-3 take texture vertices 1-2-3-4
    assert looks.uv[4:].tolist() == [[0.0, 0.0]] * 3  # the untextured triangle
    assert dict(log.image_surfaces) == {str(tmp_path / "img" / "facade.png"): 1}
    assert (log.textured_surfaces, log.material_surfaces) == (1, 1)
    assert dict(log.themes_ignored) == {"other": 1}


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ([[[[0, 1, 2]], [[None]]]], "textured rings without a texture vertex for each vertex"),
        ([[[[3, 1, 2, 3, 4]], [[None]]]], "texture indices past the document's textures"),
    ],
)
def test_unusable_texture_values_leave_the_surface_untextured_and_are_reported(
    tmp_path: Path, values: Any, reason: str
) -> None:
    obj, log = _read(tmp_path, _document(values))
    assert obj.appearance is not None
    assert obj.appearance.uv is None
    assert int(obj.appearance.polygon_materials[0]) == -1
    assert dict(log.ignored) == {f"{reason} (drawn untextured)": 1}


def test_only_the_asked_theme_is_drawn(tmp_path: Path) -> None:
    obj, log = _read(tmp_path, _document([[[[0, 1, 2, 3, 4]], [[None]]]]), theme="other")
    assert obj.appearance is not None
    # materials come from "other"; the texture theme "rgb" is not the one asked for
    blue = SurfaceMaterial((0.1, 0.1, 0.9), shininess=0.5)
    assert [obj.appearance.materials[i] for i in obj.appearance.polygon_materials] == [blue] * 2
    assert obj.appearance.uv is None
    assert log.themes_ignored == {"look": 1, "rgb": 1}


def test_a_material_index_past_the_documents_materials_is_reported(tmp_path: Path) -> None:
    document = _document([[[[0, 1, 2, 3, 4]], [[None]]]])
    document["CityObjects"]["b"]["geometry"][0]["material"]["look"]["values"] = [[None, 7]]
    obj, log = _read(tmp_path, document)
    assert obj.appearance is not None
    assert int(obj.appearance.polygon_materials[1]) == -1  # the triangle keeps its class colour
    assert dict(log.ignored) == {
        "material indices past the document's materials (drawn in class colour)": 1
    }
    assert log.material_surfaces == 0


def test_a_material_specular_colour_is_read(tmp_path: Path) -> None:
    document = _document([[[[0, 1, 2, 3, 4]], [[None]]]])
    document["appearance"]["materials"][1]["specularColor"] = [0.5, 0.25, 0.0]
    obj, _ = _read(tmp_path, document, theme="other")
    assert obj.appearance is not None
    blue = SurfaceMaterial((0.1, 0.1, 0.9), shininess=0.5, specular=(0.5, 0.25, 0.0))
    assert [obj.appearance.materials[i] for i in obj.appearance.polygon_materials] == [blue] * 2
