"""The authentication backend reads a user and their roles together, and refuses what ModelBackend does."""

import pytest
from django.contrib.auth.models import Group

from annotations.backends import RolesBackend
from annotations.roles import Role, user_roles
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_user_comes_back_with_exactly_their_roles(ana, carla):
    both = UserFactory(username="fabio", roles=["reader", "adjudicator"])
    assert user_roles(RolesBackend().get_user(both.pk)) == {Role.READER, Role.ADJUDICATOR}
    assert user_roles(RolesBackend().get_user(ana.pk)) == {Role.READER}
    assert user_roles(RolesBackend().get_user(carla.pk)) == {Role.ADJUDICATOR}


def test_a_group_that_is_no_role_grants_nothing_and_hides_nothing(ana):
    ana.groups.add(Group.objects.create(name="cardiology, night shift"))
    user = RolesBackend().get_user(ana.pk)
    assert user.username == "ana" and user_roles(user) == {Role.READER}


def test_a_user_without_any_group_is_signed_in_with_no_role(eve):
    user = RolesBackend().get_user(eve.pk)
    assert user == eve and user_roles(user) == set()


def test_inactive_missing_and_malformed_ids_give_no_user(ana):
    ana.is_active = False
    ana.save(update_fields=["is_active"])
    assert RolesBackend().get_user(ana.pk) is None
    assert RolesBackend().get_user(10**9) is None
    assert RolesBackend().get_user("not-an-id") is None


def test_passwords_are_still_checked_by_model_backend(bruno):
    from tests.factories import PASSWORD

    assert RolesBackend().authenticate(None, username="bruno", password=PASSWORD) == bruno
    assert RolesBackend().authenticate(None, username="bruno", password="wrong") is None
