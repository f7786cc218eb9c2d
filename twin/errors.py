"""The one exception tree of twin.

Every error twin raises on purpose derives from :class:`TwinError`. Each class carries the HTTP
status and the ETSI NGSI-LD problem type, so the server maps errors in one place (NGSI-LD answers
carry that type; the OGC API and the other routes answer ``about:blank`` problems, see
:mod:`twin.server.errors`)::

    TwinError
    ├── InputError                  400  bad input from a file, a flag or a request
    │   ├── CityGMLError                 unreadable or malformed CityGML (names file and line)
    │   ├── CRSError                     missing or unknown coordinate reference system
    │   ├── GeometryError                a geometry that cannot be triangulated
    │   └── QueryError                   a malformed query or request parameter
    ├── NotFoundError               404  no such dataset, object or file
    ├── ConflictError               409  the resource exists or changed meanwhile
    ├── ReprojectionError           500  PROJ failed on coordinates that looked valid
    ├── EncodingError               500  a tile or document could not be written
    └── StoreError                  500  the database or the data directory failed
        └── StoreBusyError          503  another writer (an import) holds the database: retry

Foreign exceptions (lxml, pyproj, OSError, sqlite3) are translated once, at the adapter that
called the library, with ``raise ... from exc``. Programmer mistakes stay ``TypeError`` and
``ValueError``.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "CRSError",
    "CityGMLError",
    "ConflictError",
    "EncodingError",
    "GeometryError",
    "InputError",
    "NotFoundError",
    "QueryError",
    "ReprojectionError",
    "StoreBusyError",
    "StoreError",
    "TwinError",
]

_PROBLEM_BASE = "https://uri.etsi.org/ngsi-ld/errors/"


class TwinError(Exception):
    """Base of every error twin raises on purpose."""

    status: ClassVar[int] = 500
    problem_type: ClassVar[str] = _PROBLEM_BASE + "InternalError"
    title: ClassVar[str] = "Internal error"


class InputError(TwinError):
    """Bad input: a file, a command-line flag or a request the user can fix."""

    status = 400
    problem_type = _PROBLEM_BASE + "BadRequestData"
    title = "Bad input"


class CityGMLError(InputError):
    """A CityGML document that cannot be read; the message names the file and line."""

    title = "Unreadable CityGML"


class CRSError(InputError):
    """A coordinate reference system that is missing or unknown."""

    title = "Unknown coordinate reference system"


class GeometryError(InputError):
    """A geometry that cannot be turned into triangles."""

    title = "Invalid geometry"


class QueryError(InputError):
    """A malformed query or request parameter."""

    problem_type = _PROBLEM_BASE + "InvalidRequest"
    title = "Invalid request"


class NotFoundError(TwinError):
    """No such dataset, object or file."""

    status = 404
    problem_type = _PROBLEM_BASE + "ResourceNotFound"
    title = "Not found"


class ConflictError(TwinError):
    """The resource already exists or was changed meanwhile."""

    status = 409
    problem_type = _PROBLEM_BASE + "AlreadyExists"
    title = "Conflict"


class ReprojectionError(TwinError):
    """PROJ could not transform coordinates that looked valid."""

    title = "Reprojection failed"


class EncodingError(TwinError):
    """A tile or a document could not be encoded."""

    title = "Encoding failed"


class StoreError(TwinError):
    """The database or the data directory failed."""

    title = "Store failure"


class StoreBusyError(StoreError):
    """Another connection (``twin import`` publishing a dataset) held the database's write lock
    past the busy timeout: nothing failed, the request may be sent again shortly."""

    status = 503
    title = "Store busy"
