"""Blinding, proved by crawling: every other persona walks everything the server will show them and
finds no trace of a reader's work.

ana and bruno read the same exams with disjoint statement sets, and every comment, draft, skip reason and
two-stage read of theirs carries a unique marker (MARKER-<reader>-<uuid>). Then bruno, ana, carla (the
adjudicator) and eve (the outsider) each crawl: every route of the URL conf and of the OpenAPI schema,
with every id in the database in its path parameters, every link found in an HTML page, every path and id
found in a JSON answer; GET only, bounded. No body may hold another reader's marker or name, and no JSON a
reader receives may list a statement they did not choose. diego (the coordinator) sees the study, and
downloads its release: pseudonyms only.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import uuid
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import product

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from annotations.models import (
    AdjudicationView,
    Annotation,
    Assignment,
    DisputedLabel,
    Exam,
    ImportJob,
    Release,
    ReviewBatch,
    Suggestion,
    SuggestionScore,
    Taxonomy,
)
from annotations.selectors.reading.refs import assignment_pk, assignment_ref
from annotations.services.adjudication import Decision, adjudication_decide
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.exams.create import dataset_get_or_create
from annotations.services.reading import LabelInput, annotation_save_draft, annotation_submit, assignment_skip
from annotations.services.releases.builds import release_build, release_create
from tests.factories import batch_for, make_exam
from tests.midbatch import mid_batch
from tests.urlwalk import PUBLIC, all_routes

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

# Disjoint on purpose: any of bruno's codes in a JSON that ana receives is evidence of his read.
STATEMENTS = {
    "ana": ["SB", "RBBB", "1dAVb", "LAFB", "SA"],
    "bruno": ["ST", "LBBB", "AF", "LVH_V", "RAD", "LAD"],
    # A third reader of the mid-batch study, who drafts, leaves, and whose exams go to bruno.
    "fern": ["AFL", "VPB", "WPW"],
}
READERS = tuple(STATEMENTS)
# Per persona. Every id goes into every one-id route, so each route adds about the pool's size: the
# benchmark routes brought the cross-batch study below to about 10,000.
MAX_REQUESTS = 16_000
# Leaving the session or switching the language would change what the rest of the crawl sees.
NEVER_FOLLOW = ("/accounts/logout/", "/i18n/setlang/", "/static/")
_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>|\{(\w+)\}")
_LINK = re.compile(r"""(?:href|src|action|data-[\w-]+)\s*=\s*["'](/[^"'#]*)""")
_JSON_SCRIPT = re.compile(r'<script[^>]*type="application/json"[^>]*>(.*?)</script>', re.S)


@dataclass
class Study:
    markers: dict[str, list[str]] = field(default_factory=lambda: {reader: [] for reader in READERS})
    # reader -> exam id -> the statements only that reader chose on that exam
    only_chose: dict[str, dict[int, set[str]]] = field(default_factory=lambda: {r: {} for r in READERS})
    # The markers that are skip reasons: the release's reads.csv carries them on purpose (and nothing else).
    skip_reasons: list[str] = field(default_factory=list)
    # The markers that are submitted reads' comments: reads.csv and consensus.jsonl carry them on purpose.
    comments: list[str] = field(default_factory=list)

    def marker(self, reader: str) -> str:
        text = f"MARKER-{reader}-{uuid.uuid4()}"
        self.markers[reader].append(text)
        return text


def _labels(codes: list[str]) -> list[LabelInput]:
    return [LabelInput(code) for code in codes]


def _submit(study: Study, user, assignment: Assignment, codes: list[str], revision: int = 0) -> None:
    result = annotation_submit(
        actor=user,
        assignment=assignment,
        labels=_labels(codes),
        comment=study.marker(user.username),
        revision=revision,
    )
    study.comments.append(study.markers[user.username][-1])
    study.only_chose[user.username].setdefault(assignment.exam_id, set()).update(codes)
    if result.suggestion_revealed is not None:  # two-stage: the revised read, with more statements
        revised = [*codes, STATEMENTS[user.username][1]]
        annotation_submit(
            actor=user,
            assignment=assignment,
            labels=_labels(revised),
            comment=study.marker(user.username),
            revision=result.annotation.revision,
        )
        study.comments.append(study.markers[user.username][-1])
        study.only_chose[user.username][assignment.exam_id].update(revised)


def _assignment(batch, exam, user) -> Assignment:
    return Assignment.objects.get(batch=batch, exam=exam, reader=user, read_round=1)


def build_study(*, ana, bruno, carla, diego, taxonomy) -> Study:
    """Two batches read by ana and bruno through the real services, agreement computed, one dispute
    adjudicated, a release built and an import job on record: every kind of id the crawl can use."""
    study = Study()
    users = {"ana": ana, "bruno": bruno}
    dataset = dataset_get_or_create(name="blinding")
    exams = [make_exam(dataset, f"B{i}", seed=i, age=50 + i, sex="F") for i in range(6)]
    hidden = batch_for(taxonomy, diego, [ana, bruno], exams[:4], name="Blind study", seed=11)
    plan = {  # exam -> reader -> statements, or "skip", or "draft"
        0: {"ana": ["SB", "RBBB"], "bruno": ["ST", "LBBB"]},
        1: {"ana": ["1dAVb", "LAFB"], "bruno": ["AF", "LVH_V"]},
        2: {"ana": "skip", "bruno": ["RAD"]},
        3: {"ana": "draft", "bruno": "draft"},
    }
    for index, reads in plan.items():
        for name, what in reads.items():
            user, assignment = users[name], _assignment(hidden, exams[index], users[name])
            if what == "skip":
                reason = study.marker(name)
                study.skip_reasons.append(reason)
                assignment_skip(actor=user, assignment=assignment, reason=reason)
            elif what == "draft":
                codes = STATEMENTS[name][-1:]
                annotation_save_draft(
                    actor=user,
                    assignment=assignment,
                    labels=_labels(codes),
                    comment=study.marker(name),
                    revision=0,
                )
                study.only_chose[name].setdefault(exams[index].pk, set()).update(codes)
            else:
                _submit(study, user, assignment, what)
    two_stage = batch_for(
        taxonomy,
        diego,
        [ana, bruno],
        exams[4:],
        name="Two-stage study",
        suggestion_mode=ReviewBatch.SuggestionMode.TWO_STAGE,
        seed=12,
    )
    for exam in exams[4:]:
        suggestion = Suggestion.objects.create(exam=exam, provider="demo-model", provider_version="1")
        SuggestionScore.objects.create(
            suggestion=suggestion, diagnostic_class=taxonomy.classes.get(code="AF"), score=0.9
        )
    for name in ("ana", "bruno"):  # the first exam read blind then revised; the second left open
        _submit(study, users[name], _assignment(two_stage, exams[4], users[name]), STATEMENTS[name][:1])
    revised = Annotation.objects.filter(assignment__batch=two_stage, stage=Annotation.Stage.REVISED)
    assert revised.filter(status=Annotation.Status.SUBMITTED).count() == 2
    batch_agreement_compute(hidden.pk)
    batch_agreement_compute(two_stage.pk)
    adjudication_decide(
        actor=carla,
        batch=hidden,
        exam_id=exams[0].pk,
        decisions=[Decision("ST", False)],
        rationale="not tachycardic",
        version=0,
    )
    release_build(release_create(actor=diego, batches=[hidden, two_stage], hdf5=True).pk)
    ImportJob.objects.create(coordinator=diego, dataset_name="blinding", paths=[])
    _mid_batch(study, users, diego=diego, taxonomy=taxonomy, dataset=dataset)
    return study


def _mid_batch(study: Study, users: dict, *, diego, taxonomy, dataset) -> None:
    """tests/midbatch.py's batch, every read and draft of it marked: ana must meet nothing of bruno's and
    fern's reads on the exam escalated to her, nor bruno fern's draft on the exam handed on to him."""
    released = list(study.comments)  # the release holds the batches above, not this one

    def draft(user, assignment: Assignment, codes: list[str]) -> None:
        annotation_save_draft(
            actor=user, assignment=assignment, labels=_labels(codes), comment=study.marker("fern"), revision=0
        )
        study.only_chose[user.username].setdefault(assignment.exam_id, set()).update(codes)

    fern = STATEMENTS["fern"]
    mid_batch(
        ana=users["ana"],
        bruno=users["bruno"],
        diego=diego,
        taxonomy=taxonomy,
        dataset=dataset,
        codes={"bruno": STATEMENTS["bruno"][:2], "fern": fern[:2], "fern_draft": fern[2:]},
        submit=lambda user, assignment, codes: _submit(study, user, assignment, codes),
        draft=draft,
    )
    study.comments[:] = released


# --- The crawler ---------------------------------------------------------------------------------------
def _url_templates() -> Iterator[str]:
    """Every route of the URL conf with its parameters left in (admin's regex routes come filled in)."""

    def walk(patterns, prefix: str):
        for entry in patterns:
            route = getattr(entry.pattern, "_route", None)
            if isinstance(entry, URLResolver):
                if route is not None:
                    yield from walk(entry.url_patterns, prefix + route)
            elif isinstance(entry, URLPattern) and route is not None:
                yield "/" + prefix + route

    yield from walk(get_resolver().url_patterns, "")
    yield from (route.path for route in all_routes())


def _schema_templates(client: Client) -> list[str]:
    response = client.get("/api/schema/", {"format": "json"})
    return list(json.loads(response.content)["paths"]) if response.status_code == 200 else []


def _id_pool() -> dict[str, list]:
    """Every id in the database, by the parameter names that take them; "pk" takes all of them."""
    by_model = {
        "assignment_id": list(Assignment.objects.values_list("pk", flat=True)),
        "batch_id": list(ReviewBatch.objects.values_list("pk", flat=True)),
        "exam_id": list(Exam.objects.values_list("pk", flat=True)),
        "job_id": list(ImportJob.objects.values_list("pk", flat=True)),
        "release_id": list(Release.objects.values_list("pk", flat=True)),
        "taxonomy_id": list(Taxonomy.objects.values_list("pk", flat=True)),
    }
    names = sorted({entry["name"] for release in Release.objects.all() for entry in release.files})
    return {**by_model, "pk": sorted({i for ids in by_model.values() for i in ids}), "name": [*names, "x"]}


REF_ROUTES = ("/api/v1/reading/assignments/{",)


def _expand(template: str, pool: dict[str, list]) -> Iterator[str]:
    params = [(m.group(2) or m.group(3)) for m in _PARAM.finditer(template)]
    if not params:
        yield template
        return
    # One parameter: every id of every kind (an exam id where an assignment id belongs must answer 404
    # too). Several: the product of their own kinds, which keeps (batch, exam) pairs bounded.
    choices = [pool["pk"] if len(params) == 1 and n != "name" else pool.get(n, pool["pk"]) for n in params]
    if template.startswith("/admin/"):
        # The admin turns away anyone who is not staff before it looks at the id (the crawling personas
        # are not staff: _crawl_as checks), so one id per parameter walks it.
        choices = [values[:1] for values in choices]
    # A reader's routes name assignments by reference (selectors.reading.refs): every id goes there as one.
    encode = assignment_ref if "<ref:" in template or template.startswith(REF_ROUTES) else str
    for values in product(*choices):
        it = iter(values)
        yield _PARAM.sub(lambda _m, it=it: encode(next(it)), template)


def _json_ids(data, found: set[int]) -> Iterator[str]:
    """Ids (keys id, pk, *_id, batch, exam, batches) go to `found`; paths are yielded to be followed."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key in {"id", "pk", "batch", "exam", "batches"} or key.endswith("_id"):
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, int) and not isinstance(item, bool):
                        found.add(item)
            yield from _json_ids(value, found)
    elif isinstance(data, list):
        for item in data:
            yield from _json_ids(item, found)
    elif isinstance(data, str) and data.startswith("/") and not data.startswith("//"):
        yield data


def label_lists(data) -> Iterator[set[str]]:
    """The codes of every list of chosen statements ({"labels": [{"code": ...}]}) anywhere in a JSON."""
    if isinstance(data, dict):
        labels = data.get("labels")
        if isinstance(labels, list) and all(isinstance(x, dict) and "code" in x for x in labels):
            yield {x["code"] for x in labels}
        for value in data.values():
            yield from label_lists(value)
    elif isinstance(data, list):
        for item in data:
            yield from label_lists(item)


@dataclass
class Crawl:
    bodies: dict[str, bytes] = field(default_factory=dict)
    json: dict[str, object] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)
    etags: dict[str, str] = field(default_factory=dict)
    pages: int = 0
    api: int = 0


def crawl(client: Client, schema: list[str]) -> Crawl:
    result = Crawl()
    pool = _id_pool()
    queue = deque(u for t in [*_url_templates(), *schema] for u in _expand(t, pool))
    seen: set[str] = set()
    known_ids = set(pool["pk"])
    single = [t for t in [*_url_templates(), *schema] if len(list(_PARAM.finditer(t))) == 1]
    while queue and len(seen) < MAX_REQUESTS:
        url = queue.popleft()
        if url.split("?")[0] in PUBLIC:  # every refusal redirects to a login form, each with its own ?next=
            url = url.split("?")[0]
        if url in seen or url.startswith(NEVER_FOLLOW):
            continue
        seen.add(url)
        response = client.get(url)
        # Reading a streamed body to the end closes it (the test client's wrapper); closing it again
        # would fire request_finished and close the test's database connection.
        body = b"".join(response.streaming_content) if response.streaming else response.content
        result.statuses[response.status_code] += 1
        result.bodies[url] = body
        if response.get("ETag"):
            result.etags[url] = response["ETag"]
        kind = response.get("Content-Type", "")
        result.api += url.startswith("/api/")
        result.pages += not url.startswith("/api/")
        if response.status_code in (301, 302) and response.get("Location", "").startswith("/"):
            queue.append(response["Location"])
        found: set[int] = set()
        if "json" in kind:
            data = json.loads(body)
            result.json[url] = data
            queue.extend(_json_ids(data, found))
        elif "html" in kind:
            text = body.decode("utf-8", "replace")
            queue.extend(link.replace("&amp;", "&") for link in _LINK.findall(text))
            for block in _JSON_SCRIPT.findall(text):
                data = json.loads(block)
                result.json[url + "#script"] = data
                queue.extend(_json_ids(data, found))
        if found - known_ids:  # an id the database query missed: try it everywhere an id goes
            fresh = {**pool, "pk": sorted(found - known_ids)}
            known_ids |= found
            queue.extend(u for t in single for u in _expand(t, fresh))
    assert not queue or len(seen) >= MAX_REQUESTS
    assert len(seen) < MAX_REQUESTS, "the crawl hit its bound: raise MAX_REQUESTS or shrink the study"
    return result


def _word(name: str) -> re.Pattern[bytes]:
    return re.compile(rb"(?<![A-Za-z0-9_])" + name.encode() + rb"(?![A-Za-z0-9_])")


def hits(crawl_result: Crawl, needles: list[str]) -> list[tuple[str, str]]:
    return [(url, n) for url, body in crawl_result.bodies.items() for n in needles if n.encode() in body]


def name_hits(crawl_result: Crawl, names: list[str]) -> list[tuple[str, str]]:
    patterns = {name: _word(name) for name in names}
    return [
        (url, n) for url, body in crawl_result.bodies.items() for n, p in patterns.items() if p.search(body)
    ]


@pytest.fixture
def study(ana, bruno, carla, diego, eve, tnmg) -> Study:
    return build_study(ana=ana, bruno=bruno, carla=carla, diego=diego, taxonomy=tnmg)


@pytest.fixture
def schema(diego) -> list[str]:
    client = Client()
    client.force_login(diego)
    templates = _schema_templates(client)
    assert "/api/v1/reading/assignments/{id}/" in templates
    return templates


def _crawl_as(user, schema: list[str], *, token: str = "") -> Crawl:
    """With a token, the API answers to the token (its authentication comes first) and the pages, which
    take no token, to the session."""
    assert not user.is_staff and not user.is_superuser
    client = Client(HTTP_AUTHORIZATION=f"Token {token}") if token else Client()
    client.force_login(user)
    # Thousands of expected 403/404/405 would each log a warning and its traceback.
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return crawl(client, schema)
    finally:
        logger.setLevel(level)


@pytest.mark.parametrize("reader,auth", [("ana", "session"), ("bruno", "session"), ("ana", "token")])
def test_a_reader_crawling_everything_finds_nothing_of_the_other_reader(
    study, schema, request, reader, auth, capsys
):
    """Also mid-batch: ana holds the open extra read of an exam bruno and fern disputed, and bruno the
    exams of fern, who drafted one and left. Once more with ana's API token (reader scope) on the API."""
    from annotations.services.credentials.tokens import api_token_create

    others = [name for name in READERS if name != reader]
    other = " and ".join(others)
    user = request.getfixturevalue(reader)
    token = ""
    if auth == "token":
        token = api_token_create(actor=user, user=user, name="crawl", scope="reader").secret
    result = _crawl_as(user, schema, token=token)
    if token:
        from annotations.models import ApiToken

        assert ApiToken.objects.get(user=user, name="crawl").last_used_at is not None
    theirs = hits(result, [m for name in others for m in study.markers[name]])
    mine = hits(result, study.markers[reader])
    chosen_by_them = {code for name in others for codes in study.only_chose[name].values() for code in codes}
    evidence = [
        (url, codes & chosen_by_them)
        for url, data in result.json.items()
        for codes in label_lists(data)
        if codes & chosen_by_them
    ]
    with capsys.disabled():
        print(
            f"\n{reader}: {result.pages} pages, {result.api} API responses {dict(result.statuses)}; "
            f"{len(theirs)} of {other}'s markers, {len(evidence)} lists with {other}'s statements, "
            f"{len(set(mine))} of {reader}'s own markers seen"
        )
    assert theirs == []
    assert name_hits(result, others) == []
    assert evidence == []
    # The check above has something to look at: the reader's own statements do come back.
    mine_chosen = {code for codes in study.only_chose[reader].values() for code in codes}
    assert any(codes & mine_chosen for data in result.json.values() for codes in label_lists(data))
    # The crawl did reach the reading views: the reader's own drafts and submitted comments are there.
    assert {marker for _, marker in mine} >= {study.markers[reader][0]}
    assert result.statuses[200] > 20


def _case_of(url: str) -> tuple[int, int] | None:
    found = re.fullmatch(r"(?:/api/v1)?/adjudication/(\d+)/(\d+)/", url)
    return (int(found[1]), int(found[2])) if found else None


def _comments_by_case() -> dict[tuple[int, int], set[str]]:
    """(batch, exam) -> the comments of the submitted first reads consensus uses (what a case shows)."""
    shown: dict[tuple[int, int], set[str]] = {}
    rows = Annotation.objects.filter(
        is_current=True, status=Annotation.Status.SUBMITTED, assignment__read_round=1
    ).values_list("assignment__batch_id", "assignment__exam_id", "comment")
    for batch_id, exam_id, comment in rows:
        shown.setdefault((batch_id, exam_id), set()).add(comment)
    return shown


def test_the_adjudicator_sees_pseudonymous_votes_on_disputed_classes_only(study, schema, carla, capsys):
    result = _crawl_as(carla, schema)
    markers = [m for reader in READERS for m in study.markers[reader]]
    cases = {
        url: data
        for url, data in result.json.items()
        if re.fullmatch(r"/api/v1/adjudication/\d+/\d+/", url) and "disputed" in data
    }
    with capsys.disabled():
        print(
            f"\ncarla: {result.pages} pages, {result.api} API responses {dict(result.statuses)}; "
            f"{len(hits(result, markers))} markers; {len(cases)} adjudication cases opened"
        )
    # Readers' comments reach the adjudicator on purpose, and only there: on the case (page and API) of
    # the exam they commented, beside a pseudonym. The markers name their reader, so they are taken out of
    # those bodies before looking for reader names.
    shown = _comments_by_case()
    allowed = [(url, m) for url, m in hits(result, markers) if m in shown.get(_case_of(url), ())]
    assert allowed, "the adjudicator must see the readers' comments on the cases"
    assert [hit for hit in hits(result, markers) if hit not in allowed] == []
    stripped = Crawl(bodies=dict(result.bodies))
    for url, marker in allowed:
        stripped.bodies[url] = stripped.bodies[url].replace(marker.encode(), b"")
    assert name_hits(stripped, list(READERS)) == []
    assert cases, "the crawl must reach the adjudication cases"
    for data in cases.values():
        assert all(re.fullmatch(r"Reader [A-Z]", note["reader"]) for note in data["readers"]), data
        disputed = set(
            DisputedLabel.objects.filter(batch_id=data["batch"], exam_id=data["exam"]["id"]).values_list(
                "diagnostic_class__code", flat=True
            )
        )
        assert {d["code"] for d in data["disputed"]} <= disputed
        for entry in data["disputed"]:
            assert all(re.fullmatch(r"Reader [A-Z]", name) for name, _marked in entry["votes"]), entry


def test_the_outsider_crawling_everything_finds_nothing(study, schema, eve, capsys):
    result = _crawl_as(eve, schema)
    markers = [m for reader in READERS for m in study.markers[reader]]
    with capsys.disabled():
        print(
            f"\neve: {result.pages} pages, {result.api} API responses {dict(result.statuses)}; "
            f"{len(hits(result, markers))} markers"
        )
    assert hits(result, markers) == []
    assert name_hits(result, list(READERS)) == []
    assert [codes for data in result.json.values() for codes in label_lists(data) if codes] == []


def test_the_coordinator_downloads_the_study_with_pseudonyms_only(study, diego, capsys):
    client = Client()
    client.force_login(diego)
    [release] = client.get("/api/v1/releases/").json()
    assert release["status"] == "done" and release["files"]
    downloads = {}
    for entry in release["files"]:
        response = client.get(f"/api/v1/releases/{release['id']}/files/{entry['name']}")
        assert response.status_code == 200, entry["name"]
        downloads[entry["name"]] = b"".join(response.streaming_content)
    # Skip reasons reach reads.csv as their readers wrote them, in its skip_reason column, by design: a
    # release says why an exam is a read short. Taken out there, nothing of the readers may remain.
    reads_name = next(name for name in downloads if name.startswith("reads"))
    table = list(csv.DictReader(io.StringIO(downloads[reads_name].decode())))
    assert sorted(row["skip_reason"] for row in table if row["skip_reason"]) == sorted(study.skip_reasons)
    for reason in study.skip_reasons:
        downloads[reads_name] = downloads[reads_name].replace(reason.encode(), b"")
    # So do the submitted reads' comments, in reads.csv's comment column and consensus.jsonl's comments;
    # a draft's comment (a read nobody submitted) stays in no file.
    assert {row["comment"] for row in table if row["comment"]} == set(study.comments)
    jsonl = [json.loads(line) for line in downloads["consensus.jsonl"].decode().splitlines()]
    assert {c["comment"] for line in jsonl for c in line["comments"]} == set(study.comments)
    # Taken out of every file whose comment column the card lists: anywhere else, a comment is a leak.
    card = json.loads(downloads["dataset_card.json"])
    commented = [
        name for name, columns in card["free_text_columns"].items() if any("comment" in c for c in columns)
    ]
    assert {reads_name, "consensus.jsonl"} <= set(commented)
    for comment in study.comments:
        for name in set(commented) & set(downloads):
            downloads[name] = downloads[name].replace(comment.encode(), b"")
    exported = Crawl(bodies=downloads)
    markers = [m for reader in READERS for m in study.markers[reader]]
    with capsys.disabled():
        print(
            f"\ndiego: {len(downloads)} release files, {sum(map(len, downloads.values()))} bytes; "
            f"{len(hits(exported, markers))} markers, {len(name_hits(exported, list(READERS)))} usernames"
        )
    assert hits(exported, markers) == []
    assert name_hits(exported, list(READERS)) == []
    reads = next(body for name, body in downloads.items() if name.startswith("reads")).decode()
    assert re.search(r"\bR0?1\b", reads) and re.search(r"\bR0?2\b", reads)  # the readers, pseudonymised


# --- Across batches and over time ------------------------------------------------------------------------
@dataclass
class CrossStudy:
    study: Study
    dave: object
    # exam id -> markers of ana's and bruno's reads of it (comments, skip reasons), in any batch
    markers_by_exam: dict[int, list[str]]


@pytest.fixture
def cross_study(ana, bruno, carla, diego, eve, tnmg) -> CrossStudy:
    """The study above, then the same exams again. dave reads and adjudicates: he opens the dispute of one
    exam of the first batch, then is added to a later batch of the same exams (with retest copies), and
    is handed bruno's unread queue there; ana holds exams in both batches."""
    from django.contrib.auth.models import Group

    from annotations.services.batches.queues import batch_add_readers, batch_reassign
    from tests.factories import UserFactory

    study = build_study(ana=ana, bruno=bruno, carla=carla, diego=diego, taxonomy=tnmg)
    dave = UserFactory(username="dave", roles=[])
    dave.groups.set([Group.objects.get(name="reader"), Group.objects.get(name="adjudicator")])
    hidden = ReviewBatch.objects.get(name="Blind study")
    exams = list(Exam.objects.filter(dataset__name="blinding").order_by("external_id"))
    disputed = (
        DisputedLabel.objects.filter(batch=hidden).exclude(exam=exams[0]).values_list("exam", flat=True)
    )
    seen_exam = Exam.objects.get(pk=disputed.first())
    opener = Client()
    opener.force_login(dave)
    assert opener.get(f"/api/v1/adjudication/{hidden.pk}/{seen_exam.pk}/").status_code == 200
    # The same readers over the same exams: a re-read study, so independence is off, with its reason.
    again = batch_for(
        tnmg,
        diego,
        [ana, bruno],
        exams,
        name="Again",
        readers_per_exam=1,
        seed=13,
        exclude_seen=False,
        independence_off_reason="a re-read of the blind study by its own readers",
    )
    batch_add_readers(batch=again, readers=[dave], actor=diego)
    batch_reassign(batch=again, from_reader=bruno, to_reader=dave, actor=diego)
    mine = Assignment.objects.filter(batch=again, reader=ana, status="pending", read_round=1).first()
    if mine is not None:
        _submit(study, ana, mine, STATEMENTS["ana"][:1])
    markers: dict[int, list[str]] = {}
    for annotation in Annotation.objects.filter(assignment__reader__in=[ana, bruno]).select_related(
        "assignment"
    ):
        if annotation.comment:
            markers.setdefault(annotation.assignment.exam_id, []).append(annotation.comment)
    for assignment in Assignment.objects.filter(reader__in=[ana, bruno]).exclude(skip_reason=""):
        markers.setdefault(assignment.exam_id, []).append(assignment.skip_reason)
    return CrossStudy(study=study, dave=dave, markers_by_exam=markers)


def test_across_batches_a_reader_adjudicator_never_meets_the_dispute_of_an_exam_he_reads(
    cross_study, schema, capsys
):
    dave = cross_study.dave
    held = set(Assignment.objects.filter(reader=dave).values_list("exam_id", flat=True))
    seen = set(AdjudicationView.objects.filter(adjudicator=dave).values_list("exam_id", flat=True))
    assert held, "dave must hold reads for the crawl to test anything"
    assert not held & seen, "dave was handed an exam whose dispute he had opened"
    result = _crawl_as(dave, schema)
    cases = {
        url: data
        for url, data in result.json.items()
        if re.fullmatch(r"/api/v1/adjudication/\d+/\d+/", url)
        and isinstance(data, dict)
        and "disputed" in data
    }
    opened = {data["exam"]["id"] for data in cases.values()}
    leaked = [(url, m) for exam in held for url, m in hits(result, cross_study.markers_by_exam.get(exam, []))]
    shas = list(Exam.objects.values_list("waveform_sha256", flat=True))
    content_hashes = [(url, tag) for url, tag in result.etags.items() if any(sha in tag for sha in shas)]
    with capsys.disabled():
        print(
            f"\ndave: {result.pages} pages, {result.api} API responses {dict(result.statuses)}; holds "
            f"{len(held)} exams, opened {len(opened)} cases; {len(leaked)} markers of exams he reads; "
            f"{len(result.etags)} ETags, {len(content_hashes)} content hashes"
        )
    assert cases, "the crawl must reach adjudication cases of exams dave does not read"
    assert not opened & held
    assert leaked == []
    assert content_hashes == []
    # Nothing a reader is served carries the content hash either (the context's waveform token).
    assert [url for url, body in result.bodies.items() for sha in shas if sha.encode() in body] == []


def test_across_batches_a_reader_never_recognises_the_same_exam_by_its_etag(cross_study, schema, ana):
    result = _crawl_as(ana, schema)
    waveform = re.compile(r".*/reading/assignments/([A-Za-z0-9_-]{22})/waveform/")
    waveforms = {url: tag for url, tag in result.etags.items() if waveform.fullmatch(url)}
    exam_of = {
        url: Assignment.objects.get(pk=assignment_pk(waveform.fullmatch(url).group(1))).exam_id
        for url in waveforms
    }
    fetched = list(exam_of.values())
    assert any(fetched.count(exam) > 1 for exam in fetched), "the crawl must fetch one exam in two batches"
    assert len(set(waveforms.values())) == len(waveforms), "two assignments share an ETag"
