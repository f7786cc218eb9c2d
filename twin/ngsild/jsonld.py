"""The JSON-LD subset NGSI-LD needs: term definitions, prefixes and ``@vocab``.

NGSI-LD expands the *names* in a payload — entity types, attribute names, sub-attribute
names — against the request's ``@context`` followed by the core context, and compacts them back
on the way out (CIM 009 §5.5.7, §6.3.5). Values stay as they are. This module implements that
term mapping without a general JSON-LD processor:

- a term maps to an IRI (``"Building": "https://smartdatamodels.org/…/Building"``), possibly
  through a prefix (``"schema:name"``) or an expanded term definition (``{"@id": …}``);
- a name with a known prefix (``schema:name``) is a compact IRI, an absolute IRI (``urn:…``,
  ``https://…``) stays as is;
- anything else is appended to ``@vocab`` (the core context's is
  ``https://uri.etsi.org/ngsi-ld/default-context/``).

The core context always comes last, so its terms cannot be redefined (§5.5.7), but a user's
``@vocab`` wins over the core one. Every core context version (v1.3 … v1.8) is bundled in
``contexts/`` and resolved offline; other URLs are fetched by the ``fetch`` function given to
:class:`ContextResolver` (the server passes an aiohttp client with a short timeout), and cached.

>>> ctx = build_context([{"schema": "https://schema.org/", "name": "schema:name"}])
>>> ctx.expand("name"), ctx.expand("temperature"), ctx.expand("location")
('https://schema.org/name', 'https://uri.etsi.org/ngsi-ld/default-context/temperature', \
'https://uri.etsi.org/ngsi-ld/location')
>>> ctx.compact("https://schema.org/name"), ctx.compact("https://schema.org/address")
('name', 'schema:address')
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Final, TypeAlias

from twin.ngsild.errors import BadRequestDataError, LdContextNotAvailableError

__all__ = [
    "CORE",
    "CORE_CONTEXT_URL",
    "CORE_CONTEXT_URLS",
    "Context",
    "ContextResolver",
    "RawContext",
    "build_context",
    "core_context_document",
    "link_url",
]

RawContext: TypeAlias = str | Mapping[str, object] | Sequence[object] | None
"""A ``@context`` as found in a payload or a Link header: URL, object, list of both, or none."""

Fetch: TypeAlias = Callable[[str], Awaitable[object]]
"""Fetch a remote context document (parsed JSON); raise anything on failure."""

_CORE_BASE: Final = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context"
CORE_VERSIONS: Final = ("1.3", "1.4", "1.5", "1.6", "1.7", "1.8")
CORE_CONTEXT_URL: Final = f"{_CORE_BASE}-v1.8.jsonld"
"""The core context twin answers with (CIM 009 v1.8)."""
CORE_CONTEXT_URLS: Final = frozenset(
    {f"{_CORE_BASE}.jsonld"} | {f"{_CORE_BASE}-v{v}.jsonld" for v in CORE_VERSIONS}
)
"""Every core context URL resolved offline (the versionless one is treated as v1.3)."""

_MAX_DEPTH: Final = 8
_GEN_DELIMS: Final = (":", "/", "?", "#", "[", "]", "@")


@cache
def core_context_document(url: str) -> Mapping[str, object]:
    """Return the bundled core context document (``{"@context": {...}}``) published at ``url``."""
    if url not in CORE_CONTEXT_URLS:
        raise KeyError(url)
    version = url.removeprefix(_CORE_BASE).removesuffix(".jsonld").removeprefix("-v") or "1.3"
    text = resources.files("twin.ngsild").joinpath(
        f"contexts/ngsi-ld-core-context-v{version}.jsonld"
    )
    doc: Mapping[str, object] = json.loads(text.read_text(encoding="utf-8"))
    return doc


def _is_absolute_iri(name: str) -> bool:
    scheme, sep, _ = name.partition(":")
    return bool(sep) and scheme.isascii() and scheme[:1].isalpha() and "/" not in scheme


@dataclass(frozen=True, slots=True)
class Context:
    """A processed context: term → IRI definitions and the vocabulary mapping.

    Attributes
    ----------
    terms : Mapping[str, str]
        Each term's IRI, already expanded (``"name" → "https://schema.org/name"``).
    vocab : str | None
        The ``@vocab`` IRI names without a definition are appended to.
    prefixes : Mapping[str, str]
        Terms usable as prefixes of compact IRIs (their IRI ends in a gen-delim).
    """

    terms: Mapping[str, str]
    vocab: str | None
    prefixes: Mapping[str, str]
    _inverse: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def expand(self, name: str) -> str:
        """Return the IRI ``name`` stands for (keywords and absolute IRIs unchanged)."""
        if name.startswith("@"):
            return name
        iri = self.terms.get(name)
        if iri is not None:
            return iri
        prefix, sep, suffix = name.partition(":")
        if sep:
            if prefix in self.prefixes and not suffix.startswith("//"):
                return self.prefixes[prefix] + suffix
            if _is_absolute_iri(name):
                return name
        return (self.vocab or "") + name

    def compact(self, iri: str) -> str:
        """Return the shortest name that expands back to ``iri`` (``iri`` itself when none)."""
        cached = self._inverse.get(iri)
        if cached is not None:
            return cached
        name = self._compact(iri)
        if len(self._inverse) < 65536:
            self._inverse[iri] = name
        return name

    def _compact(self, iri: str) -> str:
        candidates = [t for t, v in self.terms.items() if v == iri]
        if candidates:
            return min(candidates, key=lambda t: (len(t), t))
        if self.vocab and iri.startswith(self.vocab):
            suffix = iri[len(self.vocab) :]
            if suffix and suffix not in self.terms and ":" not in suffix:
                return suffix
        best: str | None = None
        for prefix, base in self.prefixes.items():
            if iri.startswith(base) and len(iri) > len(base):
                compact = f"{prefix}:{iri[len(base) :]}"
                if compact not in self.terms and (best is None or len(compact) < len(best)):
                    best = compact
        return best or iri


def build_context(definitions: Sequence[Mapping[str, object]]) -> Context:
    """Process local context objects, in order, and end with the core context.

    Parameters
    ----------
    definitions : sequence of mappings
        Context objects as in a ``@context`` (remote ones already fetched and flattened).

    Raises
    ------
    BadRequestDataError
        A term definition that is neither a string, null nor an object with ``@id``.
    """
    raw: dict[str, str | None] = {}
    vocab: str | None = None
    for definition in definitions:
        for term, value in definition.items():
            if term == "@vocab":
                vocab = value if isinstance(value, str) else None
            elif term.startswith("@"):
                continue
            elif value is None or isinstance(value, str):
                raw[term] = value
            elif isinstance(value, Mapping) and isinstance(value.get("@id", term), str):
                raw[term] = str(value.get("@id", term))
            else:
                raise BadRequestDataError(f"invalid term definition for {term!r} in @context")
    core = _core_terms()
    raw.update(core)
    terms = _resolve_terms(raw, vocab or core_vocab())
    prefixes = {t: iri for t, iri in terms.items() if iri.endswith(_GEN_DELIMS) and ":" not in t}
    return Context(terms=terms, vocab=vocab or core_vocab(), prefixes=prefixes)


def _resolve_terms(raw: Mapping[str, str | None], vocab: str) -> dict[str, str]:
    """Expand every term's IRI, following prefixes and term-to-term references."""
    resolved: dict[str, str] = {}

    def resolve(term: str, depth: int) -> str | None:
        if term in resolved:
            return resolved[term]
        value = raw.get(term)
        if value is None or depth > _MAX_DEPTH:
            return None
        if value.startswith("@"):
            iri = value
        elif ":" in value:
            prefix, _, suffix = value.partition(":")
            base = resolve(prefix, depth + 1) if prefix in raw and prefix != term else None
            iri = base + suffix if base is not None and not suffix.startswith("//") else value
        elif value in raw and value != term:
            iri = resolve(value, depth + 1) or vocab + value
        else:
            iri = vocab + value
        resolved[term] = iri
        return iri

    for term in raw:
        resolve(term, 0)
    return resolved


@cache
def _core_terms() -> dict[str, str | None]:
    ctx = core_context_document(CORE_CONTEXT_URL)["@context"]
    assert isinstance(ctx, Mapping)
    return {
        t: v if isinstance(v, str) else str(v["@id"])
        for t, v in ctx.items()
        if not t.startswith("@") and (isinstance(v, (str, Mapping)))
    }


@cache
def core_vocab() -> str:
    """Return the core context's ``@vocab`` (the NGSI-LD default context)."""
    ctx = core_context_document(CORE_CONTEXT_URL)["@context"]
    assert isinstance(ctx, Mapping)
    return str(ctx["@vocab"])


CORE: Final = build_context([])
"""The core context alone: what applies when a request brings no context."""


def link_url(raw: RawContext) -> str | None:
    """Return the URL a ``Link`` header gives for ``raw``; None when no one URL stands for it.

    The core context applies last whatever a context says, so its URLs may be left out.

    >>> link_url(["https://example.org/ctx.jsonld", CORE_CONTEXT_URL])
    'https://example.org/ctx.jsonld'
    >>> link_url(None) == link_url(CORE_CONTEXT_URL) == CORE_CONTEXT_URL
    True
    >>> link_url([{"t": "https://example.org/t"}, CORE_CONTEXT_URL]) is None
    True
    """
    items = [raw] if raw is None or isinstance(raw, str | Mapping) else list(raw)
    rest = [
        i for i in items if i is not None and not (isinstance(i, str) and i in CORE_CONTEXT_URLS)
    ]
    if not rest:
        return CORE_CONTEXT_URL
    return rest[0] if len(rest) == 1 and isinstance(rest[0], str) else None


class ContextResolver:
    """Turn a raw ``@context`` into a :class:`Context`, fetching and caching remote ones.

    Parameters
    ----------
    fetch : callable, optional
        ``await fetch(url)`` returns the parsed JSON document at ``url``; without it, only the
        bundled core contexts resolve.
    """

    def __init__(self, fetch: Fetch | None = None) -> None:
        self._fetch = fetch
        self._documents: dict[str, object] = {}
        self._contexts: dict[str, Context] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def resolve(self, raw: RawContext) -> Context:
        """Return the processed context of ``raw`` (core context last).

        Raises
        ------
        LdContextNotAvailableError
            A remote context could not be fetched or is not a JSON-LD context document.
        BadRequestDataError
            The context itself is malformed.
        """
        if raw is None:
            return CORE
        key = json.dumps(raw, sort_keys=True, default=str)
        found = self._contexts.get(key)
        if found is not None:
            return found
        definitions: list[Mapping[str, object]] = []
        await self._flatten(raw, definitions, 0)
        context = build_context(definitions) if definitions else CORE
        if len(self._contexts) < 4096:
            self._contexts[key] = context
        return context

    async def _flatten(self, raw: object, out: list[Mapping[str, object]], depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise BadRequestDataError("@context nests too deeply")
        if raw is None:
            return
        if isinstance(raw, str):
            if raw in CORE_CONTEXT_URLS:
                return  # the core context is always applied last anyway
            document = await self._document(raw)
            inner = document.get("@context") if isinstance(document, Mapping) else None
            if inner is None:
                raise LdContextNotAvailableError(f"{raw} is not a JSON-LD context document")
            await self._flatten(inner, out, depth + 1)
        elif isinstance(raw, Mapping):
            out.append(raw)
        elif isinstance(raw, Sequence):
            for item in raw:
                await self._flatten(item, out, depth + 1)
        else:
            raise BadRequestDataError("@context must be a URL, an object or a list of them")

    async def _document(self, url: str) -> object:
        if url in self._documents:
            return self._documents[url]
        if not _is_absolute_iri(url) or self._fetch is None:
            raise LdContextNotAvailableError(f"cannot retrieve the @context at {url!r}")
        lock = self._locks.setdefault(url, asyncio.Lock())
        async with lock:
            if url not in self._documents:
                try:
                    self._documents[url] = await self._fetch(url)
                except Exception as exc:
                    raise LdContextNotAvailableError(
                        f"cannot retrieve the @context at {url}: {str(exc) or type(exc).__name__}"
                    ) from exc
        return self._documents[url]
