"""TypedDicts of the wire JSON this package writes, with the specifications' own field names.

Only the subset twin writes is modelled: glTF 2.0 core objects, the ``EXT_mesh_features`` primitive
extension, the ``EXT_structural_metadata`` root extension, and the 3D Tiles 1.1 tileset JSON.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

TileFormat = Literal["glb", "b3dm"]
"""Tile content: glTF binary (3D Tiles 1.1), or Batched 3D Model (3D Tiles 1.0, batch tables)."""

# --- glTF 2.0 core -------------------------------------------------------------------------------


class Asset(TypedDict):
    version: str
    generator: NotRequired[str]


class Buffer(TypedDict):
    byteLength: int
    extensions: NotRequired[dict[str, Any]]  # EXT_meshopt_compression: {"fallback": true}


class BufferView(TypedDict):
    buffer: int
    byteOffset: int
    byteLength: int
    byteStride: NotRequired[int]
    target: NotRequired[Literal[34962, 34963]]  # ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER
    extensions: NotRequired[dict[str, Any]]  # EXT_meshopt_compression


class Accessor(TypedDict):
    bufferView: NotRequired[int]  # absent under KHR_draco_mesh_compression
    byteOffset: NotRequired[int]
    componentType: Literal[5120, 5121, 5123, 5125, 5126]  # BYTE, UNSIGNED_BYTE/SHORT/INT, FLOAT
    normalized: NotRequired[bool]
    count: int
    type: Literal["SCALAR", "VEC2", "VEC3"]
    min: NotRequired[list[float]]
    max: NotRequired[list[float]]


class TextureInfo(TypedDict):
    index: int


class PbrMetallicRoughness(TypedDict):
    baseColorFactor: list[float]
    baseColorTexture: NotRequired[TextureInfo]
    metallicFactor: float
    roughnessFactor: float


class MaterialsSpecular(TypedDict):
    """``KHR_materials_specular``: strength and F0 colour (linear RGB) of the dielectric lobe."""

    specularFactor: NotRequired[float]
    specularColorFactor: NotRequired[list[float]]


class MaterialExtensions(TypedDict):
    KHR_materials_specular: MaterialsSpecular


class Material(TypedDict):
    name: str
    pbrMetallicRoughness: PbrMetallicRoughness
    emissiveFactor: NotRequired[list[float]]
    doubleSided: bool
    alphaMode: NotRequired[Literal["OPAQUE", "MASK", "BLEND"]]
    extensions: NotRequired[MaterialExtensions]


class Image(TypedDict):
    bufferView: int
    mimeType: Literal["image/png", "image/jpeg"]


class Sampler(TypedDict):
    magFilter: Literal[9729]  # LINEAR
    minFilter: Literal[9987]  # LINEAR_MIPMAP_LINEAR
    wrapS: Literal[10497, 33648, 33071]  # REPEAT, MIRRORED_REPEAT, CLAMP_TO_EDGE
    wrapT: Literal[10497, 33648, 33071]


class Texture(TypedDict):
    sampler: int
    source: int


class FeatureId(TypedDict):
    featureCount: int
    attribute: int
    propertyTable: NotRequired[int]


class MeshFeatures(TypedDict):
    featureIds: list[FeatureId]


class DracoMeshCompression(TypedDict):
    bufferView: int
    attributes: dict[str, int]


class PrimitiveExtensions(TypedDict):
    EXT_mesh_features: NotRequired[MeshFeatures]  # absent in a b3dm's glb (batch ids instead)
    KHR_draco_mesh_compression: NotRequired[DracoMeshCompression]


class Primitive(TypedDict):
    attributes: dict[str, int]
    indices: int
    material: int
    mode: Literal[4]  # TRIANGLES
    extensions: NotRequired[PrimitiveExtensions]


class Mesh(TypedDict):
    primitives: list[Primitive]


class Node(TypedDict):
    mesh: int
    translation: NotRequired[list[float]]
    scale: NotRequired[list[float]]


class Scene(TypedDict):
    nodes: list[int]


# --- EXT_structural_metadata ----------------------------------------------------------------------

MetadataType = Literal["SCALAR", "STRING", "BOOLEAN", "ENUM"]
ComponentType = Literal["INT32", "INT64", "FLOAT64"]


class ClassProperty(TypedDict):
    name: NotRequired[str]
    type: MetadataType
    componentType: NotRequired[ComponentType]
    enumType: NotRequired[str]
    noData: NotRequired[int | float | str]


class MetadataClass(TypedDict):
    name: NotRequired[str]
    properties: NotRequired[dict[str, ClassProperty]]


class EnumValue(TypedDict):
    name: str
    value: int


class MetadataEnum(TypedDict):
    valueType: Literal["UINT8"]
    values: list[EnumValue]


class Schema(TypedDict):
    id: str
    classes: dict[str, MetadataClass]
    enums: NotRequired[dict[str, MetadataEnum]]


class PropertyTableProperty(TypedDict):
    values: int
    stringOffsets: NotRequired[int]
    stringOffsetType: NotRequired[Literal["UINT32", "UINT64"]]


# The functional syntax keeps the spec's field name "class", a Python keyword.
PropertyTableJSON = TypedDict(
    "PropertyTableJSON",
    {
        "class": str,
        "count": int,
        "properties": NotRequired[dict[str, PropertyTableProperty]],
        "name": NotRequired[str],
    },
)


class StructuralMetadata(TypedDict):
    schema: Schema
    propertyTables: list[PropertyTableJSON]


class RootExtensions(TypedDict):
    EXT_structural_metadata: NotRequired[StructuralMetadata]


class Gltf(TypedDict):
    asset: Asset
    extensionsUsed: NotRequired[list[str]]
    extensionsRequired: NotRequired[list[str]]
    scene: int
    scenes: list[Scene]
    nodes: list[Node]
    meshes: list[Mesh]
    materials: list[Material]
    textures: NotRequired[list[Texture]]
    images: NotRequired[list[Image]]
    samplers: NotRequired[list[Sampler]]
    accessors: list[Accessor]
    bufferViews: list[BufferView]
    buffers: list[Buffer]
    extensions: NotRequired[RootExtensions]


# --- 3D Tiles 1.1 tileset JSON --------------------------------------------------------------------


class TilesetAsset(TypedDict):
    version: Literal["1.0", "1.1"]
    generator: NotRequired[str]
    tilesetVersion: NotRequired[str]


class BoundingVolume(TypedDict):
    region: list[float]


class Content(TypedDict):
    uri: str


class TileJSON(TypedDict):
    boundingVolume: BoundingVolume
    geometricError: float
    refine: Literal["ADD", "REPLACE"]
    transform: NotRequired[list[float]]
    content: NotRequired[Content]
    children: NotRequired[list[TileJSON]]


class Tileset(TypedDict):
    asset: TilesetAsset
    geometricError: float
    root: TileJSON
    extras: NotRequired[dict[str, Any]]
