"""Which entities a query selects: ids, id pattern, type expression, attrs, ``q``, geo-query.

:class:`Selection` is built from request parameters (already expanded against the request's
context); :meth:`Selection.prefilter` is what SQL can narrow, :meth:`Selection.matches` the
exact test (type expressions with ``,`` ``|`` ``;`` and parentheses (§4.17), ``q`` (§4.9) and
geo-queries (§4.10) through :mod:`twin.ngsild.query`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from twin.ngsild.boolean import parse_boolean
from twin.ngsild.entity import ATTRIBUTE_KEYWORDS, is_uri
from twin.ngsild.errors import BadRequestDataError
from twin.ngsild.jsonld import Context
from twin.ngsild.query import (
    GeoQuery,
    QueryExpr,
    evaluate_geo,
    evaluate_q,
    map_attribute_names,
    parse_geoquery,
    parse_q,
)
from twin.ngsild.query_sql import QCondition, q_condition
from twin.ngsild.scope import ScopeTest, parse_scope_q

__all__ = [
    "Selection",
    "SelectionCache",
    "TypeExpr",
    "evaluation_view",
    "parse_selection",
    "parse_type_expr",
]

TypeExpr = Callable[[frozenset[str]], bool]
"""Tell whether an entity with these (expanded) types matches."""

_TYPE_TOKEN = re.compile(r"\s*([(),|;]|[^(),|;]+)")


def parse_type_expr(text: str, ctx: Context) -> tuple[TypeExpr, frozenset[str]]:
    """Parse a ``type`` parameter: ``,`` and ``|`` are or, ``;`` is and, with parentheses.

    Returns the predicate and every (expanded) type named in it.

    >>> from twin.ngsild.jsonld import CORE
    >>> match, names = parse_type_expr("(A;B)|C", CORE)
    >>> match(frozenset({CORE.expand("A"), CORE.expand("B")})), match(frozenset({CORE.expand("A")}))
    (True, False)
    """
    tokens = [m.group(1).strip() for m in _TYPE_TOKEN.finditer(text)]
    names: set[str] = set()

    def leaf(token: str) -> TypeExpr:
        iri = ctx.expand(token)
        names.add(iri)
        return lambda types: iri in types

    result = parse_boolean(tokens, ("|", ","), leaf, f"type {text!r}")
    return result, frozenset(names)


def evaluation_view(entity: Mapping[str, Any]) -> dict[str, Any]:
    """Return the stored entity as the normalized form the query evaluators read (IRIs kept)."""
    view: dict[str, Any] = {"id": entity["id"], "type": entity["type"]}
    for iri, instances in entity["attrs"].items():
        view[iri] = instances[0] if len(instances) == 1 else instances
    return view


@dataclass(frozen=True, slots=True)
class Selection:
    """A parsed entity query (names expanded)."""

    ids: tuple[str, ...] = ()
    id_pattern: str | None = None
    type_expr: TypeExpr | None = field(default=None, compare=False)
    types: tuple[str, ...] = ()
    attrs: tuple[str, ...] = ()
    q: QueryExpr | None = None
    geo: GeoQuery | None = None
    q_sql: QCondition | None = None
    """``q`` as conditions on the store's attribute index; see
    :func:`twin.ngsild.query_sql.q_condition`."""
    types_exact: bool = True
    """``types`` says all the type expression does (no ``;``)."""
    scope: ScopeTest | None = field(default=None, compare=False)
    """``scopeQ``, tested on the entity's ``scope`` (§4.19)."""

    @property
    def sql_decides(self) -> bool:
        """Whether :meth:`matches` adds nothing to ``types`` and ``q_sql`` where it is sure."""
        return self.types_exact and self.geo is None and self.scope is None

    def matches(self, entity: Mapping[str, Any]) -> bool:
        """Return whether the entity passes the filters SQL could not apply."""
        if self.type_expr is not None and not self.type_expr(frozenset(entity["type"])):
            return False
        if self.scope is not None and not self.scope(entity.get("scope", ())):
            return False
        if self.q is None and self.geo is None:
            return True
        view = evaluation_view(entity)
        if self.q is not None and not evaluate_q(self.q, view):
            return False
        return self.geo is None or evaluate_geo(self.geo, view)


def parse_selection(
    ctx: Context,
    *,
    ids: list[str],
    id_pattern: str | None,
    type_text: str | None,
    attrs: list[str],
    q: str | None,
    geo: tuple[str | None, str | None, str | None, str | None],
    scope_q: str | None = None,
) -> Selection:
    """Build a :class:`Selection` from request parameters; raise 400s on bad ones."""
    # CIM 009 §5.7.2.4: an entity id of the list that is no valid URI is BadRequestData
    if bad := [i for i in ids if not is_uri(i)]:
        raise BadRequestDataError(f"entity ids must be URIs, got {', '.join(map(repr, bad))}")
    if id_pattern is not None:
        try:
            re.compile(id_pattern)
        except re.error as exc:
            raise BadRequestDataError(f"invalid idPattern {id_pattern!r}: {exc}") from exc
    type_expr, types = parse_type_expr(type_text, ctx) if type_text else (None, frozenset())
    expr = None
    if q:
        expr = map_attribute_names(
            parse_q(q), lambda n: n if n in ATTRIBUTE_KEYWORDS else ctx.expand(n)
        )
    return Selection(
        ids=tuple(ids),
        id_pattern=id_pattern,
        type_expr=type_expr,
        types=tuple(sorted(types)),
        attrs=tuple(ctx.expand(a) for a in attrs),
        q=expr,
        geo=_geo(ctx, *geo),
        q_sql=q_condition(expr) if expr is not None else None,
        types_exact=";" not in (type_text or ""),
        scope=parse_scope_q(scope_q) if scope_q is not None else None,
    )


class SelectionCache:
    """Selections already parsed, by their request parameters and context (oldest dropped first).

    Parsing ``q`` and the type expression and translating ``q`` for the index cost more than a
    selective query's SQL; clients repeat their queries. A :class:`Selection` is immutable, so
    one parse serves every request with the same parameters and the same :class:`Context`
    object (the context resolver keeps one per context).

    >>> from twin.ngsild.jsonld import CORE
    >>> cache = SelectionCache()
    >>> a = cache.parse(CORE, ids=[], id_pattern=None, type_text="Room", attrs=[], q="t>1",
    ...                 geo=(None, None, None, None))
    >>> a is cache.parse(CORE, ids=[], id_pattern=None, type_text="Room", attrs=[], q="t>1",
    ...                  geo=(None, None, None, None))
    True
    """

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._parsed: dict[tuple[object, ...], tuple[Context, Selection]] = {}

    def parse(self, ctx: Context, **params: Any) -> Selection:
        """Return ``parse_selection(ctx, **params)``, parsing each set of parameters once."""
        key = (id(ctx), *((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))
        found = self._parsed.get(key)
        if found is not None and found[0] is ctx:
            return found[1]
        selection = parse_selection(ctx, **params)
        if len(self._parsed) >= self._size:
            del self._parsed[next(iter(self._parsed))]
        self._parsed[key] = (ctx, selection)
        return selection


def _geo(
    ctx: Context,
    georel: str | None,
    geometry: str | None,
    coordinates: str | None,
    geoproperty: str | None,
) -> GeoQuery | None:
    given = [georel, geometry, coordinates]
    if not any(given):
        return None
    if not all(given):
        raise BadRequestDataError("a geo-query needs georel, geometry and coordinates")
    assert georel is not None
    assert geometry is not None
    assert coordinates is not None
    return parse_geoquery(georel, geometry, coordinates, ctx.expand(geoproperty or "location"))
