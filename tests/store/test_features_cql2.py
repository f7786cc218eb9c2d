"""CQL2 text as the standard writes it, parsed to the AST the SQL translation reads."""

from __future__ import annotations

import json

import pytest
from pygeofilter import ast

from twin.errors import QueryError
from twin.store.features_cql2 import parse_filter


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # CQL2 BNF: character = ... | escapeQuote; escapeQuote = "''" | "\'"
        ("name = 'O''Brien'", "O'Brien"),
        ("name = 'O\\'Brien'", "O'Brien"),
        ("name = ''''", "'"),
        ("name = ''", ""),
        ("name = '''s-Hertogenbosch'", "'s-Hertogenbosch"),
        ("name = 'a\\_b'", "a\\_b"),  # other backslashes stay, for LIKE's escapes
    ],
)
def test_a_quote_in_a_string_literal_is_escaped_by_doubling_or_a_backslash(
    text: str, value: str
) -> None:
    node = parse_filter(text)
    assert isinstance(node, ast.Equal)
    assert node.rhs == value


def test_strings_in_lists_and_dates_still_parse() -> None:
    node = parse_filter("name IN ('it''s', 'b') AND creationDate > DATE('2010-01-01')")
    assert isinstance(node, ast.And)
    assert isinstance(node.lhs, ast.In)
    assert node.lhs.sub_nodes == ["it's", "b"]


def test_an_unterminated_string_is_a_located_error() -> None:
    with pytest.raises(QueryError, match=r"^invalid CQL2 filter at line 1, column \d+"):
        parse_filter("name = 'it''s")


def test_cql2_json_between_takes_three_arguments() -> None:
    # CQL2 JSON (OGC 21-065r2): {"op": "between", "args": [value, low, high]}; pygeofilter
    # reads only [value, [low, high]] and answered "'int' object is not subscriptable"
    standard = {"op": "between", "args": [{"property": "height"}, 5, 10]}
    node = parse_filter(json.dumps({"op": "not", "args": [standard]}), "cql2-json")
    assert isinstance(node, ast.Not)
    between = node.sub_node
    assert isinstance(between, ast.Between)
    assert (between.lhs, between.low, between.high) == (ast.Attribute("height"), 5, 10)
