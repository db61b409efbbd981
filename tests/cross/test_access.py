"""Logged out, nothing is served but the login form; each role sees what it is for."""

import pytest

from tests.urlwalk import all_routes, protected_routes

pytestmark = pytest.mark.django_db


def test_the_url_walk_finds_every_part_of_the_site():
    paths = {route.path for route in all_routes()}
    assert {"/", "/taxonomies/", "/exams/", "/api/v1/me/", "/api/schema/", "/admin/"} <= paths
    assert len(paths) > 30  # the admin's model pages are included too


@pytest.mark.parametrize("route", [r for r in protected_routes() if not r.is_api], ids=lambda r: r.path)
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_logged_out_visitor_is_sent_to_a_login_page(client, route, method):
    response = getattr(client, method)(route.path)
    assert response.status_code == 302, route.path
    assert "/login/" in response["Location"]


@pytest.mark.parametrize("route", [r for r in protected_routes() if r.is_api], ids=lambda r: r.path)
@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_a_logged_out_api_client_gets_401_or_403(client, route, method):
    response = getattr(client, method)(route.path)
    assert response.status_code in (401, 403), (route.path, response.status_code)
    assert b"Authentication credentials were not provided" in response.content


def test_the_login_page_is_served_to_everyone(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_a_reader_cannot_open_coordinator_pages_or_the_admin(client_for, ana):
    client = client_for(ana)
    assert client.get("/exams/").status_code == 403
    assert client.get("/api/v1/exams/").status_code == 403
    admin = client.get("/admin/")
    assert admin.status_code == 302 and "/admin/login/" in admin["Location"]


def test_a_coordinator_opens_the_exam_list_and_the_admin(client_for, diego):
    client = client_for(diego)
    assert client.get("/exams/").status_code == 200
    assert client.get("/api/v1/exams/").status_code == 200
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/annotations/auditevent/").status_code == 200


def test_an_outsider_without_a_role_sees_no_work_and_no_coordinator_page(client_for, eve):
    client = client_for(eve)
    home = client.get("/")
    assert b"no role yet" in home.content
    assert client.get("/exams/").status_code == 403
    assert client.get("/api/v1/worklist/").json() == []
    assert client.get("/admin/").status_code == 302


def test_the_openapi_schema_is_served_to_logged_in_users(client_for, ana):
    response = client_for(ana).get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert "/api/v1/taxonomies/" in response.content.decode()


def test_pages_carry_a_content_security_policy_without_inline_scripts(client):
    policy = client.get("/accounts/login/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]


def test_a_signed_in_request_reads_its_user_and_roles_in_one_query(client_for, carla):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(carla)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/me/").status_code == 200
    user_queries = [q["sql"] for q in queries if 'FROM "auth_user"' in q["sql"]]
    assert len(user_queries) == 1 and "auth_group" in user_queries[0]
    assert not [q for q in queries if q["sql"].startswith('SELECT "auth_group"')]


def test_a_role_taken_away_is_gone_on_the_next_request(client_for, diego):
    from annotations.roles import Role
    from annotations.services.users import role_groups_ensure

    client = client_for(diego)
    assert client.get("/api/v1/exams/").status_code == 200
    diego.groups.remove(role_groups_ensure()[Role.COORDINATOR])
    assert client.get("/api/v1/exams/").status_code == 403


def test_an_inactive_account_is_signed_out(client_for, ana):
    client = client_for(ana)
    ana.is_active = False
    ana.save(update_fields=["is_active"])
    assert client.get("/api/v1/worklist/").status_code == 403
