"""Find the city objects in what the user gave: files, directories, zip and gzip archives.

The format is told from the content, not the name: gzip and zip by their magic bytes, then
XML (CityGML) by a leading ``<`` and CityJSON / CityJSONSeq by a leading ``{``. A directory is
one dataset: every supported file below it, in sorted order.
"""

from __future__ import annotations

import gzip
import zipfile
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal, cast

from twin.citygml import iter_city_objects
from twin.citygml.members import MemberBatch
from twin.cityjson import iter_cityjson_stream
from twin.errors import InputError
from twin.model import AppearanceLog, CityObject, LodChoice, Rejection

__all__ = ["SUFFIXES", "ReadOptions", "iter_objects", "sniff"]

SUFFIXES = frozenset({".gml", ".xml", ".citygml", ".json", ".jsonl", ".gz", ".zip"})
"""File name endings a directory import picks up (content decides the format)."""

_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"
_BOM = b"\xef\xbb\xbf"

Format = Literal["citygml", "cityjson", "gzip", "zip", "unknown"]


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """What to read: LoD choice, top-level types (None = all), whether to keep going.

    ``appearance_theme`` picks the appearance theme drawn (None: the first met);
    ``appearances`` is where the readers count what they did with appearances; with ``ship``
    the CityGML reader hands on the members another process can read as
    :class:`~twin.citygml.members.MemberBatch` es.
    """

    lod: LodChoice = "highest"
    types: Collection[str] | None = None
    keep_going: bool = False
    appearance_theme: str | None = None
    appearances: AppearanceLog | None = None
    ship: bool = False


def sniff(head: bytes) -> Format:
    """Return the format of a document from its first bytes.

    >>> sniff(b'<?xml version="1.0"?><CityModel')
    'citygml'
    >>> sniff(b'  {"type": "CityJSON"')
    'cityjson'
    """
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    text = head.removeprefix(_BOM).lstrip()
    if text.startswith(b"<"):
        return "citygml"
    if text.startswith(b"{"):
        return "cityjson"
    return "unknown"


def iter_objects(
    paths: Iterable[Path], options: ReadOptions | None = None
) -> Iterator[CityObject | Rejection | MemberBatch]:
    """Yield every city object (or rejection) of ``paths``, in order, as one dataset.

    Raises
    ------
    InputError
        When a path does not exist or a file is in no supported format; the readers raise
        their own InputError subclasses for malformed documents.
    """
    options = options or ReadOptions()
    for path in paths:
        for file in _expand(Path(path)):
            yield from _iter_file(file, options)


def _expand(path: Path) -> Iterator[Path]:
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and _supported(p))
        if not found:
            raise InputError(f"{path}: no CityGML or CityJSON file in this directory")
        yield from found
    elif path.is_file():
        yield path
    else:
        raise InputError(f"{path}: no such file or directory")


def _supported(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES and not path.name.startswith(".")


def _iter_file(path: Path, options: ReadOptions) -> Iterator[CityObject | Rejection | MemberBatch]:
    with path.open("rb") as probe:
        kind = sniff(probe.read(512))
    if kind == "zip":
        yield from _iter_zip(path, options)
    elif kind == "gzip":
        with gzip.open(path, "rb") as inner:
            inner_kind = sniff(inner.read(512))
        with gzip.open(path, "rb") as stream:
            yield from _iter_stream(cast("IO[bytes]", stream), path, inner_kind, options)
    else:
        with path.open("rb") as stream:
            yield from _iter_stream(stream, path, kind, options)


def _iter_zip(path: Path, options: ReadOptions) -> Iterator[CityObject | Rejection | MemberBatch]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise InputError(f"{path}: damaged zip archive ({exc})") from exc
    with archive:
        members = sorted(
            n for n in archive.namelist() if not n.endswith("/") and _supported(Path(n))
        )
        if not members:
            raise InputError(f"{path}: no CityGML or CityJSON file in this zip archive")
        for member in members:
            with archive.open(member) as probe:
                kind = sniff(probe.read(512))
            with archive.open(member) as stream:
                yield from _iter_stream(stream, path / member, kind, options)


def _iter_stream(
    stream: IO[bytes], name: Path, kind: Format, options: ReadOptions
) -> Iterator[CityObject | Rejection | MemberBatch]:
    if kind == "citygml":
        yield from iter_city_objects(
            name,
            lod=options.lod,
            types=options.types,
            keep_going=options.keep_going,
            stream=stream,
            appearance_theme=options.appearance_theme,
            appearance_log=options.appearances,
            ship=options.ship,
        )
    elif kind == "cityjson":
        yield from iter_cityjson_stream(
            stream,
            str(name),
            lod=options.lod,
            types=options.types,
            appearance_theme=options.appearance_theme,
            appearance_log=options.appearances,
        )
    else:
        raise InputError(
            f"{name}: neither CityGML (XML) nor CityJSON; give .gml, .citygml, .xml, .json or "
            ".jsonl files, gzip-compressed or in a zip archive"
        )
