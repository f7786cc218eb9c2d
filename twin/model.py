"""Domain values: what a city object is, once read, and what the pipeline makes of it.

Geometry is float64 throughout. Polygons use the ragged layout of GeoArrow (as shapely 2 does
in ``_ragged_array.py``): all ring vertices in one ``(N, 3)`` array, ring and polygon offsets
beside it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import operator
import os
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Final, Literal, TypeAlias, TypeVar
from urllib.parse import unquote, urlparse

import numpy as np

from twin.types import (
    Float32Array,
    Float64Array,
    IndexArray,
    Int16Array,
    UInt8Array,
    UInt32Array,
)

__all__ = [
    "Address",
    "AppearanceLog",
    "AttributeValue",
    "BuildingRecord",
    "CityObject",
    "DatasetInfo",
    "LodChoice",
    "Measures",
    "Mesh",
    "ObjectType",
    "Rejection",
    "SourceLocation",
    "SurfaceAppearance",
    "SurfaceClass",
    "SurfaceMaterial",
    "Surfaces",
    "WrapMode",
    "image_path",
    "is_ngsild_name",
    "names_apart",
    "ngsild_names",
    "pickled_by_fields",
    "wrap_mode",
]

D = TypeVar("D")


def pickled_by_fields(cls: type[D]) -> type[D]:
    """Make a dataclass pickle as ``cls(*field values)``; return ``cls``.

    Python 3.11 pickles a ``slots=True`` dataclass through ``dataclasses._dataclass_getstate``
    and ``_dataclass_setstate``, which call :func:`dataclasses.fields` for every instance;
    the pipeline pickles hundreds of thousands of them (objects to workers, features to the
    spill). This reads the field names once: about three times faster both ways. Unpickling
    runs ``__init__``, so a frozen class stays frozen. Every field must be an ``__init__``
    argument.

    >>> import pickle
    >>> pickle.loads(pickle.dumps(SourceLocation("city.gml", 7)))
    SourceLocation(path='city.gml', line=7)
    """
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if not all(f.init for f in fields):
        raise TypeError(f"{cls.__name__}: every field must be an __init__ argument")
    get = operator.attrgetter(*(f.name for f in fields))
    values: Callable[[D], tuple[Any, ...]] = get if len(fields) > 1 else lambda self: (get(self),)

    def reduce_by_fields(self: D) -> tuple[type[D], tuple[Any, ...]]:
        return cls, values(self)

    cls.__reduce__ = reduce_by_fields  # type: ignore[assignment,method-assign]
    return cls


AttributeValue: TypeAlias = str | int | float | bool | dt.date | None
"""A typed attribute value as read from the source (``date`` for xs:date, never a string)."""

ObjectType: TypeAlias = str
"""A city object's type: the local name of its CityGML element or its CityJSON ``type``.

Known values include ``Building``, ``BuildingPart``, ``BuildingInstallation``, ``Storey``,
``BuildingRoom``, ``BuildingUnit``, ``Room``, ``BuildingFurniture``, ``Bridge``, ``BridgePart``,
``BridgeInstallation``, ``BridgeConstructionElement``, ``Tunnel``, ``TunnelPart``, ``Road``,
``Railway``, ``Track``, ``Square``, ``WaterBody``, ``PlantCover``, ``SolitaryVegetationObject``,
``ReliefFeature``, ``TINRelief``, ``CityFurniture``, ``GenericCityObject``, ``CityObjectGroup``,
``LandUse``; an ADE feature keeps its own local name. A ``str`` rather than a ``Literal``: ADE
types are open-ended.
"""

LodChoice: TypeAlias = Literal["highest", "all", 0, 1, 2, 3, 4]
"""Which LoD a reader takes per object: its highest, one given LoD, or every LoD it has."""


class SurfaceClass(IntEnum):
    """Semantic class of a surface (CityGML ``_BoundarySurface`` subtypes), kept per triangle."""

    UNCLASSIFIED = 0
    ROOF = 1
    WALL = 2
    GROUND = 3
    CLOSURE = 4
    OUTER_CEILING = 5
    OUTER_FLOOR = 6
    WINDOW = 7
    DOOR = 8
    INTERIOR_WALL = 9
    CEILING = 10
    FLOOR = 11
    TRAFFIC_AREA = 12
    AUXILIARY_TRAFFIC_AREA = 13
    WATER_SURFACE = 14
    WATER_GROUND = 15


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where an object starts in its input: the file and the 1-based line."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class Address:
    """A postal address (xAL in CityGML 1.0/2.0), as structured fields; all optional."""

    street: str | None = None
    house_number: str | None = None
    postal_code: str | None = None
    locality: str | None = None
    country: str | None = None

    def as_dict(self) -> dict[str, str]:
        """Return the fields that are set, keyed by their names."""
        names = ("street", "house_number", "postal_code", "locality", "country")
        return {n: v for n in names if (v := getattr(self, n)) is not None}


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class Surfaces:
    """Planar polygons with holes, in the source CRS, in the ragged (GeoArrow) layout.

    Attributes
    ----------
    coords : (N, 3) float64
        Vertices of every ring, in the source CRS, in the axis order the file writes them
        (``twin.geo`` decides what that order is). Rings are open: the closing vertex is not
        repeated.
    ring_offsets : (R + 1,) int64
        Ring ``r`` is ``coords[ring_offsets[r]:ring_offsets[r + 1]]``.
    polygon_offsets : (P + 1,) int64
        Polygon ``p`` owns rings ``polygon_offsets[p]:polygon_offsets[p + 1]``; the first of them
        is the exterior ring, the others are holes.
    classes : (P,) uint8
        :class:`SurfaceClass` of each polygon.
    """

    coords: Float64Array
    ring_offsets: IndexArray
    polygon_offsets: IndexArray
    classes: UInt8Array

    @property
    def polygon_count(self) -> int:
        return len(self.polygon_offsets) - 1

    @property
    def ring_count(self) -> int:
        return len(self.ring_offsets) - 1

    @classmethod
    def empty(cls) -> Surfaces:
        """Return surfaces with no polygon."""
        zero = np.zeros(1, dtype=np.int64)
        return cls(np.empty((0, 3)), zero, zero.copy(), np.empty(0, dtype=np.uint8))

    def select(self, polygons: IndexArray) -> Surfaces:
        """Return the polygons at indices ``polygons`` as surfaces of their own, in that order.

        >>> tri = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]])
        >>> two = Surfaces(np.vstack([tri, tri + 5]), np.array([0, 3, 6]), np.array([0, 1, 2]),
        ...                np.array([1, 2], dtype=np.uint8))
        >>> one = two.select(np.array([1]))
        >>> one.coords[0].tolist(), one.ring_offsets.tolist(), one.classes.tolist()
        ([5.0, 5.0, 5.0], [0, 3], [2])
        """
        rings, polygon_offsets = _ragged_take(self.polygon_offsets, polygons)
        vertices, ring_offsets = _ragged_take(self.ring_offsets, rings)
        return Surfaces(
            self.coords[vertices], ring_offsets, polygon_offsets, self.classes[polygons]
        )

    @classmethod
    def join(cls, many: Sequence[Surfaces]) -> Surfaces:
        """Return the polygons of ``many`` as one :class:`Surfaces`, in order."""
        if len(many) == 1:
            return many[0]
        if not many:
            return cls.empty()
        ring_offsets, polygon_offsets = [np.zeros(1, np.int64)], [np.zeros(1, np.int64)]
        rings = vertices = 0
        for s in many:
            ring_offsets.append(s.ring_offsets[1:] + vertices)
            polygon_offsets.append(s.polygon_offsets[1:] + rings)
            vertices += int(s.ring_offsets[-1])
            rings += int(s.polygon_offsets[-1])
        return cls(
            np.concatenate([s.coords for s in many]),
            np.concatenate(ring_offsets),
            np.concatenate(polygon_offsets),
            np.concatenate([s.classes for s in many]),
        )


def _ragged_take(offsets: IndexArray, items: IndexArray) -> tuple[IndexArray, IndexArray]:
    """Return the element indices of ragged ``items`` (``offsets`` layout) and new offsets."""
    counts = (offsets[1:] - offsets[:-1])[items]
    new_offsets = np.zeros(len(items) + 1, dtype=np.int64)
    np.cumsum(counts, out=new_offsets[1:])
    shift = np.repeat(offsets[items] - new_offsets[:-1], counts)
    return np.arange(new_offsets[-1], dtype=np.int64) + shift, new_offsets


WrapMode: TypeAlias = Literal["wrap", "mirror", "clamp"]
"""How a texture repeats outside [0, 1]; CityGML ``none`` and ``border`` are read as ``clamp``."""


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class SurfaceMaterial:
    """How a surface looks: a CityGML X3DMaterial, a texture image, or a CityJSON material.

    Colours are RGB in 0..1 as the source writes them (X3D colours, not yet linear).
    ``image`` is the absolute path of the texture image (None: no texture); the texture
    coordinates are per vertex in :class:`SurfaceAppearance`. ``shininess`` and
    ``transparency`` are X3D's, 0..1; ``specular`` is X3D's specularColor, whose default in
    CityGML is white (CityGML 2.0 §9.4, unlike X3D's black).
    """

    diffuse: tuple[float, float, float] = (0.8, 0.8, 0.8)
    emissive: tuple[float, float, float] = (0.0, 0.0, 0.0)
    shininess: float = 0.2
    transparency: float = 0.0
    image: str | None = None
    wrap: WrapMode = "wrap"
    specular: tuple[float, float, float] = (1.0, 1.0, 1.0)


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class SurfaceAppearance:
    """The materials of an object's polygons and the texture coordinates of its vertices.

    Attributes
    ----------
    materials : tuple of SurfaceMaterial
        The materials this object uses.
    polygon_materials : (P,) int16
        Index into ``materials`` per polygon of the object's :class:`Surfaces`; -1 keeps the
        colour of the polygon's semantic class.
    uv : (N, 2) float32 or None
        Texture coordinates ``(s, t)`` per vertex of ``Surfaces.coords``, origin at the image's
        lower left (CityGML and CityJSON both); 0 on vertices of untextured polygons. None
        when no polygon is textured.
    """

    materials: tuple[SurfaceMaterial, ...]
    polygon_materials: Int16Array
    uv: Float32Array | None = None


@dataclass(slots=True)
class AppearanceLog:
    """What the readers did with appearances, for the import report (counts, never per surface).

    ``image_surfaces`` counts the textured surfaces per image path (the import checks each
    image once; a surface whose image cannot be used keeps its class colour). ``ignored``
    counts what was left out or changed, by reason (other themes, GeoreferencedTexture,
    TexCoordGen, back faces, wrap modes …).
    """

    theme: str | None = None
    themes_ignored: Counter[str] = field(default_factory=Counter)
    textured_surfaces: int = 0
    material_surfaces: int = 0
    image_surfaces: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)
    unknown_targets: int = 0
    unknown_examples: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Whether no appearance was met at all."""
        return (
            self.theme is None
            and not (self.themes_ignored or self.material_surfaces or self.image_surfaces)
            and not (self.ignored or self.unknown_targets)
        )


def wrap_mode(written: str | None, log: AppearanceLog) -> WrapMode:
    """Return the wrap mode of a texture as CityGML/CityJSON write it (``wrapMode``).

    ``none`` (no texture outside 0..1) and ``border`` (a border colour there) have no glTF
    sampler (glTF 2.0 §5.26: REPEAT, MIRRORED_REPEAT, CLAMP_TO_EDGE): they become ``clamp``,
    counted in ``log``. Absent, the texture is clamped too, silently (its coordinates are
    expected within 0..1).
    """
    if written in ("wrap", "mirror", "clamp"):
        return written  # type: ignore[return-value]
    if written is not None:
        log.ignored[f"wrapMode {written!r} drawn as clamp-to-edge"] += 1
    return "clamp"


def image_path(base_dir: str, uri: str) -> str:
    r"""Return the path of a texture image named ``uri`` in a file of folder ``base_dir``.

    Relative URIs (``/`` or ``\\`` separated) are relative to the input file; ``file:`` URIs
    give their path; other schemes (``http:`` …) are returned as they are (never fetched).

    >>> image_path("/data/city", "appearances\\wall.jpg")
    '/data/city/appearances/wall.jpg'
    """
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return unquote(parsed.path)
    if len(parsed.scheme) > 1:  # one letter: a Windows drive
        return uri
    return os.path.normpath(os.path.join(base_dir, uri.replace("\\", "/")))


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class CityObject:
    """One city object as read from the source, before reprojection.

    ``id`` is the gml:id (the identity used by tiles, catalog, OGC API and NGSI-LD).
    ``attributes`` maps attribute names (``name``, ``function``, ``measuredHeight``, generic
    attribute names …) to typed values. ``srs_name`` is the srsName in force for the geometry.
    ``issues`` lists what the reader repaired or left out of an object it still yields
    (degenerate rings dropped, xlinks pointing nowhere), for the import report. ``shells``
    holds, for each solid of the geometry, the indices of the polygons of its exterior shell
    (so the import can check that the shell is closed). ``appearance`` gives the polygons'
    materials and texture coordinates (None: every polygon takes its semantic-class colour).
    ``srs_placement``, set when the file's srsName was a local engineering CRS placed by its
    anchor point, says how (the coordinates were then shifted into ``srs_name``, the anchor's
    world CRS), for the import report.
    """

    id: str
    type: ObjectType
    surfaces: Surfaces
    srs_name: str | None
    source: SourceLocation
    lod: int | None = None
    parent_id: str | None = None
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)
    address: Address | None = None
    issues: tuple[str, ...] = ()
    shells: tuple[IndexArray, ...] = ()
    appearance: SurfaceAppearance | None = None
    srs_placement: str | None = None


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class Mesh:
    """Triangles of one city object in ECEF (EPSG:4978), metres.

    Attributes
    ----------
    positions_ecef : (N, 3) float64
    faces : (M, 3) uint32
        Counter-clockwise seen from outside, indices into ``positions_ecef``.
    classes : (M,) uint8
        :class:`SurfaceClass` of each triangle.
    face_materials : (M,) int16 or None
        Index into ``materials`` per triangle, -1 for the class colour; None: all class colour.
    uv : (N, 2) float32 or None
        Texture coordinates per vertex (lower-left origin), None when nothing is textured.
    materials : tuple of SurfaceMaterial
    """

    positions_ecef: Float64Array
    faces: UInt32Array
    classes: UInt8Array
    face_materials: Int16Array | None = None
    uv: Float32Array | None = None
    materials: tuple[SurfaceMaterial, ...] = ()


@dataclass(frozen=True, slots=True)
class Rejection:
    """An input object left out of the output, and why; listed in the import report."""

    object_id: str | None
    object_type: str
    source: SourceLocation
    reason: str


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class Measures:
    """3D facts of a city object, from its geometry at import (None: not known).

    ``height_m`` is the ``measuredHeight`` attribute when given, else the top of the geometry
    minus its lowest point; ``footprint_area_m2`` the area of the 2D footprint;
    ``roof/wall/ground_area_m2`` the summed areas of the triangles of that surface class;
    ``volume_m3`` the volume enclosed by the shell, only when the shell is closed.
    """

    height_m: float | None = None
    footprint_area_m2: float | None = None
    roof_area_m2: float | None = None
    wall_area_m2: float | None = None
    ground_area_m2: float | None = None
    volume_m3: float | None = None


def is_ngsild_name(name: str) -> bool:
    """Whether NGSI-LD allows ``name`` as an attribute name: a letter, then letters, digits or
    ``_`` (ETSI GS CIM 009 v1.8, clause 4.6.2; ``AttrName`` of the ``q`` grammar, clause 4.9).

    >>> is_ngsild_name("roofType"), is_ngsild_name("roof-type"), is_ngsild_name("_x")
    (True, False, False)
    """
    return name[:1].isalpha() and all(c.isalnum() or c == "_" for c in name[1:])


_CORE_TERMS: Final = frozenset(  # a set literal would take 119 lines
    """
    Attribute AttributeList ContextSourceNotification ContextSourceRegistration Date DateTime
    EntityType EntityTypeInfo EntityTypeList Feature FeatureCollection GeoProperty
    GeometryCollection JsonProperty LanguageProperty LineString ListProperty ListRelationship
    MultiLineString MultiPoint MultiPolygon Notification Point Polygon Property Relationship
    Subscription Time VocabProperty accept attributeCount attributeDetails attributeList
    attributeName attributeNames attributeTypes attributes bbox cacheDuration cooldown
    coordinates createdAt csf data datasetId datasetIds deletedAt endTimeAt endpoint entities
    entityCount entityMap expires expiresAt features format geoQ geojson geometry geoproperty
    georel id idPattern information instanceId isActive join joinLevel json jsonldContext lang
    languageMap lastFailure lastNotification lastSuccess location management mode modifiedAt
    ngsi-ld notification notificationTrigger notifiedAt object objectList objectType
    observationSpace observedAt operationSpace operations previousObject previousValue
    properties q registrationId registrationName scope scopeQ showChanges status subscriptionId
    sysAttrs tenant throttling timeAt timeInterval timeproperty timerel timesFailed timesSent
    type typeList typeName typeNames unitCode uri value valueList vocab watchedAttributes
    """.split()  # noqa: SIM905
)
"""The terms of the NGSI-LD core @context v1.8 (which holds every term of v1.3 to v1.7): such a
short name in ``q=`` or a payload means the core IRI (``id``, ``type``, ``location`` …), never
an attribute under the default context (``tests/ngsild`` checks the list against the files)."""

_RESERVED_NAMES: Final = _CORE_TERMS | {"address"}
"""Names a building entity cannot give a static attribute: the core terms, and those it gives
its own attributes (``address``: the record's PostalAddress)."""


@functools.lru_cache(maxsize=256)  # buildings of one dataset share a few sets of names
def ngsild_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """Return the NGSI-LD attribute names of one record's attribute ``names``, in their order.

    The rule: a name NGSI-LD allows (:func:`is_ngsild_name`) is kept. Any other, a term of
    the NGSI-LD core context (``id``, ``type``, ``location``, ``status`` …) and a name the
    entity gives its own attributes (``address``) gets one: each run of characters other
    than letters, digits and ``_`` becomes ``_``, ``_`` at either end is dropped, and
    ``attr_`` goes first when what is left does not start with a letter; if a name of the
    record has it already, ``_2``, ``_3`` … is added. Distinct names so never meet; kept names
    are given out first, so they do not depend on the others.

    >>> ngsild_names(("roof-type", "roof_type", "height (m)", "3D", "address"))
    ('roof_type_2', 'roof_type', 'height_m', 'attr_3D', 'address_2')
    >>> ngsild_names(("location", "type", "id", "location_2"))
    ('location_3', 'type_2', 'id_2', 'location_2')
    """
    return names_apart(names, _RESERVED_NAMES, keep=is_ngsild_name, base=_ngsild_base)


def _ngsild_base(name: str) -> str:
    base = re.sub(r"\W+", "_", name).strip("_")
    return base if base[:1].isalpha() else f"attr_{base}".rstrip("_")


def names_apart(
    names: Sequence[str],
    reserved: Set[str],
    *,
    keep: Callable[[str], bool] = lambda name: True,
    base: Callable[[str], str] = lambda name: name,
) -> tuple[str, ...]:
    """Return distinct names for ``names`` (distinct), in their order, none of them reserved.

    A name that ``keep`` accepts and is not ``reserved`` is kept; any other is given
    ``base(name)``, or when that is taken (reserved, kept, or given before) the first free of
    ``base(name)_2``, ``base(name)_3`` … Kept names are given out first, so they do not depend
    on the others.

    >>> names_apart(("type", "type_2", "roof"), {"type", "id"})
    ('type_3', 'type_2', 'roof')
    """
    given = {n: n for n in names if keep(n) and n not in reserved}
    taken = set(given) | reserved
    for name in names:
        if name in given:
            continue
        stem = base(name)
        candidate, n = stem, 1
        while candidate in taken:
            n += 1
            candidate = f"{stem}_{n}"
        given[name] = candidate
        taken.add(candidate)
    return tuple(given[n] for n in names)


@dataclass(frozen=True, slots=True)
class BuildingRecord:
    """One city object in the catalog: what the server answers without reading tiles.

    ``bbox_wgs84`` is ``(min_lon, min_lat, min_h, max_lon, max_lat, max_h)`` in degrees and
    ellipsoidal metres; ``footprint`` a GeoJSON Polygon or MultiPolygon in WGS84 (lon, lat).
    ``tile`` is the content URI relative to the tileset and ``feature_id`` the object's feature
    id in it (None when the object has no geometry of its own, e.g. a Building whose geometry
    is in its BuildingParts). ``measures`` are its 3D facts (a Building of parts: its parts'
    aggregate). ``lod_geometry`` is its LoD surfaces (a Building of parts: theirs) as a WKB
    MultiPolygon Z in longitude, latitude, ellipsoidal height; written to the catalog, but
    left None in records read back (the store reads it only on request).
    """

    dataset: str
    id: str
    type: str
    bbox_wgs84: tuple[float, float, float, float, float, float]
    footprint: Mapping[str, object] | None
    attributes: Mapping[str, AttributeValue]
    parent_id: str | None = None
    lod: int | None = None
    address: Address | None = None
    tile: str | None = None
    feature_id: int | None = None
    measures: Measures = field(default_factory=Measures)
    lod_geometry: bytes | None = None


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    """One imported dataset: what the catalog knows about it as a whole.

    ``bbox_wgs84`` is ``(min_lon, min_lat, min_h, max_lon, max_lat, max_h)``; ``report`` the
    import report (JSON-compatible) of the import that produced the served tileset;
    ``surface_areas_m2`` the summed triangle area of each surface class present (lower-case
    :class:`SurfaceClass` names: ``roof``, ``wall``, ``ground`` …) over the dataset.
    """

    name: str
    title: str
    srs_name: str | None
    object_count: int
    bbox_wgs84: tuple[float, float, float, float, float, float] | None
    imported_at: dt.datetime
    report: Mapping[str, object] = field(default_factory=dict)
    surface_areas_m2: Mapping[str, float] = field(default_factory=dict)
