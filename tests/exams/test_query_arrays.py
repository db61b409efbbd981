"""Large reads come back as numpy arrays, one packed value per column: every value of every column type,
exactly, in the same row order across the columns, and nothing for no rows."""

import numpy as np
import pytest
from django.db import connection

from annotations.selectors.exams.arrays import query_array_in_parts, query_arrays

pytestmark = pytest.mark.django_db

ROWS = """
SELECT * FROM (VALUES
    (1::int8, 7::int4, (-2)::int2, 0.5::float8),
    (9007199254740993::int8, (-2147483648)::int4, 32767::int2, (-1e-300)::float8),
    ((-9223372036854775808)::int8, 2147483647::int4, (-32768)::int2, 3.141592653589793::float8),
    (0::int8, 0::int4, 0::int2, 1e308::float8)
) AS v(big, mid, small, real)
"""
COLUMNS = [
    ("big", "int8", ">i8"),
    ("mid", "int4", ">i4"),
    ("small", "int2", ">i2"),
    ("real", "float8", ">f8"),
]
EXPECTED = [
    (1, 7, -2, 0.5),
    (9007199254740993, -2147483648, 32767, -1e-300),
    (-9223372036854775808, 2147483647, -32768, 3.141592653589793),
    (0, 0, 0, 1e308),
]


def _rows(arrays: list[np.ndarray]) -> list[tuple]:
    return sorted(zip(*(a.tolist() for a in arrays), strict=True))


def test_every_column_type_comes_back_exactly_and_row_by_row():
    arrays = query_arrays(ROWS, (), COLUMNS)
    assert [a.dtype.kind for a in arrays] == ["i", "i", "i", "f"]
    assert _rows(arrays) == sorted(EXPECTED)


def test_no_rows_are_empty_arrays_of_each_type():
    arrays = query_arrays(f"{ROWS} WHERE big = 42", (), COLUMNS)
    assert [len(a) for a in arrays] == [0, 0, 0, 0]
    assert [a.dtype.kind for a in arrays] == ["i", "i", "i", "f"]


def test_parameters_reach_the_query():
    (big,) = query_arrays(f"{ROWS} WHERE small <> %s", (0,), COLUMNS[:1])
    assert sorted(big.tolist()) == sorted(row[0] for row in EXPECTED if row[2] != 0)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="parts are aggregated by PostgreSQL alone")
@pytest.mark.parametrize(("sql_type", "kind"), [("int8", ">i8"), ("int4", ">i4")])
def test_parts_are_joined_in_their_order_and_an_empty_part_adds_nothing(sql_type, kind):
    parts = [
        ("SELECT g AS pk FROM generate_series(%s, %s) g", (5, 9)),
        ("SELECT g AS pk FROM generate_series(1, 0) g", ()),
        ("SELECT g AS pk FROM generate_series(%s, %s) g", (100_000, 100_002)),
    ]
    ids = query_array_in_parts(parts, "pk", sql_type, kind)
    assert sorted(ids.tolist()) == [5, 6, 7, 8, 9, 100_000, 100_001, 100_002]
    assert ids[:5].tolist() == sorted(ids[:5].tolist())  # the first part's before the third's
    assert set(ids[:5].tolist()) == {5, 6, 7, 8, 9}
