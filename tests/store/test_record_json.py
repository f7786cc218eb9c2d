"""A record's JSON texts are exactly what ``json.dumps`` writes of the same values."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from twin.model import BuildingRecord
from twin.store.record_json import dumps, record_json, value_json

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),  # lone surrogates, quotes, control and non-ASCII characters
    st.dates(),
    st.datetimes(),
)


def _reference(value: Any) -> str:
    def default(v: object) -> str:
        assert isinstance(v, dt.date)
        return v.isoformat()

    return json.dumps(value, default=default, ensure_ascii=False, separators=(",", ":"))


@given(VALUES)
def test_a_value_is_written_as_json_dumps_writes_it(value: Any) -> None:
    assert value_json(value) == _reference(value)


@given(st.dictionaries(st.text(), VALUES, max_size=8))
def test_the_attributes_are_written_as_json_dumps_writes_them(attributes: dict[str, Any]) -> None:
    ring = [[8.0, 49.0], [8.1, 49.0], [8.1, 49.1], [8.0, 49.0]]
    footprint = {"type": "Polygon", "coordinates": [ring]}
    record = BuildingRecord("d", "B1", "Building", (8, 49, 0, 8.1, 49.1, 9), footprint, attributes)
    texts = record_json(record)
    assert texts.attributes == _reference(attributes) == dumps(attributes)
    assert texts.footprint == _reference(footprint)
    assert texts.values == tuple(_reference(v) for v in attributes.values())
