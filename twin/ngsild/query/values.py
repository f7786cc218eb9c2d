"""Read and write the literal values of the NGSI-LD query language (clause 4.9, clause 4.6.3).

Values are read at a position of the query text and return the position after them, so the
parser can report where a query went wrong. Times and dateTimes without an offset are taken as
UTC (clause 4.6.3 says dateTimes are UTC), which keeps every parsed time comparable.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Final

from twin.errors import QueryError
from twin.ngsild.query.nodes import Comparable, Scalar, Uri

__all__ = ["format_scalar", "query_error", "scan_scalar", "scan_string"]

_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})"
_CLOCK = rf"\d{{2}}:\d{{2}}(?::\d{{2}}(?:\.\d+)?)?{_OFFSET}?"
_DATETIME: Final = re.compile(rf"\d{{4}}-\d{{2}}-\d{{2}}T{_CLOCK}")
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME: Final = re.compile(_CLOCK)
# Number: RFC 8259 section 6 (no leading zeros, no bare fraction).
_NUMBER: Final = re.compile(r"-?(?:0|[1-9]\d*)(?P<frac>\.\d+)?(?P<exp>[eE][+-]?\d+)?")
_BOOLEAN: Final = re.compile(r"(?:true|false)(?![\w:])")
# URI: RFC 3986 scheme ":" then anything up to a character the query language reserves.
_URI: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s;|(),\"\[\]]+")
_WORD: Final = re.compile(r"[^\s;|(),\"]+")


def query_error(pos: int, message: str) -> QueryError:
    """Return a :class:`QueryError` that names the 0-based position in the ``q`` text.

    Examples
    --------
    >>> str(query_error(12, "expected an operator after 'temperature'"))
    "invalid q at position 12: expected an operator after 'temperature'"
    """
    return QueryError(f"invalid q at position {pos}: {message}")


def scan_string(text: str, pos: int) -> tuple[str, int]:
    """Read a JSON string (RFC 8259 section 7) that starts with ``"`` at ``pos``.

    Examples
    --------
    >>> scan_string('a=="Mer\\\\"c";b', 3)
    ('Mer"c', 11)
    """
    end = pos + 1
    while end < len(text) and text[end] != '"':
        end += 2 if text[end] == "\\" else 1
    if end >= len(text):
        raise query_error(pos, "unterminated string")
    try:
        value = json.loads(text[pos : end + 1])
    except json.JSONDecodeError as exc:
        raise query_error(pos + exc.pos, f"invalid string: {exc.msg}") from exc
    assert isinstance(value, str)
    return value, end + 1


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _scan_temporal(text: str, pos: int) -> tuple[Comparable, int] | None:
    for pattern, kind in ((_DATETIME, "dateTime"), (_DATE, "date"), (_TIME, "time")):
        match = pattern.match(text, pos)
        if match is None:
            continue
        token = match.group()
        try:
            if kind == "dateTime":
                return _utc(dt.datetime.fromisoformat(token)), match.end()
            if kind == "date":
                return dt.date.fromisoformat(token), match.end()
            parsed = dt.time.fromisoformat(token)
        except ValueError as exc:
            raise query_error(pos, f"invalid {kind} '{token}'") from exc
        tzinfo = parsed.tzinfo if parsed.tzinfo is not None else dt.UTC
        return parsed.replace(tzinfo=tzinfo), match.end()
    return None


def scan_scalar(text: str, pos: int) -> tuple[Scalar, int]:
    """Read one value at ``pos``: string, dateTime, date, time, number, boolean or URI.

    Examples
    --------
    >>> scan_scalar("a==20..25", 3)
    (20, 5)
    >>> scan_scalar("a>=2024-01-01T12:00:00Z", 3)
    (datetime.datetime(2024, 1, 1, 12, 0, tzinfo=datetime.timezone.utc), 23)
    >>> scan_scalar("a==urn:ngsi-ld:Car:1", 3)
    (Uri(value='urn:ngsi-ld:Car:1'), 20)
    """
    if pos >= len(text):
        raise query_error(pos, "expected a value")
    if text[pos] == '"':
        return scan_string(text, pos)
    temporal = _scan_temporal(text, pos)
    if temporal is not None:
        return temporal
    if match := _NUMBER.match(text, pos):
        token = match.group()
        if match.group("frac") is None and match.group("exp") is None:
            return int(token), match.end()
        number = float(token)
        if number in (float("inf"), float("-inf")):
            raise query_error(pos, f"number '{token}' is out of range")
        return number, match.end()
    if match := _BOOLEAN.match(text, pos):
        return match.group() == "true", match.end()
    if match := _URI.match(text, pos):
        return Uri(match.group()), match.end()
    if match := _WORD.match(text, pos):
        word = match.group()
        raise query_error(pos, f"unquoted text '{word}'; put strings in double quotes")
    raise query_error(pos, "expected a value")


def format_scalar(value: Scalar) -> str:
    """Write a value the way :func:`scan_scalar` reads it back.

    Examples
    --------
    >>> format_scalar('say "hi"'), format_scalar(2.5), format_scalar(True)
    ('"say \\\\"hi\\\\""', '2.5', 'true')
    >>> format_scalar(dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC))
    '2024-01-01T12:00:00Z'
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Uri):
        return value.value
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
