"""The ``lang`` query parameter: LanguageProperties in one language (CIM 009 v1.8 §4.5.18).

``lang`` is a list of language tags with optional weights, as in ``Accept-Language``
(``lang=fr,en;q=0.8,*;q=0.1``). With it, a LanguageProperty is answered as a Property whose
``value`` is the string of the best language its ``languageMap`` has and whose ``lang`` says which
one: a tag matches the same tag or a more specific one (``en`` matches ``en-GB``, case-insensitive),
``*`` matches any; when nothing matches, the ``@none`` entry is used, else the first entry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from twin.ngsild.errors import BadRequestDataError

__all__ = ["LanguagePreference", "in_language", "parse_lang", "pick_language"]

LanguagePreference = tuple[str, ...]
"""Language tags (lower case), best first; ``*`` for any."""

_TAG: Final = re.compile(r"^(\*|[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*)$")


def parse_lang(text: str) -> LanguagePreference:
    """Parse a ``lang`` parameter into tags ordered by weight (ties keep their order).

    >>> parse_lang("fr;q=0.5,en-GB,*;q=0.1")
    ('en-gb', 'fr', '*')
    """
    weighted: list[tuple[float, int, str]] = []
    for i, part in enumerate(p.strip() for p in text.split(",")):
        tag, *params = (s.strip() for s in part.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            try:
                weight = float(value) if name.strip() == "q" else weight
            except ValueError:
                raise BadRequestDataError(f"invalid weight in lang: {part!r}") from None
        if not _TAG.match(tag) or not 0 <= weight <= 1:
            raise BadRequestDataError(f"invalid language in lang: {part!r}")
        if weight > 0:
            weighted.append((-weight, i, tag.lower()))
    if not weighted:
        raise BadRequestDataError(
            f"lang {text!r} names no acceptable language (every weight is 0); give one with q>0"
        )
    return tuple(tag for _, _, tag in sorted(weighted))


def pick_language(language_map: Mapping[str, Any], wanted: LanguagePreference) -> str | None:
    """Return the key of ``language_map`` to answer with; None when the map is empty.

    >>> pick_language({"en": "Barn", "de": "Scheune"}, ("fr", "de"))
    'de'
    >>> pick_language({"@none": "Barn", "en-GB": "Barn"}, ("en",))
    'en-GB'
    >>> pick_language({"@none": "Barn", "en": "Barn"}, ("fr",))
    '@none'
    """
    for tag in wanted:
        for key in language_map:
            lowered = key.lower()
            if tag == "*" or lowered == tag or lowered.startswith(tag + "-"):
                return key
    if "@none" in language_map:
        return "@none"
    return next(iter(language_map), None)


def in_language(attr: Mapping[str, Any], wanted: LanguagePreference) -> dict[str, Any]:
    """Return a LanguageProperty instance as the Property ``lang`` makes of it."""
    language_map = attr.get("languageMap") or {}
    key = pick_language(language_map, wanted)
    out = {k: v for k, v in attr.items() if k not in ("type", "languageMap")}
    out = {"type": "Property", **out, "value": None if key is None else language_map[key]}
    if key is not None:
        out["lang"] = key
    return out
