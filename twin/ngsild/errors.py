"""NGSI-LD problem types (CIM 009 §5.5.2) as branches of twin's one error tree.

::

    InputError (twin.errors)           400 BadRequestData
    ├── BadRequestDataError                 400 BadRequestData
    ├── InvalidRequestError                 400 InvalidRequest  (= twin.errors.QueryError)
    └── OperationNotSupportedError          422 OperationNotSupported
    NotFoundError (twin.errors)        404 ResourceNotFound
    ConflictError (twin.errors)        409 AlreadyExists
    TwinError
    ├── LdContextNotAvailableError          503 LdContextNotAvailable
    ├── TooManyResultsError                 403 TooManyResults
    └── UnauthorizedError                   401 about:blank (a bearer token is needed)
"""

from __future__ import annotations

from twin.errors import InputError, QueryError, TwinError

__all__ = [
    "PROBLEM_BASE",
    "BadRequestDataError",
    "InvalidRequestError",
    "LdContextNotAvailableError",
    "OperationNotSupportedError",
    "TooManyResultsError",
    "UnauthorizedError",
]

PROBLEM_BASE = "https://uri.etsi.org/ngsi-ld/errors/"

InvalidRequestError = QueryError
"""The request itself is malformed (bad JSON, bad query parameters): 400 InvalidRequest."""


class BadRequestDataError(InputError):
    """The request is well formed but its content is not valid NGSI-LD."""

    problem_type = PROBLEM_BASE + "BadRequestData"
    title = "Bad request data"


class OperationNotSupportedError(InputError):
    """The operation is valid NGSI-LD but not supported here (or not on this resource)."""

    status = 422
    problem_type = PROBLEM_BASE + "OperationNotSupported"
    title = "Operation not supported"


class LdContextNotAvailableError(TwinError):
    """A remote ``@context`` could not be retrieved."""

    status = 503
    problem_type = PROBLEM_BASE + "LdContextNotAvailable"
    title = "LD context not available"


class TooManyResultsError(TwinError):
    """The query would return more results than the server is willing to send at once."""

    status = 403
    problem_type = PROBLEM_BASE + "TooManyResults"
    title = "Too many results"


class UnauthorizedError(TwinError):
    """A write without a valid bearer token while the operator configured tokens.

    ``challenge`` is the answer's ``WWW-Authenticate`` header (RFC 6750 §3).
    """

    status = 401
    problem_type = "about:blank"
    title = "Unauthorized"

    def __init__(self, message: str, challenge: str) -> None:
        super().__init__(message)
        self.challenge = challenge
