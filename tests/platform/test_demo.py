"""The demo: one user per role, the shipped taxonomies, exams and a batch, created once."""

import pytest
from django.core.management import CommandError, call_command

from annotations.models import Assignment, Exam, ReviewBatch, Taxonomy
from annotations.roles import Role, user_roles
from annotations.services.demo import DEMO_USERS

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_a_user_per_role_and_prints_their_credentials(settings, capsys):
    settings.DEBUG = True
    call_command("seed_demo")
    output = capsys.readouterr().out
    from django.contrib.auth import get_user_model

    for demo in DEMO_USERS:
        assert f"{demo.username:<8} password {demo.password}" in output
        user = get_user_model().objects.get(username=demo.username)
        assert user.check_password(demo.password)
        assert user_roles(user) == set(demo.roles)
    # Every role but the submitter's: a model builder from outside, given an account by a coordinator once
    # a benchmark exists, and the demo has no release to make one of.
    assert {role for demo in DEMO_USERS for role in demo.roles} == set(Role) - {Role.SUBMITTER}


def test_seed_demo_loads_the_taxonomies_exams_and_a_batch_with_two_readers_per_exam(settings):
    settings.DEBUG = True
    call_command("seed_demo")
    assert Taxonomy.objects.get(is_default=True).key == "tnmg"
    batch = ReviewBatch.objects.get()
    assert batch.taxonomy.frozen_at is not None
    # Every exam but the one patient's earlier ECG, which the batch shows beside its later one.
    exams = Exam.objects.exclude(external_id="demo-0004-earlier").count()
    assert exams >= 5
    assert Assignment.objects.filter(batch=batch).count() == 2 * exams
    assert batch.design["serial_comparison"] is True
    assert not Assignment.objects.filter(exam__external_id="demo-0004-earlier").exists()


def test_seed_demo_a_second_time_changes_nothing(settings, capsys):
    settings.DEBUG = True
    call_command("seed_demo")
    counts = (Exam.objects.count(), Assignment.objects.count())
    call_command("seed_demo")
    assert "already present" in capsys.readouterr().out
    assert (Exam.objects.count(), Assignment.objects.count()) == counts


def test_seed_demo_refuses_public_passwords_on_a_production_server(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("seed_demo")
    assert not Exam.objects.exists()
