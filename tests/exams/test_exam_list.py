"""The coordinators' exam list (/exams/ and GET /api/v1/exams/): filters, sorts both ways, keyset pages
that keep the filters, and no OFFSET or page count anywhere in the page's queries."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotations.models import Exam, ReferenceLabel
from tests.factories import DatasetFactory, ExamFactory

pytestmark = pytest.mark.django_db


def moment(day: int) -> datetime:
    return timezone.make_aware(datetime(2024, 3, day, 12, 0))


@pytest.fixture
def exams() -> dict[str, Exam]:
    """Two datasets; dates on some exams, none on others; every grade; two reference labels."""
    alpha, beta = DatasetFactory(name="alpha"), DatasetFactory(name="beta")
    rows = [
        ("a1", alpha, 3, "good", ""),
        ("a2", alpha, 1, "poor", ",noise,"),
        ("a3", alpha, None, "", ""),
        ("b1", beta, 2, "acceptable", ""),
        ("b2", beta, 5, "good", ",artefact,"),
        ("b3", beta, None, "poor", ""),
        ("b4", beta, 4, "", ""),
    ]
    made = {}
    for external_id, dataset, day, grade, flags in rows:
        made[external_id] = ExamFactory(
            dataset=dataset,
            external_id=external_id,
            acquired_at=moment(day) if day else None,
            quality_grade=grade,
            quality_flags=flags,
        )
    ReferenceLabel.objects.create(exam=made["a1"], code_system="code15", code="RBBB")
    ReferenceLabel.objects.create(exam=made["b2"], code_system="code15", code="RBBB")
    ReferenceLabel.objects.create(exam=made["b4"], code_system="snomed", code="RBBB")
    return made


def listed(client, query: str = "") -> list[str]:
    return [exam.external_id for exam in client.get(f"/exams/?{query}").context["page"].object_list]


def api_listed(client, query: str = "") -> list[str]:
    response = client.get(f"/api/v1/exams/?{query}")
    assert response.status_code == 200, response.content
    return [row["external_id"] for row in response.json()["results"]]


@pytest.mark.parametrize("read", [listed, api_listed])
def test_filters_combine(exams, client_for, diego, read):
    client = client_for(diego)
    assert read(client) == ["a1", "a2", "a3", "b1", "b2", "b3", "b4"]  # dataset, then external id
    assert read(client, "dataset=beta") == ["b1", "b2", "b3", "b4"]
    assert read(client, "acquired_from=2024-03-02&acquired_to=2024-03-04") == ["a1", "b1", "b4"]
    assert read(client, "acquired_from=2024-03-04") == ["b2", "b4"]
    assert read(client, "quality=poor") == ["a2", "b3"]
    assert read(client, "quality=none") == ["a3", "b4"]
    assert read(client, "flag=artefact") == ["b2"]
    assert read(client, "label_code=RBBB") == ["a1", "b2", "b4"]
    assert read(client, "label_code=RBBB&label_system=code15") == ["a1", "b2"]
    assert read(client, "label_code=RBBB&label_system=code15&dataset=beta&quality=good") == ["b2"]
    assert read(client, "label_code=LBBB") == []
    # As a coordinator types them: any case, and the system written before the code in one box.
    assert read(client, "label_code=rbbb") == ["a1", "b2", "b4"]
    assert read(client, "label_code=Rbbb&label_system=CODE15") == ["a1", "b2"]
    assert read(client, "label_code=code15:rbbb") == ["a1", "b2"]
    assert read(client, "label_code=+SNOMED+:+RBBB+") == ["b4"]
    # A system alone: the exams with any reference label of it (it was ignored, listing every exam).
    assert read(client, "label_system=snomed") == ["b4"]
    assert read(client, "label_system=Code15") == ["a1", "b2"]
    assert read(client, "label_system=nonexistent") == []


@pytest.mark.parametrize("read", [listed, api_listed])
def test_sorts_both_ways(exams, client_for, diego, read):
    client = client_for(diego)
    # Exams without a date, or not checked yet, come last whichever the direction.
    assert read(client, "sort=date") == ["a2", "b1", "a1", "b4", "b2", "a3", "b3"]
    assert read(client, "sort=-date") == ["b2", "b4", "a1", "b1", "a2", "b3", "a3"]
    assert read(client, "sort=external_id") == ["a1", "a2", "a3", "b1", "b2", "b3", "b4"]
    assert read(client, "sort=-external_id") == ["b4", "b3", "b2", "b1", "a3", "a2", "a1"]
    assert read(client, "sort=-dataset") == ["b4", "b3", "b2", "b1", "a3", "a2", "a1"]
    quality = read(client, "sort=quality")
    assert [Exam.objects.get(external_id=e).quality_grade for e in quality] == [
        "poor",
        "poor",
        "acceptable",
        "good",
        "good",
        "",
        "",
    ]
    best_first = read(client, "sort=-quality")
    assert [Exam.objects.get(external_id=e).quality_grade for e in best_first][:3] == [
        "good",
        "good",
        "acceptable",
    ]
    assert read(client, "sort=-date&dataset=alpha") == ["a1", "a2", "a3"]
    if read is listed:  # the page's unknown sort is the default one; the API refuses it (below)
        assert read(client, "sort=password") == read(client)


def test_pages_follow_each_other_and_keep_the_filters(exams, client_for, diego, monkeypatch):
    monkeypatch.setattr("annotations.views.exams.PAGE_SIZE", 2)
    client = client_for(diego)
    seen, pages = [], 0
    query = "sort=-date"
    while query is not None:
        response = client.get(f"/exams/?{query}")
        page = response.context["page"]
        seen += [exam.external_id for exam in page.object_list]
        pages += 1
        query = page.next_query
    assert seen == ["b2", "b4", "a1", "b1", "a2", "b3", "a3"] and pages == 4
    # Back from the last page: the previous link gives the page before it, filters and sort kept.
    first = client.get("/exams/?sort=-date&dataset=beta").context["page"]
    assert [e.external_id for e in first.object_list] == ["b2", "b4"]
    second = client.get(f"/exams/?{first.next_query}").context["page"]
    assert parse_qs(first.next_query)["dataset"] == ["beta"]
    assert [e.external_id for e in second.object_list] == ["b1", "b3"] and second.next_query is None
    back = client.get(f"/exams/?{second.previous_query}").context["page"]
    assert [e.external_id for e in back.object_list] == ["b2", "b4"] and back.previous_query is None
    html = client.get(f"/exams/?{first.next_query}").content.decode()
    assert "dataset=beta" in html and "sort=-date" in html


def test_the_api_pages_by_cursor_with_its_filters(exams, client_for, diego, monkeypatch):
    monkeypatch.setattr("annotations.api.exams.PAGE_SIZE", 3)
    client = client_for(diego)
    data = client.get("/api/v1/exams/?sort=date&label_code=RBBB").json()
    assert data["count"] == 3
    assert [row["external_id"] for row in data["results"]] == ["a1", "b4", "b2"]
    assert data["next"] is None and data["previous"] is None
    data = client.get("/api/v1/exams/?sort=date").json()
    assert data["count"] == 7 and [row["external_id"] for row in data["results"]] == ["a2", "b1", "a1"]
    following = urlparse(data["next"])
    assert parse_qs(following.query)["sort"] == ["date"]
    more = client.get(f"{following.path}?{following.query}").json()
    assert [row["external_id"] for row in more["results"]] == ["b4", "b2", "a3"]
    assert set(more["results"][0]) >= {"acquired_at", "quality_grade", "dataset"}


def test_the_list_reads_by_keyset_never_by_offset(exams, client_for, diego, monkeypatch):
    monkeypatch.setattr("annotations.views.exams.PAGE_SIZE", 2)
    client = client_for(diego)
    next_query = client.get("/exams/?sort=date").context["page"].next_query
    with CaptureQueriesContext(connection) as queries:
        client.get(f"/exams/?{next_query}")
    selects = [q["sql"] for q in queries if '"annotations_exam"' in q["sql"]]
    assert selects and not any("OFFSET" in sql for sql in selects)
    # The one count reads at most its limit + 1 rows, never every exam.
    assert all("LIMIT" in sql for sql in selects if "COUNT(" in sql)


def test_malformed_values_are_refused_by_the_api_and_shown_on_the_page(exams, client_for, diego):
    client = client_for(diego)
    for query in ("acquired_from=yesterday", "after=bm90LWEtY3Vyc29y", "before=%7B%7D"):
        response = client.get(f"/api/v1/exams/?{query}")
        assert response.status_code == 400, query
        page = client.get(f"/exams/?{query}")
        assert page.status_code == 200 and page.context["error"], query


def test_the_api_refuses_a_filter_it_does_not_know_instead_of_listing_every_exam(exams, client_for, diego):
    """A script asking for ?quality=bad or ?datset=alpha got every exam back with 200, as if filtered: the
    API names what it does not know. The page keeps offering only known values, and ignores others."""
    client = client_for(diego)
    for query, named in (
        ("quality=bad", "quality"),
        ("flag=noisy", "flag"),
        ("sort=-age", "sort"),
        ("datset=alpha", "datset"),
        ("dataset=alpha&qualty=poor", "qualty"),
        ("count=all", "count"),
    ):
        response = client.get(f"/api/v1/exams/?{query}")
        assert response.status_code == 400, query
        assert named in response.json()["detail"], (query, response.json())
    assert api_listed(client, "dataset=alpha&quality=poor&flag=noise&sort=-date") == ["a2"]
    assert client.get("/exams/?quality=bad").status_code == 200


@pytest.mark.parametrize("persona", ["ana", "carla"])
def test_only_coordinators_list_exams(exams, client_for, persona, request):
    client = client_for(request.getfixturevalue(persona))
    assert client.get("/exams/?sort=date&label_code=RBBB").status_code == 403
    assert client.get("/api/v1/exams/?sort=date&label_code=RBBB").status_code == 403


def test_the_api_counts_exactly_up_to_a_limit_and_estimates_past_it(exams, client_for, diego, monkeypatch):
    monkeypatch.setattr("annotations.api.exams.COUNT_LIMIT", 5)
    client = client_for(diego)
    data = client.get("/api/v1/exams/?dataset=beta").json()
    assert data["count"] == 4 and data["count_estimate"] == 4
    data = client.get("/api/v1/exams/").json()
    assert data["count"] is None and isinstance(data["count_estimate"], int)
    assert len(data["results"]) == 7
    asked = client.get("/api/v1/exams/?count=exact").json()
    assert asked["count"] == 7 and asked["count_estimate"] == 7


def test_the_api_never_counts_every_exam_unless_asked(exams, client_for, diego):
    client = client_for(diego)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/exams/").json()["count"] == 7
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"]]
    assert counts and all("LIMIT" in sql for sql in counts)


def test_the_label_filter_in_any_case_is_served_by_the_label_index(exams, client_for, diego):
    """At CODE-II size the label table holds millions of rows: the case-free match must be one the index
    on UPPER(code) answers, never a scan of the table (the planner is told to avoid scans if it can)."""
    client = client_for(diego)
    with CaptureQueriesContext(connection) as queries:
        assert listed(client, "label_code=rbbb&label_system=code15") == ["a1", "b2"]
    sql = next(q["sql"] for q in queries.captured_queries if "annotations_referencelabel" in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "reference_label_code_upper_idx" in plan, plan


def test_the_page_says_how_many_exams_match_exactly_up_to_a_limit(exams, client_for, diego, monkeypatch):
    """As the API counts: exact up to the limit (reading at most limit + 1 rows), an estimate past it,
    said to be one; a coordinator choosing exams for a batch needs the number before paging through."""
    monkeypatch.setattr("annotations.selectors.exams.listing.EXACT_COUNT_LIMIT", 5)
    client = client_for(diego)

    def matched(query: str) -> str:
        page = client.get(f"/exams/?{query}").content.decode()
        return page.split('id="exam-count"', 1)[1].split("</p>", 1)[0]

    assert ">4 exams match" in matched("dataset=beta")
    assert ">1 exam matches" in matched("dataset=beta&quality=acceptable")
    past = matched("")
    assert "More than 5 exams match" in past  # with the planner's estimate when it is above the limit
    with CaptureQueriesContext(connection) as queries:
        client.get("/exams/")
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"]]
    assert counts and all("LIMIT" in sql for sql in counts)


def test_the_list_and_the_exam_page_name_each_exams_format_as_the_import_page_does(client_for, diego):
    """ "GE MUSE XML", not the reader's key "muse"; a source no reader has (synthetic) keeps its own word."""
    muse = ExamFactory(external_id="m1", source_format="muse")
    ExamFactory(external_id="s1", source_format="synthetic")
    client = client_for(diego)
    listing = client.get("/exams/").content.decode()
    assert "<td>GE MUSE XML</td>" in listing and "<td>synthetic</td>" in listing
    assert "<td>muse</td>" not in listing
    page = client.get(f"/exams/{muse.pk}/").content.decode()
    assert "GE MUSE XML ·" in page
