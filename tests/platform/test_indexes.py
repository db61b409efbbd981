"""The tables every submit writes carry no index that another of their indexes already covers: each one
is one more entry to write per row (the assignment's status change is not a HOT update, so it writes a
new entry in every index of the table), for lookups the covering index serves as well."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

# What one submit inserts or updates (services.reading.annotation_submit).
WRITTEN_BY_A_SUBMIT = (
    "annotations_annotation",
    "annotations_annotationlabel",
    "annotations_annotationrevision",
    "annotations_assignment",
    "annotations_auditevent",
)

# A plain b-tree index (not unique, not partial, no expression) whose columns, with the same operator
# classes, begin another b-tree index of the table: every lookup it serves, the longer one serves too.
COVERED = """
WITH ix AS (
    SELECT t.relname AS tbl, i.relname AS idx, x.indisunique AS uniq,
           x.indpred IS NOT NULL OR x.indexprs IS NOT NULL AS special,
           string_to_array(x.indkey::text, ' ') AS cols, string_to_array(x.indclass::text, ' ') AS ops
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class t ON t.oid = x.indrelid
    JOIN pg_am am ON am.oid = i.relam
    WHERE am.amname = 'btree' AND t.relname = ANY(%s)
)
SELECT a.tbl, a.idx, b.idx
FROM ix a JOIN ix b ON a.tbl = b.tbl AND a.idx <> b.idx
WHERE NOT a.uniq AND NOT a.special AND NOT b.special
  AND cardinality(a.cols) <= cardinality(b.cols)
  AND b.cols[1:cardinality(a.cols)] = a.cols AND b.ops[1:cardinality(a.ops)] = a.ops
  AND (cardinality(a.cols) < cardinality(b.cols) OR b.uniq OR a.idx > b.idx)
ORDER BY 1, 2, 3
"""


def test_no_index_of_a_table_a_submit_writes_is_covered_by_another():
    if connection.vendor != "postgresql":
        pytest.skip("reads PostgreSQL's catalogue")
    with connection.cursor() as cursor:
        cursor.execute(COVERED, [list(WRITTEN_BY_A_SUBMIT)])
        covered = [f"{table}: {index} (covered by {by})" for table, index, by in cursor.fetchall()]
    assert covered == [], "\n".join(covered)
