"""The NGSI-LD query languages: ``q`` (clause 4.9) and geo-queries (clause 4.10).

Pure functions, no I/O: parse the request parameters into frozen syntax trees, then test
entities (NGSI-LD normalized form, compacted attribute names) against them.
"""

from __future__ import annotations

from twin.ngsild.query.evaluate import evaluate_q, resolve_targets
from twin.ngsild.query.geo import GeoQuery, distance_m, evaluate_geo, parse_geoquery
from twin.ngsild.query.nodes import (
    And,
    AttrPath,
    Comparison,
    Exists,
    NotExists,
    Operator,
    Or,
    Pattern,
    QueryExpr,
    QueryValue,
    Range,
    Uri,
    ValueList,
    iter_paths,
    map_attribute_names,
)
from twin.ngsild.query.parse import parse_q
from twin.ngsild.query.render import render_q

__all__ = [
    "And",
    "AttrPath",
    "Comparison",
    "Exists",
    "GeoQuery",
    "NotExists",
    "Operator",
    "Or",
    "Pattern",
    "QueryExpr",
    "QueryValue",
    "Range",
    "Uri",
    "ValueList",
    "distance_m",
    "evaluate_geo",
    "evaluate_q",
    "iter_paths",
    "map_attribute_names",
    "parse_geoquery",
    "parse_q",
    "render_q",
    "resolve_targets",
]
