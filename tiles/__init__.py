"""3D Tiles 1.1 / glTF 2.0 format library: arrays in, bytes and JSON out. Knows nothing of twin.

Depends on numpy, the standard library, the meshoptimizer and Draco encoders, and Pillow (only
to convert texture images glTF does not accept).
"""

from tiles.axes import y_up_to_z_up, z_up_to_y_up
from tiles.b3dm import encode_b3dm
from tiles.glb import Compression, Material, Texture, TileMesh, encode_glb
from tiles.images import gltf_image, image_mime
from tiles.metadata import (
    EncodedMetadata,
    PropertyTable,
    encode_property_table,
    sanitize_identifier,
)
from tiles.normals import face_normals, quantize_normals, unit_normals, vertex_normals
from tiles.tileset import Tile, enu_frame, tileset_files, tileset_json
from tiles.typing import TileFormat, Tileset

__all__ = [
    "Compression",
    "EncodedMetadata",
    "Material",
    "PropertyTable",
    "Texture",
    "Tile",
    "TileFormat",
    "TileMesh",
    "Tileset",
    "encode_b3dm",
    "encode_glb",
    "encode_property_table",
    "enu_frame",
    "face_normals",
    "gltf_image",
    "image_mime",
    "quantize_normals",
    "sanitize_identifier",
    "tileset_files",
    "tileset_json",
    "unit_normals",
    "vertex_normals",
    "y_up_to_z_up",
    "z_up_to_y_up",
]
