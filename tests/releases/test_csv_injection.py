"""CSV files meant for spreadsheets never hand a spreadsheet a formula, and numbers stay numbers."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.urls import reverse

from annotations.services.agreement.compute import batch_agreement_compute
from tests.adjudication.test_adjudication import read
from tests.factories import UserFactory, batch_for, make_exam

pytestmark = pytest.mark.django_db

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HOSTILE = ["=cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0", "-2+3+cmd", "@SUM(1+9)*cmd", "\t=1+1", "\r=1+1"]


def is_number(text: str) -> bool:
    """A plain decimal number, as a spreadsheet reads one (not "-inf", which it would evaluate)."""
    return re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text) is not None


def dangerous(rows: list[list[str]]) -> list[str]:
    return [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS) and not is_number(cell)]


def test_the_audit_export_neutralises_formulas_typed_as_user_names(client, diego):
    for name in HOSTILE:
        client.post("/accounts/login/", {"username": name, "password": "x"})
    client.force_login(diego)
    response = client.get("/audit/export.csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    names = {row[2] for row in rows[1:]}
    assert dangerous(rows) == []
    # Still readable: the name as typed, behind the apostrophe spreadsheets hide.
    assert "'=cmd|' /C calc'!A0" in names and "'@SUM(1+9)*cmd" in names


def csv_table(client, batch, table: str) -> list[list[str]]:
    response = client.get(reverse("batch-agreement-csv", args=[batch.pk]) + f"?table={table}")
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_agreement_tables_neutralise_formulas_and_keep_negative_numbers_numeric(client, diego, tnmg):
    # Django's user names allow @ + - . _: enough to start a formula.
    one = UserFactory(username="@SUM(1+9)", roles=["reader"])
    two = UserFactory(username="-2+3", roles=["reader"])
    exams = [make_exam(seed=i) for i in range(4)]
    batch = batch_for(tnmg, diego, [one, two], exams, name="Opposites")
    # Systematic disagreement on SB: its kappa is negative.
    for index, exam in enumerate(exams):
        read(one, batch, exam, ["SB"] if index < 2 else ["1dAVb"])
        read(two, batch, exam, ["SB"] if index >= 2 else ["1dAVb"])
    batch_agreement_compute(batch.pk)
    client.force_login(diego)
    tables = {table: csv_table(client, batch, table) for table in ("classes", "readers", "pairs")}
    for rows in tables.values():
        assert dangerous(rows) == []
    sb = next(row for row in tables["classes"] if row[0] == "SB")
    kappa = sb[tables["classes"][0].index("fleiss_kappa")]
    assert is_number(kappa) and float(kappa) < 0, kappa
    readers = {row[0] for row in tables["readers"][1:]}
    assert readers == {"'@SUM(1+9)", "'-2+3"}


def test_the_shared_writer_keeps_numbers_and_quotes_formulas():
    from annotations.lib.spreadsheet_csv import spreadsheet_cell

    assert spreadsheet_cell(-0.31) == -0.31 and spreadsheet_cell("-0.31") == "-0.31"
    assert spreadsheet_cell("+1e-3") == "+1e-3" and spreadsheet_cell(None) is None
    for text in [*HOSTILE, "-", "+", "@", "-inf", "-nan"]:
        assert spreadsheet_cell(text) == "'" + text
    assert spreadsheet_cell("ordinary text") == "ordinary text"


def test_a_skip_reason_in_the_release_reads_csv_never_starts_a_formula(
    ana, bruno, carla, diego, tnmg, tmp_path
):
    """Release CSVs carry codes, ids and numbers as imported; the one free text, a skip reason, is escaped."""
    from annotations.models import Assignment
    from annotations.selectors.releases.plan import export_plan
    from annotations.services.releases.export import ExportOptions, export_write
    from tests.exporting import labelled_study

    carol = UserFactory(username="carol", roles=["reader"])
    study = labelled_study(readers=[ana, bruno, carol], coordinator=diego, adjudicator=carla, taxonomy=tnmg)
    skipped = Assignment.objects.get(batch=study.batch, reader=carol, exam=study.exams["E004"])
    Assignment.objects.filter(pk=skipped.pk).update(skip_reason='=HYPERLINK("http://x","see")')
    export_write(
        export_plan([study.batch.pk]), tmp_path, ExportOptions(hdf5=False), title="t", release_date="x"
    )
    with open(tmp_path / "reads.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert dangerous(rows) == []
    assert any(cell == '\'=HYPERLINK("http://x","see")' for row in rows for cell in row)


def test_the_csv_text_is_csv_writers_own_except_that_a_lone_carriage_return_is_quoted():
    """annotations.lib.csv_text against the csv module, for both line ends the product writes."""
    from annotations.lib.csv_text import CsvWriter

    values = [None, "", 0, -3, 2.5, 1e-7, float("nan"), True, "plain", " spaced ", "a,b", 'say "hi"']
    values += ["two\nlines", "crlf\r\nend", "=1+1", "é ü", "x" * 300]
    rows = [values, values[::-1], [""], ["", ""], [None], [3]]
    for end in ("\n", "\r\n"):
        ours, theirs = io.StringIO(), io.StringIO()
        CsvWriter(ours, end=end).writerows(rows)
        csv.writer(theirs, lineterminator=end).writerows(rows)
        assert ours.getvalue() == theirs.getvalue(), repr(end)
    bare = io.StringIO()
    CsvWriter(bare).writerow(["a\rb", "c"])
    assert bare.getvalue() == '"a\rb",c\n'
    assert list(csv.reader(io.StringIO(bare.getvalue(), newline=""))) == [["a\rb", "c"]]
