"""Parsing the NGSI-LD ``q`` language (CIM 009 clause 4.9): spec examples, real queries, errors."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twin.errors import QueryError
from twin.ngsild.query import (
    And,
    AttrPath,
    Comparison,
    Exists,
    NotExists,
    Or,
    Pattern,
    QueryExpr,
    Range,
    Uri,
    ValueList,
    iter_paths,
    map_attribute_names,
    parse_q,
    render_q,
)


def _p(*attrs: str, member: tuple[str, ...] = ()) -> AttrPath:
    return AttrPath(attrs, member)


UTC = dt.UTC
PARSED: list[tuple[str, QueryExpr]] = [
    # clause 4.9 examples 0-10
    ("temperature", Exists(_p("temperature"))),
    ("temperature==20", Comparison(_p("temperature"), "==", 20)),
    ('brandName!="Mercedes"', Comparison(_p("brandName"), "!=", "Mercedes")),
    (
        'isParked=="urn:ngsi-ld:OffStreetParking:Downtown1"',
        Comparison(_p("isParked"), "==", "urn:ngsi-ld:OffStreetParking:Downtown1"),
    ),
    (
        'speed>50;brandName!="Mercedes"',
        And((Comparison(_p("speed"), ">", 50), Comparison(_p("brandName"), "!=", "Mercedes"))),
    ),
    ("isMonitoredBy", Exists(_p("isMonitoredBy"))),
    (
        '((speed>50|rpm>3000);brandName=="Mercedes")',
        And(
            (
                Or((Comparison(_p("speed"), ">", 50), Comparison(_p("rpm"), ">", 3000))),
                Comparison(_p("brandName"), "==", "Mercedes"),
            )
        ),
    ),
    (
        "(temperature>=20;temperature<=25)|capacity<=10",
        Or(
            (
                And(
                    (
                        Comparison(_p("temperature"), ">=", 20),
                        Comparison(_p("temperature"), "<=", 25),
                    )
                ),
                Comparison(_p("capacity"), "<=", 10),
            )
        ),
    ),
    (
        "temperature.observedAt>=2017-12-24T12:00:00Z",
        Comparison(
            _p("temperature", "observedAt"), ">=", dt.datetime(2017, 12, 24, 12, tzinfo=UTC)
        ),
    ),
    ('address[city]=="Berlin"', Comparison(_p("address", member=("city",)), "==", "Berlin")),
    (
        "sensor.rawdata[airquality.particulate]==40",
        Comparison(_p("sensor", "rawdata", member=("airquality", "particulate")), "==", 40),
    ),
    # real-world queries
    (
        "isParked==urn:ngsi-ld:OffStreetParking:Downtown1",
        Comparison(_p("isParked"), "==", Uri("urn:ngsi-ld:OffStreetParking:Downtown1")),
    ),
    ("temperature==20..25", Comparison(_p("temperature"), "==", Range(20, 25))),
    ("temperature!=20.5..25.5", Comparison(_p("temperature"), "!=", Range(20.5, 25.5))),
    ('name=="a","b"', Comparison(_p("name"), "==", ValueList(("a", "b")))),
    ("floors==1,2,3", Comparison(_p("floors"), "==", ValueList((1, 2, 3)))),
    ('name~="(?i)^ab"', Comparison(_p("name"), "~=", Pattern("(?i)^ab"))),
    ("name~=^(ab|cd)$", Comparison(_p("name"), "~=", Pattern("^(ab|cd)$"))),
    ("name!~=x.*", Comparison(_p("name"), "!~=", Pattern("x.*"))),
    (
        'address[addressLocality]=="Berlin"',
        Comparison(_p("address", member=("addressLocality",)), "==", "Berlin"),
    ),
    (
        "temperature.observedAt>=2024-01-01T12:00:00Z",
        Comparison(_p("temperature", "observedAt"), ">=", dt.datetime(2024, 1, 1, 12, tzinfo=UTC)),
    ),
    ('https://schema.org/name=="x"', Comparison(_p("https://schema.org/name"), "==", "x")),
    (
        "https://schema.org/name.observedAt>2024-01-01",
        Comparison(_p("https://schema.org/name", "observedAt"), ">", dt.date(2024, 1, 1)),
    ),
    ("schema:height>10", Comparison(_p("schema:height"), ">", 10)),
    ("opening<08:30:00", Comparison(_p("opening"), "<", dt.time(8, 30, tzinfo=UTC))),
    ("open==true", Comparison(_p("open"), "==", True)),
    ("delta>-1.5e3", Comparison(_p("delta"), ">", -1500.0)),
    ('name[en]=="red"', Comparison(_p("name", member=("en",)), "==", "red")),
    ('name[*]=="red"', Comparison(_p("name", member=("*",)), "==", "red")),
    ('label=="a;b|c)"', Comparison(_p("label"), "==", "a;b|c)")),
    ('label=="\\u00e9\\""', Comparison(_p("label"), "==", 'é"')),
    ("température>20", Comparison(_p("température"), ">", 20)),
    ("!a;b", And((NotExists(_p("a")), Exists(_p("b"))))),
    ("a|b;c", Or((Exists(_p("a")), And((Exists(_p("b")), Exists(_p("c"))))))),
    ("((a))", Exists(_p("a"))),
    (
        "t>=2024-05-01T10:00:00.250+02:00",
        Comparison(
            _p("t"),
            ">=",
            dt.datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        ),
    ),
]


@pytest.mark.parametrize(("text", "expected"), PARSED, ids=[t for t, _ in PARSED])
def test_parse(text: str, expected: QueryExpr) -> None:
    assert parse_q(text) == expected


MALFORMED = [
    ("", "invalid q at position 0: empty query"),
    ("temperature=20", "invalid q at position 11: expected an operator after 'temperature'"),
    ("temperature 20", "invalid q at position 11: expected an operator after 'temperature'"),
    ("temperature>", "invalid q at position 12: expected a value after '>'"),
    ("a==", "invalid q at position 3: expected a value after '=='"),
    (
        "brandName==Mercedes",
        "invalid q at position 11: unquoted text 'Mercedes'; put strings in double quotes",
    ),
    ('a=="open', "invalid q at position 3: unterminated string"),
    ('a=="\\x"', "invalid q at position 4: invalid string: Invalid \\escape"),
    (";a", "invalid q at position 0: expected an attribute name"),
    ("a;", "invalid q at position 2: expected an attribute name"),
    ("a;;b", "invalid q at position 2: expected an attribute name"),
    ("a||b", "invalid q at position 2: expected an attribute name"),
    ("1a>2", "invalid q at position 0: expected an attribute name"),
    ("a.>2", "invalid q at position 2: expected an attribute name"),
    ("(a;b", "invalid q at position 4: end of query; expected ')' to close the '(' at 0"),
    ("(a;b]", "invalid q at position 4: expected an operator after 'b'"),
    ("a)", "invalid q at position 1: unexpected ')'"),
    ("a==1 2", "invalid q at position 4: unexpected ' '; expected ';', '|' or ')'"),
    ("a==1)", "invalid q at position 4: unexpected ')'"),
    ("a[b==1", "invalid q at position 3: expected ']' to close the member path"),
    ("a[]==1", "invalid q at position 2: expected a member name"),
    ("a>1..2", "invalid q at position 2: '>' needs a number, string, date, time or dateTime"),
    ("a<1,2", "invalid q at position 2: '<' needs a number, string, date, time or dateTime"),
    ("a>true", "invalid q at position 2: '>' needs a number, string, date, time or dateTime"),
    ("a>=urn:x:y", "invalid q at position 3: '>=' needs a number, string, date, time or dateTime"),
    ('a==1.."z"', "invalid q at position 3: a range needs two values of the same comparable type"),
    (
        "a==true..false",
        "invalid q at position 3: a range needs two values of the same comparable type",
    ),
    (
        "a~=(",
        "invalid q at position 3: invalid regular expression: "
        "missing ), unterminated subpattern at position 0",
    ),
    ("a~=", "invalid q at position 3: expected a value after '~='"),
    ("!a==1", "invalid q at position 2: '!a' cannot be followed by an operator"),
    ("a{b}==1", "invalid q at position 1: linked entity queries ('{...}') are not supported"),
    ("t>2024-13-01", "invalid q at position 2: invalid date '2024-13-01'"),
    ("t>2024-01-01T25:00:00Z", "invalid q at position 2: invalid dateTime '2024-01-01T25:00:00Z'"),
    ("a==007", "invalid q at position 4: unexpected '0'; expected ';', '|' or ')'"),
    ("a>1e999", "invalid q at position 2: number '1e999' is out of range"),
    ("(" * 40 + "a" + ")" * 40, "invalid q at position 32: parentheses nested deeper than 32"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED, ids=[t[:30] for t, _ in MALFORMED])
def test_malformed(text: str, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_q(text)
    assert str(caught.value) == message
    assert type(caught.value) is QueryError


def test_iter_paths_in_order() -> None:
    paths = list(iter_paths(parse_q("a>1;(b.c|d[e.f]==2)")))
    assert paths == [_p("a"), _p("b", "c"), _p("d", member=("e", "f"))]


def test_map_attribute_names_leaves_members() -> None:
    expr = map_attribute_names(parse_q('a.observedAt>1;a[a]=="x"'), str.upper)
    assert expr == And(
        (
            Comparison(_p("A", "OBSERVEDAT"), ">", 1),
            Comparison(_p("A", member=("a",)), "==", "x"),
        )
    )


# --- parse(render(tree)) == tree -------------------------------------------------------------

_names = st.from_regex(r"[a-zA-Zé][a-zA-Z0-9_]{0,6}", fullmatch=True)
_paths = st.builds(
    AttrPath,
    st.lists(_names, min_size=1, max_size=3).map(tuple),
    st.lists(_names, max_size=2).map(tuple),
)
_datetimes = st.datetimes(
    min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(UTC)
)
_numbers = st.integers(-(10**12), 10**12) | st.floats(allow_nan=False, allow_infinity=False)
_comparables = _numbers | st.text(max_size=8) | _datetimes | st.dates()
_uris = st.from_regex(r"urn:ngsi-ld:[A-Za-z]{1,5}:[A-Za-z0-9]{1,5}", fullmatch=True).map(Uri)
_scalars = _comparables | st.booleans() | _uris
_ranges = st.one_of(
    st.tuples(_numbers, _numbers), st.tuples(st.text(max_size=4), st.text(max_size=4))
).map(lambda pair: Range(*pair))
_lists = st.lists(_scalars, min_size=2, max_size=4).map(lambda v: ValueList(tuple(v)))
_patterns = st.sampled_from(["^a", "(?i)x|y", "a;b", "[)]", '"q"']).map(Pattern)
_terms = st.one_of(
    st.builds(Exists, _paths),
    st.builds(NotExists, _paths),
    st.builds(Comparison, _paths, st.sampled_from([">", ">=", "<", "<="]), _comparables),
    st.builds(Comparison, _paths, st.sampled_from(["==", "!="]), _scalars | _ranges | _lists),
    st.builds(Comparison, _paths, st.sampled_from(["~=", "!~="]), _patterns),
)
_trees = st.recursive(
    _terms,
    lambda inner: st.lists(inner, min_size=2, max_size=3).flatmap(
        lambda ts: st.sampled_from([And(tuple(ts)), Or(tuple(ts))])
    ),
    max_leaves=8,
)


@given(_trees)
def test_parse_render_round_trip(tree: QueryExpr) -> None:
    assert parse_q(render_q(tree)) == tree
