"""reader_accuracy.csv and the card's readers_vs_consensus: each reader's sensitivity and specificity per
class against the released consensus and against the other readers' majority (leave-one-out), split by
whether a suggestion was shown, and their drift over their reads. Releases are built by the release
service and read back from storage as a user downloads them.

The small study (tests/exporting.py) is counted by hand; the simulated one has known sensitivities."""

from __future__ import annotations

import csv
import hashlib
import io
import json

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from annotations.lib.providers.base import Provider, ProviderResult
from annotations.models import Annotation, Assignment, ReviewBatch
from annotations.services.exams.create import dataset_get_or_create
from annotations.services.reading import LabelInput, annotation_save_draft, annotation_submit
from annotations.services.suggestions import suggestion_compute
from tests.exporting import labelled_study
from tests.factories import UserFactory, batch_for, make_exam, release_of
from tests.releases.sharding import stored_bytes

pytestmark = pytest.mark.django_db

COLUMNS = [
    "reader",
    "code",
    "reference",
    "exposure",
    "tp",
    "fp",
    "fn",
    "tn",
    "sensitivity",
    "sensitivity_low",
    "sensitivity_high",
    "specificity",
    "specificity_low",
    "specificity_high",
    "n_undecided_left_out",
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def carol(db):
    return UserFactory(username="carol", roles=["reader"])


def built(actor, batch):
    release = release_of(actor=actor, batches=[batch])
    assert release.status == "done", release.error
    return release


def table(release) -> list[dict]:
    text = stored_bytes(release, "reader_accuracy.csv").decode()
    assert text.splitlines()[0] == ",".join(COLUMNS)
    return list(csv.DictReader(io.StringIO(text, newline="")))


def card(release) -> dict:
    return json.loads(stored_bytes(release, "dataset_card.json"))


def counts(rows, reader, code, reference, exposure="all") -> tuple[int, ...]:
    (row,) = [
        r
        for r in rows
        if (r["reader"], r["code"], r["reference"], r["exposure"]) == (reader, code, reference, exposure)
    ]
    return tuple(int(row[k]) for k in ("tp", "fp", "fn", "tn", "n_undecided_left_out"))


def test_the_small_study_gives_the_hand_counted_figures(ana, bruno, carol, carla, diego, tnmg):
    study = labelled_study(readers=[ana, bruno, carol], coordinator=diego, adjudicator=carla, taxonomy=tnmg)
    release = built(diego, study.batch)
    rows = table(release)
    name = {user_id: key for key, user_id in release.pseudonym_key.items()}
    a, b = name[ana.pk], name[bruno.pk]
    # Consensus: E001 RBBB 1 SB 0; E002 AF 1 NORM 0; E003 NORM 1 1dAVb 0; E004 ST 1 (adjudicated), SB empty.
    assert counts(rows, a, "RBBB", "consensus") == (1, 0, 0, 3, 0)
    assert counts(rows, a, "SB", "consensus") == (0, 1, 0, 2, 1)
    assert counts(rows, a, "NORM", "consensus") == (0, 0, 1, 3, 0)
    assert counts(rows, a, "ST", "consensus") == (1, 0, 0, 3, 0)
    assert counts(rows, b, "AF", "consensus") == (1, 0, 0, 3, 0)  # bruno's uncertain AF counts as marked
    # Leave-one-out: E002's AF and NORM tie between the two others; E004 has one other read only.
    assert counts(rows, a, "RBBB", "leave_one_out") == (1, 0, 0, 2, 1)
    assert counts(rows, a, "SB", "leave_one_out") == (0, 1, 0, 2, 1)
    assert counts(rows, a, "AF", "leave_one_out") == (0, 0, 0, 2, 2)
    assert counts(rows, a, "NORM", "leave_one_out") == (0, 0, 1, 1, 2)
    sb = next(r for r in rows if (r["reader"], r["code"], r["reference"]) == (a, "SB", "consensus"))
    assert sb["sensitivity"] == sb["sensitivity_low"] == ""  # no positive: not measurable, not 0
    assert float(sb["specificity"]) == pytest.approx(2 / 3)
    wilson = proportion_confint(2, 3, alpha=0.05, method="wilson")
    assert (float(sb["specificity_low"]), float(sb["specificity_high"])) == pytest.approx(wilson, abs=1e-6)
    # Nobody was shown a suggestion: no split rows.
    assert {r["exposure"] for r in rows} == {"all"}
    codes = set(tnmg.classes.values_list("code", flat=True))
    assert {r["code"] for r in rows} == codes and len(rows) == 3 * 2 * len(codes)

    section = card(release)["readers_vs_consensus"]
    readers = {r["reader"]: r for r in section["readers"]}
    assert (readers[a]["reads"], readers[a]["reads_with_suggestion"], readers[a]["suggestion_share"]) == (
        4,
        0,
        0.0,
    )
    assert readers[name[carol.pk]]["reads"] == 3  # carol skipped E004
    pooled = readers[a]["consensus"]
    # ana over every class: TP RBBB AF ST; FP SB 1dAVb; FN NORM; one undecided cell (SB on E004).
    assert (pooled["tp"], pooled["fp"], pooled["fn"], pooled["n_undecided_left_out"]) == (3, 2, 1, 1)
    assert len(readers[a]["drift"]["quarters"]) == 4
    assert "reader_accuracy.csv" in section["file"]


def test_the_file_is_listed_checksummed_described_and_safe(ana, bruno, carol, carla, diego, tnmg):
    study = labelled_study(readers=[ana, bruno, carol], coordinator=diego, adjudicator=carla, taxonomy=tnmg)
    release = built(diego, study.batch)
    data = stored_bytes(release, "reader_accuracy.csv")
    sums = dict(
        reversed(line.split("  ", 1)) for line in stored_bytes(release, "SHA256SUMS").decode().splitlines()
    )
    assert sums["reader_accuracy.csv"] == hashlib.sha256(data).hexdigest()
    the_card = card(release)
    assert "reader_accuracy.csv" in {f["name"] for f in the_card["files"]}
    described = [line for line in the_card["conventions"] if line.startswith("reader_accuracy.csv")]
    assert described and "leave_one_out" in described[0] and "incorporation" in described[0]
    cells = [cell for row in csv.reader(io.StringIO(data.decode())) for cell in row]
    assert not [c for c in cells if c.startswith(FORMULA_STARTS)]
    markdown = stored_bytes(release, "dataset_card.md").decode()
    assert "## Readers against consensus" in markdown and "leave-one-out" in markdown
    # The same state gives the same bytes.
    assert stored_bytes(built(diego, study.batch), "reader_accuracy.csv") == data


def test_a_mapped_release_scores_the_readers_on_its_own_columns(ana, bruno, carol, carla, diego, tnmg):
    study = labelled_study(readers=[ana, bruno, carol], coordinator=diego, adjudicator=carla, taxonomy=tnmg)
    release = release_of(actor=diego, batches=[study.batch], target="code15")
    header = stored_bytes(release, "consensus.csv").decode().splitlines()[0].split(",")
    columns = header[7:-1]  # after the meta columns, before added_by_adjudicator
    rows = table(release)
    assert sorted({r["code"] for r in rows}) == sorted(columns)
    name = {user_id: key for key, user_id in release.pseudonym_key.items()}
    # CODE-15%'s RBBB column holds TNMG's RBBB: ana's E001 RBBB against a unanimous 1.
    assert counts(rows, name[ana.pk], "RBBB", "consensus")[:4] == (1, 0, 0, 3)


# --- A simulated study with known truth ------------------------------------------------------------------
N_EXAMS = 200
SENSITIVITY = {"r1": 0.95, "r2": 0.9, "r3": 0.6}  # r3 with no suggestion shown
SENSITIVITY_SHOWN = {"r3": 0.9}
SPECIFICITY = {"r1": 0.95, "r2": 0.95, "r3": 0.9}


class Flags(Provider):
    """Suggests AF on every exam it is run on."""

    name = "flags"
    version = "1"
    codes = ("AF",)

    def run(self, signals_mv: np.ndarray, sampling_rate: float) -> ProviderResult:
        return ProviderResult(scores={"AF": 0.9})


def _said(rng, truth: int, sensitivity: float, specificity: float) -> list[str]:
    marks = rng.random() < (sensitivity if truth else 1 - specificity)
    return ["AF"] if marks else ["NORM"]


def _read(reader, batch, exam, blind: list[str], revised: list[str]) -> None:
    assignment = Assignment.objects.get(batch=batch, exam=exam, reader=reader, read_round=1)
    draft = annotation_save_draft(actor=reader, assignment=assignment, labels=[], revision=0)
    result = annotation_submit(
        actor=reader, assignment=assignment, labels=[LabelInput(c) for c in blind], revision=draft.revision
    )
    if result.suggestion_revealed is not None:
        opened = result.annotation
        assert opened.stage == Annotation.Stage.REVISED
        labels = [LabelInput(c) for c in revised]
        annotation_submit(actor=reader, assignment=assignment, labels=labels, revision=opened.revision)


@pytest.fixture
def simulated(diego, tnmg, settings):
    """200 exams, AF present on 80 (truth known). Two-stage: a suggestion exists on the even exams, so
    each reader's read of those is made with it shown. r3 finds AF 60% of the time without it and 90%
    with it; r2 finds every AF in their first 100 reads and half in the last 100 (a drift)."""
    settings.SUGGESTION_READER_PROVIDER = "flags"
    rng = np.random.default_rng(2026)
    readers = {key: UserFactory(username=key, roles=["reader"]) for key in SENSITIVITY}
    dataset = dataset_get_or_create(name="simulated")
    exams = [make_exam(dataset, f"S{i:03d}", seed=i % 7) for i in range(N_EXAMS)]
    truth = np.zeros(N_EXAMS, int)
    truth[rng.permutation(N_EXAMS)[:80]] = 1
    for exam in exams[::2]:
        suggestion_compute(exam.pk, Flags())
    batch = batch_for(
        tnmg,
        diego,
        list(readers.values()),
        exams,
        name="Simulated",
        readers_per_exam=3,
        suggestion_mode=ReviewBatch.SuggestionMode.TWO_STAGE,
        seed=5,
    )
    said = {key: np.zeros(N_EXAMS, int) for key in readers}
    for i, exam in enumerate(exams):
        shown = i % 2 == 0
        for key, reader in readers.items():
            sensitivity = SENSITIVITY_SHOWN.get(key, SENSITIVITY[key]) if shown else SENSITIVITY[key]
            if key == "r2":
                sensitivity = 1.0 if i < N_EXAMS // 2 else 0.5
            labels = _said(rng, truth[i], sensitivity, SPECIFICITY[key])
            said[key][i] = labels == ["AF"]
            _read(reader, batch, exam, labels, labels)
    return batch, readers, truth, said


def _within(row: dict, name: str, value: float) -> bool:
    return float(row[f"{name}_low"]) <= value <= float(row[f"{name}_high"])


def _row(rows, reader, reference, exposure="all", code="AF") -> dict:
    return next(
        r
        for r in rows
        if (r["reader"], r["code"], r["reference"], r["exposure"]) == (reader, code, reference, exposure)
    )


def test_a_simulated_study_recovers_the_known_sensitivities(simulated, diego):
    batch, readers, _, said = simulated
    release = built(diego, batch)
    rows = table(release)
    name = {user_id: key for key, user_id in release.pseudonym_key.items()}
    r1, r3 = name[readers["r1"].pk], name[readers["r3"].pk]
    # Three readers who never tie on one class: the consensus is the majority, counted here from the reads.
    majority = (said["r1"] + said["r2"] + said["r3"] >= 2).astype(int)
    for key in readers:
        mine = said[key]
        expected = tuple(
            int(((mine == a) & (majority == b)).sum()) for a, b in ((1, 1), (1, 0), (0, 1), (0, 0))
        )
        assert counts(rows, name[readers[key].pk], "AF", "consensus")[:4] == expected
    # Against the other two readers, r1's and r3's figures hold the truth within their intervals.
    assert _within(_row(rows, r1, "leave_one_out"), "sensitivity", SENSITIVITY["r1"])
    assert _within(_row(rows, r1, "leave_one_out"), "specificity", SPECIFICITY["r1"])
    assert _within(_row(rows, r3, "leave_one_out", "not_shown"), "sensitivity", SENSITIVITY["r3"])
    assert _within(_row(rows, r3, "leave_one_out", "shown"), "sensitivity", SENSITIVITY_SHOWN["r3"])
    assert _within(_row(rows, r3, "leave_one_out"), "specificity", SPECIFICITY["r3"])
    # The reader's own vote flatters them: r3's consensus figure is above the leave-one-out one.
    assert float(_row(rows, r3, "consensus")["sensitivity"]) > float(
        _row(rows, r3, "leave_one_out")["sensitivity"]
    )
    # Exposure: half of every reader's reads were made with the suggestion on screen.
    section = {r["reader"]: r for r in card(release)["readers_vs_consensus"]["readers"]}
    assert section[r3]["reads"] == N_EXAMS and section[r3]["suggestion_share"] == 0.5
    shown, hidden = (counts(rows, r3, "AF", "consensus", e) for e in ("shown", "not_shown"))
    assert tuple(np.add(shown, hidden)) == counts(rows, r3, "AF", "consensus")


def test_a_simulated_reader_who_drifts_is_flagged_and_the_others_are_not(simulated, diego):
    batch, readers, _, _ = simulated
    release = built(diego, batch)
    name = {user_id: key for key, user_id in release.pseudonym_key.items()}
    section = {r["reader"]: r for r in card(release)["readers_vs_consensus"]["readers"]}
    drift = section[name[readers["r2"].pk]]["drift"]
    assert [q["reads"] for q in drift["quarters"]] == [50, 50, 50, 50]
    sensitivities = [q["sensitivity"] for q in drift["quarters"]]
    # Pooled over AF and NORM (NORM found throughout): every AF found, then half of them missed.
    assert min(sensitivities[:2]) > max(sensitivities[2:]), drift
    assert drift["sensitivity_slope"] < 0 and drift["sensitivity_p"] < 0.01
    assert drift["flagged"] is True
    assert section[name[readers["r1"].pk]]["drift"]["sensitivity_p"] > 0.05
    markdown = stored_bytes(release, "dataset_card.md").decode()
    assert "drift" in markdown.lower()
