"""The designer page offers what the models scored: a coordinator stratifies a sample by, or keeps a window
of, a model's score for a statement by choosing it from a list of the (provider, statement) pairs that
exams carry scores for, as the API takes them by name; the page shows the strata with their score ranges."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from annotations.lib.batch_design import sample_stratified
from annotations.models import DiagnosticClass, ReviewBatch
from annotations.selectors.exams.selection import scored_statements
from tests.batches.test_batch_pages import design_post
from tests.batches.test_stratified_newest_scores import newest_scores, scored, window_body
from tests.factories import DatasetFactory, DiagnosticClassFactory, ExamFactory

pytestmark = pytest.mark.django_db
ROW = re.compile(r'<tr data-exam="(\d+)">')


@pytest.fixture
def scored_archive(tnmg):
    """30 exams scored by "m" for AF and RBBB and by "other" for AF; another taxonomy's "AF" scored by "m"
    on two of them, and a statement of another taxonomy alone (code "ZZZ") scored by "third"."""
    af = DiagnosticClass.objects.get(taxonomy=tnmg, code="AF")
    rbbb = DiagnosticClass.objects.get(taxonomy=tnmg, code="RBBB")
    af_elsewhere = DiagnosticClassFactory(code="AF")
    zzz = DiagnosticClassFactory(code="ZZZ", name="Only elsewhere")
    exams = ExamFactory.create_batch(30, dataset=DatasetFactory(name="archive"))
    hour = timedelta(hours=1)
    for i, exam in enumerate(exams):
        scored(exam, "m", "1", hour, {af: (i % 10) / 10 + 0.05, rbbb: 0.5})
        scored(exam, "other", "1", hour, {af: 0.9 if i % 3 == 0 else 0.1})
    scored(exams[0], "m", "2", 2 * hour, {af_elsewhere: 0.99})
    scored(exams[1], "third", "1", hour, {zzz: 0.7})
    return exams


def options(page: str, name: str) -> list[tuple[str, str]]:
    start = page.index(f'<select name="{name}"')
    select = page[start : page.index("</select>", start)]
    return [
        (value, text.strip()) for value, text in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)<', select)
    ]


def test_the_scored_statements_are_each_provider_and_code_once(diego, scored_archive):
    assert [(s.provider, s.code) for s in scored_statements(diego)] == [
        ("m", "AF"),
        ("m", "RBBB"),
        ("other", "AF"),
        ("third", "ZZZ"),
    ]


def test_the_designer_lists_the_scored_statements_to_stratify_by_and_to_keep_a_window_of(
    client_for, diego, tnmg, scored_archive
):
    page = client_for(diego).get("/batches/new/").content.decode()
    af, rbbb = (DiagnosticClass.objects.get(taxonomy=tnmg, code=code).name for code in ("AF", "RBBB"))
    expected = [
        ("m:AF", f"m · AF — {af}"),  # named as the default taxonomy names it
        ("m:RBBB", f"m · RBBB — {rbbb}"),
        ("other:AF", f"other · AF — {af}"),
        ("third:ZZZ", "third · ZZZ — Only elsewhere"),
    ]
    assert options(page, "stratify_by") == [("", "none: a simple random sample"), *expected]
    assert options(page, "score_window") == [("", "any: no window"), *expected]


@pytest.mark.parametrize(("strata", "seed"), [(4, 0), (2, 5)])
def test_a_sample_stratified_on_the_page_is_the_apis(
    client_for, diego, ana, bruno, tnmg, scored_archive, strata, seed
):
    ids = [e.pk for e in scored_archive]
    expected = sample_stratified(newest_scores(ids, "other", "AF"), 12, seed, strata)
    client = client_for(diego)
    post = design_post(tnmg, [ana, bruno], sample_size=12, stratify_by="other:AF", strata=strata, seed=seed)
    page = client.post("/batches/new/", {**post, "action": "preview"}).content.decode()
    assert sorted(int(pk) for pk in ROW.findall(page)) == expected.exam_ids
    table = page[page.index('id="strata"') : page.index("</table>", page.index('id="strata"'))]
    rows = re.findall(r"<tr><th>([^<]*)</th><td>(\d+)</td><td>(\d+)</td></tr>", table)
    assert [(int(a), int(t)) for _, a, t in rows] == list(
        zip(expected.available, expected.taken, strict=True)
    )
    assert rows[0][0] == f"0.00\N{EN DASH}{1 / strata:.2f}" and rows[-1][0].endswith("\N{EN DASH}1.00")
    assert "has not scored for the statement counts as 0, in the lowest stratum" in page  # said on the page
    made = client.post("/batches/new/", {**post, "action": "create"})
    assert made.status_code == 302
    batch = ReviewBatch.objects.get()
    assert sorted(batch.batch_exams.values_list("exam_id", flat=True)) == expected.exam_ids


@pytest.mark.parametrize(("low", "high"), [("0.5", ""), ("", "0.3"), ("0.25", "0.65")])
def test_a_score_window_chosen_on_the_page_keeps_the_exams_the_api_keeps(
    client_for, diego, ana, tnmg, scored_archive, low, high
):
    client = client_for(diego)
    post = design_post(
        tnmg, [ana], readers_per_exam=1, score_window="m:AF", suggestion_min=low, suggestion_max=high
    )
    page = client.post("/batches/new/", {**post, "action": "preview"}).content.decode()
    window = {"low": float(low) if low else None, "high": float(high) if high else None}
    body = window_body(tnmg, ana, provider="m", **window)
    api = client.post("/api/v1/batches/preview/", body, content_type="application/json").json()
    assert 0 < api["matching"] < 30
    assert f"{api['exams']} of {api['matching']} matching exams" in page
    newest = newest_scores([e.pk for e in scored_archive], "m", "AF")
    inside = [
        pk for pk, s in newest.items() if (not low or s >= float(low)) and (not high or s <= float(high))
    ]
    assert sorted(int(pk) for pk in ROW.findall(page)) == sorted(inside)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"score_window": "m:AF", "suggestion_min": "0.8", "suggestion_max": "0.2"}, "lowest score"),
        ({"suggestion_min": "0.5"}, "choose the model score"),
        ({"score_window": "m:AF", "suggestion_min": "1.5"}, "less than or equal to 1"),
        ({"stratify_by": "m:NOPE", "sample_size": 6}, "Select a valid choice"),
        ({"stratify_by": "m:AF"}, "a sample size"),
    ],
    ids=["min over max", "bounds without a score", "out of range", "not scored", "strata without a sample"],
)
def test_a_window_or_strata_the_page_cannot_honour_are_refused_with_a_reason(
    client_for, diego, ana, bruno, tnmg, scored_archive, extra, message
):
    response = client_for(diego).post(
        "/batches/new/", design_post(tnmg, [ana, bruno], action="preview", **extra)
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page and 'id="design-preview"' not in page
    assert not ReviewBatch.objects.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"stratify_provider": "m", "stratify_code": "AF"}, "stratifying needs a sample size"),
        ({"stratify_provider": "m", "sample_size": 6}, "needs both the provider and the statement code"),
        ({"stratify_code": "AF", "sample_size": 6}, "needs both the provider and the statement code"),
    ],
    ids=["no sample size", "provider alone", "code alone"],
)
def test_the_api_refuses_strata_it_cannot_draw_instead_of_ignoring_them(
    client_for, diego, ana, tnmg, scored_archive, extra, message
):
    body = {
        "name": "Half",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk],
        "readers_per_exam": 1,
        "criteria": {"datasets": ["archive"]},
        **extra,
    }
    client = client_for(diego)
    for url in ("/api/v1/batches/preview/", "/api/v1/batches/"):
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 400 and message in response.content.decode(), url
    assert not ReviewBatch.objects.exists()


def test_in_portuguese_the_scored_statements_and_an_exams_scores_are_named_as_tnmg_writes_them(
    client_for, diego, tnmg, scored_archive
):
    af = DiagnosticClass.objects.get(taxonomy=tnmg, code="AF")
    assert af.name_pt and af.name_pt != af.name
    client = client_for(diego)
    portuguese = {"HTTP_ACCEPT_LANGUAGE": "pt-BR,pt;q=0.9"}
    page = client.get("/batches/new/", **portuguese).content.decode()
    assert ("other:AF", f"other · AF — {af.name_pt}") in options(page, "score_window")
    exam_page = client.get(f"/exams/{scored_archive[0].pk}/", **portuguese).content.decode()
    assert f"<td>AF</td><td>{af.name_pt}</td>" in exam_page
    assert f"<td>{af.name}</td>" not in exam_page
