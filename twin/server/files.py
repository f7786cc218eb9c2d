"""Serve files from a folder, safely: no path leaves the folder, conditional and range requests.

A URL path is checked before it touches the file system (no ``..``, ``.``, empty or absolute
segments, no backslash or NUL), then resolved — symlinks followed — and refused unless the
result is still inside the served folder. The file is opened once and everything else (ETag,
length, the bytes) comes from that open file, so a tileset swapped meanwhile is answered
consistently from the version that was opened.

The ETag is strong: a hash of device, inode, size and modification time. A re-imported file is
a new inode in a new version folder, so its ETag changes even when size and mtime happen to
match (a copy that preserved mtimes, a reproducible build).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Final

from aiohttp import hdrs, web

from twin.errors import NotFoundError, QueryError

__all__ = [
    "CONTENT_TYPES",
    "OpenFile",
    "content_type_of",
    "open_under",
    "send_file",
]

CONTENT_TYPES: Final[Mapping[str, str]] = {
    # 3D Tiles and glTF
    ".glb": "model/gltf-binary",
    ".gltf": "model/gltf+json",
    ".json": "application/json",
    ".subtree": "application/octet-stream",
    ".bin": "application/octet-stream",
    ".b3dm": "application/octet-stream",
    ".i3dm": "application/octet-stream",
    ".pnts": "application/octet-stream",
    ".cmpt": "application/octet-stream",
    ".ktx2": "image/ktx2",
    # the web viewer and CesiumJS's static build
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json",
    ".wasm": "application/wasm",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".xml": "application/xml",
    ".kml": "application/vnd.google-earth.kml+xml",
    ".czml": "application/json",
    ".geojson": "application/geo+json",
    ".txt": "text/plain; charset=utf-8",
}
"""Content type by lower-case file suffix; anything else is ``application/octet-stream``."""

log = logging.getLogger(__name__)

_CHUNK: Final = 256 * 1024
_ZERO_SUFFIX: Final = re.compile(r"bytes=\s*-0+\s*")
"""A suffix range of zero bytes: unsatisfiable (RFC 9110 §14.1.1)."""


def content_type_of(path: PurePosixPath | Path) -> str:
    """Return the content type served for ``path``, by its suffix.

    >>> content_type_of(PurePosixPath("content/0_0_0.glb"))
    'model/gltf-binary'
    >>> content_type_of(PurePosixPath("README"))
    'application/octet-stream'
    """
    return CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")


@dataclass(frozen=True, slots=True)
class OpenFile:
    """A file opened for serving, with what the response headers need."""

    file: BinaryIO
    relpath: PurePosixPath
    size: int
    mtime: float
    etag: str


def _check_relpath(relpath: str) -> PurePosixPath:
    """Return ``relpath`` as a relative path; raise QueryError if it could leave its folder."""
    parts = relpath.split("/")
    if "\x00" in relpath or "\\" in relpath or any(p in ("", ".", "..") for p in parts):
        raise QueryError(
            f"invalid path {relpath!r}: use '/'-separated names without '.', '..' or empty parts"
        )
    return PurePosixPath(*parts)


def open_under(root: Path, relpath: str) -> OpenFile:
    """Open the regular file ``root/relpath``; blocking, run it in a thread.

    Parameters
    ----------
    root : Path
        The served folder (itself resolved here, so it may be or contain a symlink).
    relpath : str
        The percent-decoded URL path below the folder's mount.

    Raises
    ------
    QueryError
        The path is malformed (``..``, absolute, backslash, NUL …).
    NotFoundError
        No regular file there — or one that resolves outside ``root`` (not told apart, so a
        probe learns nothing about the world outside).
    """
    rel = _check_relpath(relpath)
    root = root.resolve()
    target = (root / rel).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise NotFoundError(f"no file {str(rel)!r}")
    try:
        file = target.open("rb")
    except OSError as exc:
        raise NotFoundError(f"no file {str(rel)!r}") from exc
    st = os.fstat(file.fileno())
    stamp = f"{st.st_dev:x}:{st.st_ino:x}:{st.st_size:x}:{st.st_mtime_ns:x}"
    etag = hashlib.blake2b(stamp.encode(), digest_size=12).hexdigest()
    return OpenFile(file, rel, st.st_size, st.st_mtime, etag)


def _etag_matches(header: str | None, etag: str) -> bool:
    """Tell whether an If-None-Match header names ``etag`` (weak comparison, RFC 9110 §13.1.2)."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    tags = (t.strip().removeprefix("W/") for t in header.split(","))
    return f'"{etag}"' in tags


def _byte_range(request: web.Request, opened: OpenFile) -> tuple[int, int] | None:
    """Return the ``(start, stop)`` a Range header asks for, or None for the whole file.

    A malformed or multi-part Range is ignored (RFC 9110 §14.2); an If-Range that does not
    name the current ETag also means the whole file. Unsatisfiable ranges raise 416.
    """
    if hdrs.RANGE not in request.headers:
        return None
    if_range = request.headers.get(hdrs.IF_RANGE)
    if if_range is not None and if_range.strip() != f'"{opened.etag}"':
        return None
    try:
        wanted = request.http_range
    except ValueError:
        return None
    if _ZERO_SUFFIX.fullmatch(request.headers[hdrs.RANGE]):  # aiohttp reads "-0" as "0-"
        raise _unsatisfiable(
            opened, f"a suffix range of 0 bytes selects nothing of the file's {opened.size} bytes"
        )
    start, stop = wanted.start, wanted.stop
    if start is not None and start < 0:
        start = max(opened.size + start, 0)
    start = start or 0
    stop = opened.size if stop is None else min(stop, opened.size)
    if start >= opened.size:
        raise _unsatisfiable(
            opened, f"range starts at {start} but the file has {opened.size} bytes"
        )
    return start, stop


def _unsatisfiable(opened: OpenFile, detail: str) -> web.HTTPRequestRangeNotSatisfiable:
    return web.HTTPRequestRangeNotSatisfiable(
        headers={hdrs.CONTENT_RANGE: f"bytes */{opened.size}"}, text=detail
    )


def _read(file: BinaryIO, offset: int, count: int) -> bytes:
    file.seek(offset)
    return file.read(count)


async def send_file(
    request: web.Request, opened: OpenFile, *, cache_control: str
) -> web.StreamResponse:
    """Answer ``request`` with ``opened`` (200, 206 or 304), then close it.

    Parameters
    ----------
    request : web.Request
        GET or HEAD; HEAD gets the headers only.
    opened : OpenFile
        From :func:`open_under`; closed when this returns.
    cache_control : str
        The ``Cache-Control`` header value for this file.
    """
    try:
        headers = {
            hdrs.ETAG: f'"{opened.etag}"',
            hdrs.CACHE_CONTROL: cache_control,
            hdrs.LAST_MODIFIED: formatdate(opened.mtime, usegmt=True),
            hdrs.ACCEPT_RANGES: "bytes",
        }
        if _etag_matches(request.headers.get(hdrs.IF_NONE_MATCH), opened.etag):
            return web.Response(status=304, headers=headers)
        span = _byte_range(request, opened)
        start, stop = span if span is not None else (0, opened.size)
        response = web.StreamResponse(status=200 if span is None else 206, headers=headers)
        if span is not None:
            response.headers[hdrs.CONTENT_RANGE] = f"bytes {start}-{stop - 1}/{opened.size}"
        mime, _, charset = content_type_of(opened.relpath).partition("; charset=")
        response.content_type = mime
        if charset:
            response.charset = charset
        response.content_length = stop - start
        await response.prepare(request)
        if request.method != hdrs.METH_HEAD:
            await _stream(request, response, opened, (start, stop))
        await response.write_eof()
        return response
    finally:
        await asyncio.to_thread(opened.file.close)


async def _stream(
    request: web.Request, response: web.StreamResponse, opened: OpenFile, span: tuple[int, int]
) -> None:
    offset, stop = span
    while offset < stop:
        chunk = await asyncio.to_thread(_read, opened.file, offset, min(_CHUNK, stop - offset))
        if not chunk:  # truncated under us: the length was promised, so drop the connection
            log.warning("%s shrank to %d bytes while being sent", opened.relpath, offset)
            if request.transport is not None:
                request.transport.close()
            return
        await response.write(chunk)
        offset += len(chunk)
