# ruff: noqa: F811
"""Whole-exam agreement (exact match and mean Jaccard, over every exam read twice and over those with a
finding) as a coordinator gets it: with three readers, intervals by the default two-way method like the
kappas', through the API, the agreement page and the ``exams`` CSV table."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotations.services.agreement.compute import batch_agreement_compute
from tests.agreement.test_agreement_tables import carol, code15, download, number  # noqa: F401
from tests.factories import ExamFactory, batch_for, read

pytestmark = pytest.mark.django_db

CODES = ["1dAVb", "RBBB", "LBBB", "SB", "AF", "ST"]


def _codes(i: int, j: int) -> list[str]:
    """Reads that mostly agree: exam i's findings, with reader j now and then adding or missing one."""
    codes = {CODES[i % 6]} if i % 3 else set()
    if (i + 2 * j) % 5 == 0:
        codes ^= {CODES[(i + j) % 6]}
    return sorted(codes)


def _computed(diego, code15, readers, n_exams: int = 30):
    exams = ExamFactory.create_batch(n_exams)
    batch = batch_for(code15, diego, readers, exams, name="Tables")
    for i, exam in enumerate(exams):
        for j, reader in enumerate(readers):
            read(reader, batch, exam, _codes(i, j))
    batch_agreement_compute(batch.pk)
    return batch


def _inside(point, interval) -> bool:
    return None not in interval and interval[0] <= point <= interval[1]


def test_three_readers_get_two_way_intervals_on_whole_exams_in_the_api_page_and_csv(
    client, ana, bruno, carol, diego, code15
):
    batch = _computed(diego, code15, [ana, bruno, carol])
    client.force_login(diego)
    api = client.get(reverse("api-batch-agreement", args=[batch.pk])).json()
    assert api["bootstrap"]["method"] == "exams_and_readers"
    exams, findings = api["exams"], api["exams_with_findings"]
    assert exams["interval"] == findings["interval"] == "exams_and_readers"
    for figures in (exams, findings):
        assert _inside(figures["exact_match_rate"], figures["exact_match_rate_ci"]), figures
        assert _inside(figures["mean_jaccard"], figures["mean_jaccard_ci"]), figures
    assert exams["n"] == 30 and 0 < findings["n"] < 30

    rows = {(row["statistic"], row["exams"]): row for row in download(client, diego, batch, "exams")}
    assert set(rows) == {
        ("exact_match_rate", "all"),
        ("mean_jaccard", "all"),
        ("exact_match_rate", "with_findings"),
        ("mean_jaccard", "with_findings"),
    }
    for (name, subset), row in rows.items():
        figures = exams if subset == "all" else findings
        assert number(row["value"]) == pytest.approx(figures[name], abs=1e-12)
        assert [number(row["ci_lower"]), number(row["ci_upper"])] == pytest.approx(figures[f"{name}_ci"])
        assert int(row["n"]) == figures["n"] and row["interval_method"] == "exams_and_readers"

    page = client.get(reverse("batch-agreement", args=[batch.pk])).content.decode()
    assert "?table=exams" in page
    low, high = exams["mean_jaccard_ci"]
    assert f"({low:.2f}\N{EN DASH}{high:.2f})" in page


def test_two_readers_keep_intervals_over_exams(client, ana, bruno, diego, code15):
    batch = _computed(diego, code15, [ana, bruno], n_exams=20)
    rows = download(client, diego, batch, "exams")
    assert len(rows) == 4 and {row["interval_method"] for row in rows} == {"exams"}
    assert all(row["ci_lower"] != "" and row["ci_upper"] != "" for row in rows)
