"""create_batch --audit-of: the command's way to an audit batch, and its refusals."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from annotations.models import ReviewBatch
from tests.audits.helpers import auditors, finished_study

pytestmark = pytest.mark.django_db


def test_the_command_creates_an_audit_of_finished_batches(ana, bruno, carla, diego, tnmg, capsys):
    study = finished_study(ana, bruno, carla, diego, tnmg)
    auditors()
    args = ["--name", "Cmd audit", "--coordinator", "diego", "--readers", "dora,flor", "--k", "1"]
    call_command(
        "create_batch", *args, "--audit-of", str(study.batch.pk), "--sample-fraction", "0.5", "--seed", "3"
    )
    audit = ReviewBatch.objects.get(name="Cmd audit")
    assert (audit.design["kind"], audit.design["sample"], audit.design["population"]) == ("audit", 2, 4)
    assert f"2 of 4 exams with a consensus in batches {study.batch.pk}" in capsys.readouterr().out


def test_the_command_refuses_a_sample_larger_than_the_population(ana, bruno, carla, diego, tnmg):
    study = finished_study(ana, bruno, carla, diego, tnmg)
    auditors()
    args = ["--name", "Too big", "--coordinator", "diego", "--readers", "dora", "--k", "1"]
    with pytest.raises(CommandError, match="larger than the 4 exams"):
        call_command("create_batch", *args, "--audit-of", str(study.batch.pk), "--sample", "5")
    assert not ReviewBatch.objects.filter(name="Too big").exists()
