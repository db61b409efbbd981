"""`manage.py create_batch`: criteria, samples, preview, and refusals in a coordinator's words."""

import pytest
from django.core.management import CommandError, call_command

from annotations.models import Assignment, BatchExam, ReviewBatch
from tests.factories import DatasetFactory, ExamFactory, UserFactory, add_reference_labels

pytestmark = pytest.mark.django_db


@pytest.fixture
def exams():
    archive = DatasetFactory(name="archive")
    other = DatasetFactory(name="other")
    chosen = [ExamFactory(dataset=archive, age=30 + i, sex="F" if i % 2 else "M") for i in range(40)]
    ExamFactory.create_batch(5, dataset=other)
    for exam in chosen[:6]:
        add_reference_labels(exam, ("code15", "RBBB"))
    return chosen


def run(*args):
    call_command("create_batch", *args)


def test_the_preview_shows_the_overlap_matrix_and_creates_nothing(exams, ana, bruno, diego, tnmg, capsys):
    run(
        "--name",
        "P",
        "--coordinator",
        "diego",
        "--readers",
        "ana,bruno",
        "--k",
        "2",
        "--dataset",
        "archive",
        "--preview",
    )
    output = capsys.readouterr().out
    assert "40 of 40 matching exams (0 left out as copies), 0 gold, 2 readers per exam" in output
    rows = output.split("pair overlap (diagonal: exams per reader):\n")[1].splitlines()
    assert rows[0].split() == ["ana", "bruno"]
    assert rows[1].split() == ["ana", "40", "40"] and rows[2].split() == ["bruno", "40", "40"]
    assert not ReviewBatch.objects.exists()


def test_a_seeded_sample_of_the_matching_exams_becomes_a_batch(exams, ana, bruno, diego, tnmg):
    carol = UserFactory(username="carol", roles=["reader"])
    run(
        "--name",
        "Sample",
        "--coordinator",
        "diego",
        "--readers",
        "ana,bruno,carol",
        "--k",
        "2",
        "--dataset",
        "archive",
        "--sex",
        "F",
        "--sample",
        "10",
        "--seed",
        "7",
        "--gold-fraction",
        "0.2",
        "--due",
        "2026-12-31",
    )
    batch = ReviewBatch.objects.get()
    members = BatchExam.objects.filter(batch=batch)
    assert members.count() == 10
    assert set(members.values_list("exam__sex", flat=True)) == {"F"}
    assert members.filter(is_gold=True).count() == 2
    assert str(batch.due_date) == "2026-12-31"
    assert batch.design["matching_exams"] == 20
    regular = Assignment.objects.filter(batch=batch, exam__batch_memberships__is_gold=False)
    assert regular.count() == 8 * 2
    assert Assignment.objects.filter(batch=batch).exclude(reader=carol).count() > 0


def test_reference_label_criteria_choose_only_labelled_exams(exams, ana, diego, tnmg):
    run(
        "--name",
        "RBBB",
        "--coordinator",
        "diego",
        "--readers",
        "ana",
        "--k",
        "1",
        "--reference",
        "code15:RBBB",
    )
    assert BatchExam.objects.count() == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--readers", "ana,zed"], "no such users: zed"),
        (["--readers", "ana,carla"], "not readers: carla"),
        (["--readers", "ana", "--k", "2"], "2 readers per exam were asked for but only 1"),
        (["--readers", "ana", "--dataset", "nowhere"], "no exam matches the criteria"),
        (["--readers", "ana,bruno", "--gold-fraction", "0.5"], "20 gold exams were asked for but only 6"),
        (["--readers", "ana", "--coordinator", "ana"], "ana is not a coordinator"),
    ],
)
def test_impossible_batches_are_refused_with_the_reason(exams, ana, bruno, carla, diego, tnmg, args, message):
    base = {"--name": "X", "--coordinator": "diego", "--dataset": "archive"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    with pytest.raises(CommandError, match=message):
        run(*[item for pair in base.items() for item in pair])
    assert not ReviewBatch.objects.exists()


COMMON = (
    "--name",
    "W",
    "--coordinator",
    "diego",
    "--readers",
    "ana,bruno",
    "--k",
    "2",
    "--dataset",
    "archive",
)


def test_the_command_designs_the_clinically_weighted_escalation_trigger(exams, ana, bruno, diego, tnmg):
    run(
        *COMMON,
        "--escalate",
        "adjudicate",
        "--escalation-trigger",
        "weighted",
        "--escalation-threshold",
        "2.5",
        "--escalation-weight",
        "SB=3",
        "--escalation-weight",
        "ERP=0",
    )
    rule = ReviewBatch.objects.get().design["escalation"]
    assert (rule["trigger"], rule["threshold"]) == ("weighted", 2.5)
    assert rule["overrides"] == {"SB": 3.0, "ERP": 0.0} and rule["weights"]["SB"] == 3.0


def test_the_command_designs_a_per_class_trigger(exams, ana, bruno, diego, tnmg):
    run(
        *COMMON,
        "--escalate",
        "adjudicate",
        "--escalation-trigger",
        "classes",
        "--escalation-classes",
        "AF,VT",
    )
    rule = ReviewBatch.objects.get().design["escalation"]
    assert (rule["trigger"], rule["classes"]) == ("classes", ["AF", "VT"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--escalation-weight", "SB=-1", "--escalation-threshold", "3"], "a weight must be a number of 0"),
        (["--escalation-weight", "NOPE=2", "--escalation-threshold", "3"], "NOPE"),
        (["--escalation-weight", "SB", "--escalation-threshold", "3"], "CODE=WEIGHT"),
        (["--escalation-threshold", "0"], "threshold"),
    ],
)
def test_bad_weights_are_refused_and_nothing_is_made(exams, ana, bruno, diego, tnmg, args, message):
    with pytest.raises(CommandError, match=message):
        run(*COMMON, "--escalate", "adjudicate", "--escalation-trigger", "weighted", *args)
    assert not ReviewBatch.objects.exists()
