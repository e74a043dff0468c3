from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest

from labellake.portal import output


@pytest.mark.parametrize(
    "value,expected",
    [
        (dt.datetime(2026, 11, 20, 9, 41, tzinfo=dt.UTC), "2026-11-20T09:41:00+00:00"),
        (dt.date(2026, 11, 20), "2026-11-20"),
        ([("0", "Vehicle")], {"0": "Vehicle"}),
        ([{"x": 1.0, "y": 2.0}], [{"x": 1.0, "y": 2.0}]),
        (float("nan"), None),
        (b"\x00\x01", "AAE="),
        (None, None),
    ],
)
def test_jsonable(value: object, expected: object) -> None:
    assert output.jsonable(value) == expected


def test_formats() -> None:
    table = pa.table(
        {"n": [1, 2], "m": pa.array([[("k", "v")], None], pa.map_(pa.string(), pa.string()))}
    )
    assert json.loads(output.render(table, "json")) == [
        {"n": 1, "m": {"k": "v"}},
        {"n": 2, "m": None},
    ]
    assert output.render(table, "csv") == 'n,m\n1,"{""k"":""v""}"\n2,\n'
    text = output.render(table, "table")
    assert "(2 rows)" in text and '{"k":"v"}' in text
