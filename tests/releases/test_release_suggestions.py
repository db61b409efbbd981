"""suggestions.csv: the machine statements behind a release, with their criteria and findings, and how many
of the release's readers were shown each one.

The study: a two-stage batch of ana and bruno over two exams. E001 has no suggestion. E002 has two
versions of a rule-based provider ("rules", with rationales) and three of a model ("codec", no rationale;
its newest version failed). Ana reads E002 blind and is then shown rules 1; bruno skips E002 before
reading it. In another batch, outside the release, carol is shown codec 2 on the same exam."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess

import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse

from annotations.lib.providers.base import Provider, ProviderResult, Rationale
from annotations.models import (
    Annotation,
    Assignment,
    DiagnosticClass,
    Exam,
    Release,
    ReviewBatch,
    Suggestion,
    SuggestionExposure,
    SuggestionScore,
)
from annotations.selectors.releases.plan import export_plan
from annotations.services.exams.create import dataset_get_or_create
from annotations.services.reading import (
    LabelInput,
    annotation_save_draft,
    annotation_submit,
    assignment_skip,
)
from annotations.services.releases.builds import release_build, release_create
from annotations.services.releases.export import ExportOptions, export_write
from annotations.services.suggestions import suggestion_compute
from tests.factories import UserFactory, batch_for, make_exam
from tests.releases.sharding import build_serially, read_study, shard_names, stored_bytes

pytestmark = pytest.mark.django_db

TWO_STAGE = ReviewBatch.SuggestionMode.TWO_STAGE
COLUMNS = [
    "row",
    "dataset",
    "exam_id",
    "provider",
    "provider_version",
    "computed_at",
    "code",
    "score",
    "threshold",
    "criterion",
    "source",
    "finding",
    "shown_to_readers",
]
RULE_SCORES = {"LVH_V": 0.9, "RBBB": 0.3, "SB": 0.1, "AF": 0.6}
# RBBB sits exactly on its own threshold, below the default 0.5: suggested. AF is above the default but
# below its own threshold: not suggested. SB is below the default 0.5: not suggested.
RULE_THRESHOLDS = {"RBBB": 0.3, "AF": 0.7}
RULE_SUGGESTED = ("LVH_V", "RBBB")  # what a row of suggestions.csv is given for, by the thresholds above
# A finding with a comma, quotes and a line break: free text must come back from the CSV as written.
RATIONALE = {
    "LVH_V": Rationale(
        "Sokolow-Lyon voltage",
        "Sokolow & Lyon 1949; AHA/ACCF/HRS 2009 part V",
        'S V1 1.6 + R V5 2.5, "4.1 mV"',
    ),
    "RBBB": Rationale("Complete RBBB", "AHA/ACCF/HRS 2009 part III", "QRS 148 ms,\nrSR' in V1"),
}
CODEC_SCORES = {"AF": 0.7, "SB": 0.2}  # AF suggested at the default 0.5, SB not


class Rules(Provider):
    """A rule-based provider: scores with the criterion, source and finding behind them (SB has none)."""

    name = "rules"
    codes = tuple(RULE_SCORES)
    thresholds = RULE_THRESHOLDS

    def __init__(self, version: str) -> None:
        self.version = version

    def run(self, signals_mv: np.ndarray, sampling_rate: float) -> ProviderResult:
        return ProviderResult(scores=dict(RULE_SCORES), rationale=dict(RATIONALE))


class Codec(Provider):
    """A model: scores only; version "3" fails on every exam."""

    name = "codec"
    codes = tuple(CODEC_SCORES)

    def __init__(self, version: str) -> None:
        self.version = version

    def run(self, signals_mv: np.ndarray, sampling_rate: float) -> ProviderResult:
        if self.version == "3":
            raise ValueError("the model cannot read this exam")
        return ProviderResult(scores=dict(CODEC_SCORES))


class Quiet(Provider):
    """A provider that scores statements but suggests none: every score below the default 0.5."""

    name = "quiet"
    version = "1"
    codes = ("NORM", "AF")

    def run(self, signals_mv: np.ndarray, sampling_rate: float) -> ProviderResult:
        return ProviderResult(scores={"NORM": 0.49, "AF": 0.0})


def two_stage_read(reader, batch, exam, codes) -> None:
    """The blind read, then, where a suggestion is revealed, the revised read with it on screen."""
    assignment = Assignment.objects.get(batch=batch, exam=exam, reader=reader, read_round=1)
    draft = annotation_save_draft(actor=reader, assignment=assignment, labels=[], revision=0)
    labels = [LabelInput(code) for code in codes]
    result = annotation_submit(actor=reader, assignment=assignment, labels=labels, revision=draft.revision)
    if result.suggestion_revealed is not None:
        revised = result.annotation
        assert revised.stage == Annotation.Stage.REVISED
        annotation_submit(actor=reader, assignment=assignment, labels=labels, revision=revised.revision)


def two_stage_batch(name, exams, readers, coordinator, taxonomy) -> ReviewBatch:
    return batch_for(taxonomy, coordinator, readers, exams, name=name, suggestion_mode=TWO_STAGE, seed=2)


@pytest.fixture
def study(ana, bruno, diego, tnmg, settings):
    settings.SUGGESTION_READER_PROVIDER = "rules"
    dataset = dataset_get_or_create(name="suggestion-study")
    plain, suggested = (make_exam(dataset, f"E00{i}", seed=i) for i in (1, 2))
    batch = two_stage_batch("Suggestions study", [plain, suggested], [ana, bruno], diego, tnmg)
    # In this order: computed_at then says which version of each provider is the newest.
    for provider in (Rules("0"), Codec("1"), Rules("1"), Codec("2"), Codec("3")):
        suggestion_compute(suggested.pk, provider)
    two_stage_read(ana, batch, plain, ["NORM"])
    two_stage_read(ana, batch, suggested, ["LVH_V"])
    bruno_slot = Assignment.objects.get(batch=batch, exam=suggested, reader=bruno)
    assignment_skip(actor=bruno, assignment=bruno_slot, reason="noisy")
    two_stage_read(bruno, batch, plain, ["NORM"])
    # Outside the release: carol is shown the model's suggestion on the same exam in another batch.
    carol = UserFactory(username="carol", roles=["reader"])
    settings.SUGGESTION_READER_PROVIDER = "codec"
    other = two_stage_batch("Another study", [suggested], [carol], diego, tnmg)
    two_stage_read(carol, other, suggested, ["AF"])
    settings.SUGGESTION_READER_PROVIDER = "rules"
    return batch


def export(batch, folder, *, target="", **options):
    return export_write(
        export_plan([batch.pk], target=target),
        folder,
        ExportOptions(**{"hdf5": False, **options}),
        title="suggestions",
        release_date="2026-01-01T00:00:00.000000Z",
    )


def table(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def read_table(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def utc(moment) -> str:
    from datetime import UTC

    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def expected_rows(tnmg) -> list[dict]:
    """What the study's exam E002 (row 1 of consensus.csv) must give, from the stored suggestions: every
    version of rules (shown), the newest working codec (never shown in the release's batch), each with a
    row per statement it suggested (score at or above its threshold) and none for the others."""
    position = dict(DiagnosticClass.objects.filter(taxonomy=tnmg).values_list("code", "position"))
    stored = {
        (s.provider, s.provider_version): s for s in Suggestion.objects.filter(exam__external_id="E002")
    }
    rows = []
    for provider, version, scores, shown in (
        ("codec", "2", CODEC_SCORES, "0"),
        ("rules", "0", RULE_SCORES, "0"),
        ("rules", "1", RULE_SCORES, "1"),
    ):
        for code in sorted(scores, key=position.__getitem__):
            threshold = RULE_THRESHOLDS.get(code, 0.5) if provider == "rules" else 0.5
            if scores[code] < threshold:
                continue
            why = RATIONALE.get(code) if provider == "rules" else None
            rows.append(
                {
                    "row": "1",
                    "dataset": "suggestion-study",
                    "exam_id": "E002",
                    "provider": provider,
                    "provider_version": version,
                    "computed_at": utc(stored[(provider, version)].computed_at),
                    "code": code,
                    "score": repr(scores[code]),
                    "threshold": repr(threshold),
                    "criterion": why.criterion if why else "",
                    "source": why.source if why else "",
                    "finding": why.finding if why else "",
                    "shown_to_readers": shown,
                }
            )
    return rows


def test_the_study_is_what_the_file_is_checked_against(study, ana, tnmg):
    """The reading services stored what the study says: one reader of the batch shown rules 1."""
    shown = SuggestionExposure.objects.filter(assignment__batch=study)
    assert [(e.reader, e.suggestion.provider, e.suggestion.provider_version) for e in shown] == [
        (ana, "rules", "1")
    ]
    outside = SuggestionExposure.objects.exclude(assignment__batch=study).get()
    assert (outside.suggestion.provider, outside.suggestion.provider_version) == ("codec", "2")
    failed = Suggestion.objects.get(provider="codec", provider_version="3")
    assert failed.status == Suggestion.Status.FAILED


def test_suggestions_csv_gives_every_shown_providers_versions_and_the_newest_of_the_others(
    study, tnmg, tmp_path
):
    export(study, tmp_path)
    rows = read_table(tmp_path / "suggestions.csv")
    assert list(rows[0]) == COLUMNS
    assert rows == expected_rows(tnmg)
    # Only the suggested statements: RBBB on its threshold is one, AF above 0.5 but below rules' 0.7 and
    # SB below 0.5 are not, though every one of them was scored and stored.
    assert [(r["provider"], r["provider_version"], r["code"]) for r in rows] == [
        ("codec", "2", "AF"),
        ("rules", "0", "RBBB"),  # in the taxonomy's order, RBBB before LVH_V
        ("rules", "0", "LVH_V"),
        ("rules", "1", "RBBB"),
        ("rules", "1", "LVH_V"),
    ]
    # Its rows are consensus.csv's, and reads.csv agrees on who was shown a suggestion.
    consensus = {r["exam_id"]: r["row"] for r in read_table(tmp_path / "consensus.csv")}
    assert consensus == {"E001": "0", "E002": "1"}
    reads = [
        r for r in read_table(tmp_path / "reads.csv") if r["exam_id"] == "E002" and r["stage"] == "revised"
    ]
    assert [r["suggestion_shown"] for r in reads] == ["1"]


def test_the_file_is_what_the_csv_module_writes(study, tmp_path):
    """The writer joins a suggestion's rows as text: the bytes are still csv.writer's, row for row, the
    finding with its comma, quotes and line break included."""
    export(study, tmp_path)
    data = (tmp_path / "suggestions.csv").read_bytes()
    with open(tmp_path / "suggestions.csv", newline="", encoding="utf-8") as handle:
        parsed = list(csv.reader(handle))
    again = io.StringIO()
    csv.writer(again, lineterminator="\n").writerows(parsed)
    assert data == again.getvalue().encode()
    assert any(RATIONALE["RBBB"].finding in row for row in parsed)


def test_a_release_without_suggestions_has_the_file_with_its_header_alone(ana, diego, tnmg, tmp_path):
    batch = read_study(2, reader=ana, coordinator=diego, taxonomy=tnmg)
    result = export(batch, tmp_path)
    assert (tmp_path / "suggestions.csv").read_text(encoding="utf-8") == ",".join(COLUMNS) + "\n"
    assert "suggestions.csv" in {f["name"] for f in result.files}
    assert result.card["suggestions"]["rows"] == 0


def test_the_card_lists_the_file_its_free_text_columns_and_calls_it_machine_output(study, tnmg, tmp_path):
    result = export(study, tmp_path)
    card = json.loads((tmp_path / "dataset_card.json").read_text(encoding="utf-8"))
    assert card == result.card
    entry = next(f for f in card["files"] if f["name"] == "suggestions.csv")
    assert entry["sha256"] == hashlib.sha256((tmp_path / "suggestions.csv").read_bytes()).hexdigest()
    section = card["suggestions"]
    assert section["free_text_columns"] == ["criterion", "source", "finding"]
    assert section["rows"] == len(read_table(tmp_path / "suggestions.csv")) == len(expected_rows(tnmg)) == 5
    assert section["exams"] == 1
    assert section["versions"] == [
        {"provider": "codec", "provider_version": "2", "exams": 1, "shown_on_exams": 0, "rows": 1},
        {"provider": "rules", "provider_version": "0", "exams": 1, "shown_on_exams": 0, "rows": 2},
        {"provider": "rules", "provider_version": "1", "exams": 1, "shown_on_exams": 1, "rows": 2},
    ]
    convention = next(text for text in card["conventions"] if text.startswith("suggestions.csv:"))
    assert "machine output, not labels" in convention
    assert "criterion, source and finding are free text" in convention
    assert "statements at or above the provider's threshold" in convention
    assert "every row is a suggested statement" in convention
    assert "every score stays in the database and the coordinators' exam API" in convention
    markdown = (tmp_path / "dataset_card.md").read_text(encoding="utf-8")
    assert "`suggestions.csv`" in markdown and "machine output, not labels" in markdown


def test_a_suggestion_that_suggested_nothing_has_no_row_and_the_card_still_counts_it(study, tnmg, tmp_path):
    """Scored but below every threshold: no row, on an exam with others' rows (E002) or none (E001); the
    card's versions still say on how many exams it was given, 'exams' counts those with a row."""
    for exam in Exam.objects.filter(dataset__name="suggestion-study"):
        suggestion_compute(exam.pk, Quiet())
    scored = SuggestionScore.objects.filter(suggestion__provider="quiet", diagnostic_class__taxonomy=tnmg)
    assert scored.count() == 4  # two statements on each of the two exams, stored
    result = export(study, tmp_path)
    rows = read_table(tmp_path / "suggestions.csv")
    assert rows == expected_rows(tnmg)
    section = result.card["suggestions"]
    assert (section["rows"], section["exams"]) == (5, 1)
    quiet = [v for v in section["versions"] if v["provider"] == "quiet"]
    assert quiet == [
        {"provider": "quiet", "provider_version": "1", "exams": 2, "shown_on_exams": 0, "rows": 0}
    ]


def test_sha256sums_covers_suggestions_csv_and_verifies(study, tmp_path):
    export(study, tmp_path)
    listed = [line.split("  ")[1] for line in (tmp_path / "SHA256SUMS").read_text().splitlines()]
    assert "suggestions.csv" in listed
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_same_state_gives_the_same_bytes(study, tmp_path):
    first = export(study, tmp_path / "a", target="code15")
    second = export(study, tmp_path / "b", target="code15")
    assert first.files == second.files
    data = (tmp_path / "a" / "suggestions.csv").read_bytes()
    assert data == (tmp_path / "b" / "suggestions.csv").read_bytes() and data.count(b"\n") > 1


def test_codes_are_the_batch_taxonomy_s_even_when_the_columns_are_mapped(study, tnmg, tmp_path):
    export(study, tmp_path / "own")
    export(study, tmp_path / "mapped", target="code15")
    own = (tmp_path / "own" / "suggestions.csv").read_bytes()
    assert own == (tmp_path / "mapped" / "suggestions.csv").read_bytes()


def test_free_text_that_would_start_a_formula_is_escaped(study, tmp_path):
    """criterion, source and finding are the file's free text: escaped like a reader's skip reason."""
    suggestion = Suggestion.objects.get(provider="rules", provider_version="1")
    meta = suggestion.measurements["_scoring"]
    meta["rationale"]["LVH_V"]["finding"] = '=HYPERLINK("http://x","see")'
    meta["rationale"]["LVH_V"]["criterion"] = "-2+3"
    Suggestion.objects.filter(pk=suggestion.pk).update(measurements=suggestion.measurements)
    export(study, tmp_path)
    row = next(
        r
        for r in read_table(tmp_path / "suggestions.csv")
        if r["provider_version"] == "1" and r["code"] == "LVH_V"
    )
    assert (row["finding"], row["criterion"]) == ('\'=HYPERLINK("http://x","see")', "'-2+3")
    assert row["score"] == "0.9"  # numbers stay numbers


def test_a_release_through_the_api_carries_the_file(study, diego, tnmg, client_for, tmp_path):
    export(study, tmp_path)
    client = client_for(diego)
    response = client.post(
        reverse("api-release-list"), {"batches": [study.pk], "hdf5": False}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    release = release_build(Release.objects.get(pk=response.json()["id"]).pk)
    assert release.status == Release.Status.DONE, release.error
    download = client.get(reverse("api-release-file", args=[release.pk, "suggestions.csv"]))
    assert download.status_code == 200
    text = b"".join(download.streaming_content).decode()
    assert table(text) == expected_rows(tnmg)
    assert text.encode() == (tmp_path / "suggestions.csv").read_bytes()
    sums = stored_bytes(release, "SHA256SUMS").decode()
    assert f"{hashlib.sha256(text.encode()).hexdigest()}  suggestions.csv" in sums.splitlines()


def test_manage_py_export_labels_carries_the_file(study, tnmg, tmp_path):
    export(study, tmp_path / "service")
    call_command(
        "export_labels",
        "--batch",
        str(study.pk),
        "--out",
        str(tmp_path / "command"),
        "--no-hdf5",
        "--user",
        "diego",
        "--no-progress",
    )
    written = (tmp_path / "command" / "suggestions.csv").read_bytes()
    assert written == (tmp_path / "service" / "suggestions.csv").read_bytes()
    assert read_table(tmp_path / "command" / "suggestions.csv") == expected_rows(tnmg)
    check = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path / "command", capture_output=True, text=True
    )
    assert check.returncode == 0 and "suggestions.csv: OK" in check.stdout, check.stdout + check.stderr


def test_a_sharded_release_carries_the_file_once_as_the_single_file_release_does(ana, diego, tnmg, settings):
    batch = read_study(7, reader=ana, coordinator=diego, taxonomy=tnmg)
    exams = (
        Assignment.objects.filter(batch=batch).order_by("exam__external_id").values_list("exam_id", flat=True)
    )
    for exam_id in list(exams)[::3]:
        suggestion_compute(exam_id, Rules("1"))
    settings.RELEASE_SHARD_EXAMS = 100
    single = build_serially(release_create(actor=diego, batches=[batch]).pk)
    settings.RELEASE_SHARD_EXAMS = 3
    sharded = build_serially(release_create(actor=diego, batches=[batch]).pk)
    assert shard_names(sharded) and not shard_names(single)
    assert sharded.status == Release.Status.DONE
    data = stored_bytes(sharded, "suggestions.csv")
    assert data == stored_bytes(single, "suggestions.csv")
    rows = table(data.decode())
    assert [r["exam_id"] for r in rows] == [e for e in ("S000", "S003", "S006") for _ in RULE_SUGGESTED]
    assert [r["row"] for r in rows] == [e for e in ("0", "3", "6") for _ in RULE_SUGGESTED]
    sums = stored_bytes(sharded, "SHA256SUMS").decode().splitlines()
    assert f"{hashlib.sha256(data).hexdigest()}  suggestions.csv" in sums
    card = json.loads(stored_bytes(sharded, "dataset_card.json"))
    assert "suggestions.csv" in {f["name"] for f in card["files"]}


def test_a_suggestion_shown_from_another_import_of_the_tracing_is_given_for_the_exam_read(
    ana, diego, tnmg, settings, tmp_path
):
    """An exam with no suggestion of its own shows its copy's (Exam.copy_of, linked at import as here):
    what the reader saw is in the release, under the exam they read."""
    settings.SUGGESTION_READER_PROVIDER = "rules"
    first = make_exam(dataset_get_or_create(name="site-a"), "A1", seed=7)
    copy = make_exam(dataset_get_or_create(name="site-b"), "B1", seed=7)
    Exam.objects.filter(pk=copy.pk).update(copy_of=first)
    suggestion_compute(first.pk, Rules("1"))
    batch = two_stage_batch("Copies", [copy], [ana], diego, tnmg)
    two_stage_read(ana, batch, copy, ["LVH_V"])
    export(batch, tmp_path)
    rows = read_table(tmp_path / "suggestions.csv")
    assert sorted(r["code"] for r in rows) == sorted(RULE_SUGGESTED)
    assert {(r["row"], r["dataset"], r["exam_id"], r["provider"], r["shown_to_readers"]) for r in rows} == {
        ("0", "site-b", "B1", "rules", "1")
    }
