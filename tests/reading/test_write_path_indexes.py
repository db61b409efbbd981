"""The tables every read writes carry no index that another index already serves: each one is written on
every submit (and the assignment's on every status change, which touches all of its indexes)."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

WRITE_PATH = (
    "annotations_assignment",
    "annotations_annotation",
    "annotations_annotationlabel",
    "annotations_annotationrevision",
    "annotations_auditevent",
)

# Plain indexes (not unique, not partial, default operator classes) whose columns are the leading columns
# of another index of the same table: any query they serve, the longer index serves too.
REPEATED = """
WITH idx AS (
  SELECT c.relname AS tbl, i.relname AS idx, ix.indisunique AS uniq, ix.indpred IS NOT NULL AS partial,
         (SELECT array_agg(a.attname ORDER BY k.ord)
            FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum) AS cols
  FROM pg_index ix
  JOIN pg_class c ON c.oid = ix.indrelid
  JOIN pg_class i ON i.oid = ix.indexrelid
  WHERE c.relname = ANY(%s) AND i.relname NOT LIKE '%%\\_like'
)
SELECT a.tbl, a.idx, b.idx FROM idx a JOIN idx b ON a.tbl = b.tbl AND a.idx <> b.idx
WHERE NOT a.uniq AND NOT a.partial AND NOT b.partial
  AND array_length(a.cols, 1) < array_length(b.cols, 1) AND b.cols[1:array_length(a.cols, 1)] = a.cols
ORDER BY 1, 2, 3
"""


def test_no_index_of_the_tables_a_read_writes_repeats_the_leading_columns_of_another():
    with connection.cursor() as cursor:
        cursor.execute(REPEATED, [list(WRITE_PATH)])
        repeated = cursor.fetchall()
    assert repeated == []
