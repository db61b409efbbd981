"""Every route x every persona x every method answers as the view's own declaration of roles says.

Nothing here is a hand list of endpoints: the routes come from the URL configuration (tests/urlwalk.py),
the API's methods from its OpenAPI schema, and who may use each route from the view itself (role_required,
signed_in, the DRF permission classes' `roles`, the admin site's `required_roles`; see tests/access.py). A
new view without a declaration fails here. Ids in URLs are real: each persona fills them with their own
objects of one labelled study, and the others try the owner's.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.test import Client

from annotations.admin import coordinator_admin
from annotations.models import Exam
from annotations.roles import Role, user_roles
from annotations.services.users import user_set_roles
from tests.access import PERSONAS, Study, Undeclared, build_study, declared_roles, id_kind, may_use
from tests.factories import batch_for
from tests.urlwalk import Route, all_routes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sessions_not_refreshed")]

ROUTES = all_routes()
API_METHODS = ["get", "post", "put", "patch", "delete"]
PAGE_METHODS = ["get", "post"]
# A right-role answer that is about the sample input (an empty form or JSON body), not about access.
INPUT_REFUSALS = {400, 409}


@pytest.fixture
def study(tnmg) -> Study:
    return build_study(tnmg)


def signed_in(study: Study, persona: str) -> str:
    """The persona's session key, signed in once per study outside every savepoint. A request that ends
    the session (log out) is rolled back with its savepoint, so the session outlives it; signing in
    inside each savepoint wrote a new session and the user's last login again for every request."""
    sessions = study.__dict__.setdefault("_sessions", {})
    if persona not in sessions:
        client = Client()
        client.force_login(study.user(persona))
        sessions[persona] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return sessions[persona]


# The token each persona's API requests carry in the token walk: the scope of the persona's one role, so
# the token holds what the session holds; read-only where no scope names the role (then unsafe methods
# are refused, a difference the walk expects). The submitter's is for the study's one benchmark (then
# every route but that benchmark's is refused). Anonymous carries a revoked token.
ROLE_SCOPES = {
    Role.READER: "reader",
    Role.ADJUDICATOR: "adjudicator",
    Role.COORDINATOR: "coordinator",
    Role.SUBMITTER: "benchmark",
}


def token_of(study: Study, persona: str) -> tuple[str, str]:
    """The persona's token (secret, scope), created once per study outside every savepoint."""
    from annotations.services.credentials.tokens import api_token_create, api_token_revoke

    tokens = study.__dict__.setdefault("_tokens", {})
    if persona not in tokens:
        user = study.user("diego" if persona == "anonymous" else persona)
        roles = user_roles(user)
        scope = next((ROLE_SCOPES[r] for r in roles if r in ROLE_SCOPES and len(roles) == 1), "read_only")
        benchmark = study.ids[persona]["benchmark"] if scope == "benchmark" else None
        created = api_token_create(
            actor=user, user=user, name=f"walk {persona}", scope=scope, benchmark_id=benchmark
        )
        if persona == "anonymous":
            api_token_revoke(actor=user, token_id=created.token.pk)
        tokens[persona] = (created.secret, scope)
    return tokens[persona]


def ask(study: Study, persona: str, route: Route, method: str, values: dict[str, object], auth="session"):
    """One request as the persona, in a savepoint rolled back after it: closing the batch or submitting
    a read must not change what the next request of the walk finds."""
    client = Client()
    kwargs = {"content_type": "application/json", "data": {}} if route.is_api and method != "get" else {}
    if auth == "token":
        client = Client(HTTP_AUTHORIZATION=f"Token {token_of(study, persona)[0]}")
    elif persona != "anonymous":
        client.cookies[settings.SESSION_COOKIE_NAME] = signed_in(study, persona)
    with transaction.atomic():
        response = getattr(client, method)(route.fill(values), **kwargs)
        transaction.set_rollback(True)
    return response


def to_login(response) -> bool:
    return response.status_code == 302 and "/login/" in response.get("Location", "")


def refused_to_login(response) -> bool:
    """Sent to a login page while still signed in: a refusal. (Logging out also ends at the login page,
    but the user is signed out by then.)"""
    return to_login(response) and response.wsgi_request.user.is_authenticated


def admin_refuses_to_all(route: Route, method: str) -> bool:
    """A read-only admin page (no add/change/delete for anyone, coordinators included) answers 403 to the
    right role: that is the ModelAdmin's declaration, not a role refusal."""
    match = re.fullmatch(r"(\w+)_(\w+)_(add|change|delete)", route.name or "")
    if not match:
        return False
    for model, model_admin in coordinator_admin._registry.items():
        if (model._meta.app_label, model._meta.model_name) == match.group(1, 2):
            action = match.group(3)
            request = type("Request", (), {"user": User(is_superuser=True)})()
            allowed = getattr(model_admin, f"has_{action}_permission")
            return not (allowed(request) if action == "add" else allowed(request, None))
    return False


def schema_methods(client: Client) -> dict[str, set[str]]:
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    return {path: {method for method in operations} for path, operations in paths.items()}


def as_schema_path(route: Route) -> str:
    # drf-spectacular names a `pk` path parameter `id` (SCHEMA_COERCE_PATH_PK).
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route.template).replace("{pk}", "{id}")


def in_schema(route: Route) -> bool:
    """DRF views are in the schema, except drf-spectacular's own: the schema view (SERVE_INCLUDE_SCHEMA =
    False) and the documentation pages, ours derived from them included."""
    view = _view(route)
    return hasattr(view, "cls") and not any(
        c.__module__.startswith("drf_spectacular") for c in view.cls.__mro__
    )


# Views that answer 404 to the right role by design: the catch-alls for unknown admin and API URLs, and
# "view on site" for models without get_absolute_url (none of ours has one). And the autocomplete view
# answers 403 when its query (app_label, model_name, field_name) is missing: a refusal of the input.
ADMIN_NOT_FOUND_BY_DESIGN = {"catch_all_view", "shortcut", "api_not_found"}
ADMIN_REFUSES_EMPTY_INPUT = {"autocomplete_view"}


def test_every_route_declares_who_may_use_it():
    undeclared = []
    for route in ROUTES:
        try:
            declared_roles(route)
        except Undeclared as error:
            undeclared.append(str(error))
    assert undeclared == []


def test_the_login_forms_are_the_only_public_routes():
    public = {route.path for route in ROUTES if declared_roles(route) is None}
    assert public == {
        "/accounts/login/",
        "/accounts/login/two-factor/",
        "/accounts/sso/login/",
        "/accounts/sso/callback/",
        "/accounts/sso/backchannel-logout/",
        "/admin/login/",
    }


def token_refusal(study: Study, persona: str, route: Route, method: str, auth: str, status: int) -> bool:
    """The token walk's one expected refusal of the right role: 403 for an unsafe method with a read-only
    token, for every route but its benchmark's with a one-benchmark token, and for the token routes,
    which take a session only."""
    from annotations.services.credentials.tokens import BENCHMARK_ROUTES

    if auth != "token" or status != 403:
        return False
    scope = token_of(study, persona)[1]
    if scope == "read_only" and method != "get":
        return True
    if scope == "benchmark" and route.name not in BENCHMARK_ROUTES:
        return True
    view = _view(route)
    classes = getattr(getattr(view, "cls", None), "permission_classes", [])
    return any(getattr(c, "sessions_only", False) for c in classes)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(
    "moment,auth", [("designed", "session"), ("mid_batch", "session"), ("designed", "token")]
)
def test_every_route_answers_each_persona_as_its_view_declares(tnmg, moment, auth, persona):
    """Logged out: a login redirect (pages) or 401/403 (API). Wrong role: 403 or 404 (or the admin's own
    login redirect). Right role: success, or a refusal of the sample input; never 401/403/404/5xx.
    Mid-batch, the readers' own slots are those an escalation and a reassignment made after the design
    (tests/midbatch.py), and the batch routes act on that running batch. With `auth=token` the API routes
    are walked again with each persona's API token instead of a session (a revoked one for anonymous,
    which must answer 401)."""
    study = build_study(tnmg, mid_batch_ids=moment == "mid_batch")
    schema: dict[str, set[str]] | None = None
    problems: list[str] = []
    covered = 0
    for route in ROUTES:
        roles = declared_roles(route)
        if roles is None or (auth == "token" and not route.is_api):
            continue
        methods = API_METHODS if route.is_api else PAGE_METHODS
        user = study.user(persona)
        rightful = may_use(user, roles)
        owner = persona if rightful and persona in study.ids else study.owner(roles)
        values = study.values_for(owner, route)
        offered = set()
        for method in methods:
            covered += 1
            response = ask(study, persona, route, method, values, auth)
            status = response.status_code
            where = f"{persona} {method.upper()} {route.fill(values)} -> {status}"
            if persona == "anonymous" and auth == "token":
                ok = status == 401
            elif persona == "anonymous":
                ok = status in (401, 403) if route.is_api else to_login(response)
            elif not rightful:
                ok = (
                    status in (403, 404, 405)
                    or (not route.is_api and refused_to_login(response))
                    # The admin's logout sends one without the role to the admin index, and that to login.
                    or (route.path.startswith("/admin/") and response.get("Location") == "/admin/")
                )
            else:
                if status != 405:
                    offered.add(method)
                name = _view(route).__name__
                ok = (
                    200 <= status < 300
                    or (300 <= status < 400 and not refused_to_login(response))
                    or status in INPUT_REFUSALS
                    or status == 405
                    or (status == 403 and admin_refuses_to_all(route, method))
                    or (status == 404 and name in ADMIN_NOT_FOUND_BY_DESIGN)
                    or (status == 403 and name in ADMIN_REFUSES_EMPTY_INPUT)
                    or token_refusal(study, persona, route, method, auth, status)
                )
            if not ok:
                problems.append(where)
        if persona != "anonymous" and rightful and not offered:
            problems.append(f"{persona}: no method of {route.template} answers the right role")
        if rightful and route.is_api and in_schema(route) and persona != "anonymous" and auth == "session":
            schema = schema or schema_methods(_client(study, "diego"))
            listed = schema.get(as_schema_path(route), set())
            if offered != listed:
                problems.append(
                    f"{route.template}: answers {sorted(offered)}, the schema lists {sorted(listed)}"
                )
    print(f"{persona}: {covered} route x method requests")
    assert not problems, "\n".join(problems)


def _view(route: Route):
    from django.urls import resolve

    return resolve(route.path).func


def _client(study: Study, persona: str) -> Client:
    client = Client()
    client.force_login(study.user(persona))
    return client


def test_a_reader_never_opens_another_readers_assignment_by_its_id(study):
    """bruno reads the same batch as ana, so his role fits; her assignment ids are still 404 to him."""
    bruno = study.user("bruno")
    theirs = [  # routes a reader may use (a coordinator's route with an assignment id refuses him by role)
        r
        for r in ROUTES
        if not r.path.startswith("/admin/")
        and "assignment" in {id_kind(r, p) for p in r.params}
        and may_use(bruno, declared_roles(r))
    ]
    assert len(theirs) >= 5  # the reader page and the reading API
    for route in theirs:
        for method in API_METHODS if route.is_api else PAGE_METHODS:
            response = ask(study, "bruno", route, method, study.values_for("ana", route))
            assert response.status_code in (404, 405), (method, route.template, response.status_code)


# --- Nobody raises their own privileges ---------------------------------------------------------------
def groups_of(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def test_a_coordinator_cannot_change_their_own_groups_or_flags_in_the_admin(study):
    diego = study.user("diego")
    adjudicator = Group.objects.get_or_create(name=Role.ADJUDICATOR)[0]
    response = _client(study, "diego").post(
        f"/admin/auth/user/{diego.pk}/change/",
        {
            "username": "diego",
            "groups": [adjudicator.pk],
            "is_superuser": "on",
            "is_staff": "on",
            "is_active": "on",
        },
    )
    assert response.status_code in (200, 302)
    diego.refresh_from_db()
    assert groups_of(diego) == {"coordinator"}
    assert not diego.is_superuser


def test_a_coordinator_cannot_edit_a_role_group_in_the_admin(study):
    group = Group.objects.get(name=Role.COORDINATOR)
    response = _client(study, "diego").post(f"/admin/auth/group/{group.pk}/change/", {"name": "everyone"})
    assert response.status_code == 403
    assert Group.objects.filter(name=Role.COORDINATOR).exists()


@pytest.mark.parametrize("persona", ["ana", "carla", "eve"])
def test_nobody_but_a_coordinator_reaches_a_role_changing_page(study, persona):
    user = study.user(persona)
    coordinator = Group.objects.get(name=Role.COORDINATOR)
    client = _client(study, persona)
    for url in (
        f"/admin/auth/user/{user.pk}/change/",
        "/admin/auth/user/add/",
        f"/admin/auth/group/{coordinator.pk}/change/",
    ):
        response = client.post(url, {"username": persona, "groups": [coordinator.pk], "is_superuser": "on"})
        assert to_login(response), url
    user.refresh_from_db()
    assert Role.COORDINATOR not in user_roles(user) and not user.is_superuser


def test_the_role_service_refuses_a_change_to_ones_own_roles(study):
    diego = study.user("diego")
    with pytest.raises(PermissionError, match="own roles"):
        user_set_roles(user=diego, roles={Role.COORDINATOR, Role.ADJUDICATOR}, actor=diego)
    assert groups_of(diego) == {"coordinator"}


def test_the_role_service_refuses_a_reader_changing_anyones_roles(study):
    ana, bruno = study.user("ana"), study.user("bruno")
    for target in (ana, bruno):
        with pytest.raises(PermissionError, match="only coordinators"):
            user_set_roles(user=target, roles={Role.COORDINATOR}, actor=ana)
    assert groups_of(ana) == groups_of(bruno) == {"reader"}


# --- Query parameters never reach the ORM as lookups --------------------------------------------------
# Parameters a route reads and refuses (400) when their value is not one it can take: ignored, the
# next-exam routes' batch went on with the next exam of any batch.
REFUSED_BY_VALUE = {("/api/v1/reading/next/", "batch"), ("/read/next/", "batch")}
# Routes that refuse (400) any parameter they do not take: a script's misspelt filter on the exams API
# listed every exam, as if filtered.
REFUSED_UNLESS_TAKEN = {"/api/v1/exams/"}
HOSTILE_QUERIES = [
    "ordering=reader__password",
    "ordering=-dataset__name",
    "dataset__name__regex=.%2A",
    "external_id__startswith=E",
    "reader__password__startswith=md5",
    "o=0",
    "batch=1%20OR%201=1",
    "batch=99999999999999999999999",
    "page=-1",
    "page=99999999999999999999999",
    "table=../../etc/passwd",
    "prefetch=1'",
]


def test_the_exam_list_page_ignores_and_its_api_refuses_any_parameter_it_does_not_take(study):
    client = _client(study, "diego")
    plain = [row["id"] for row in client.get("/api/v1/exams/").json()["results"]]
    page = [exam.pk for exam in client.get("/exams/").context["page"].object_list]
    assert len(plain) == Exam.objects.count() == len(page)
    for query in HOSTILE_QUERIES:
        if query.startswith("page="):
            continue  # the paginator's own parameter: refused (404) or clamped, covered below
        refused = client.get(f"/api/v1/exams/?{query}")
        assert refused.status_code == 400 and query.partition("=")[0] in refused.json()["detail"], query
        assert [exam.pk for exam in client.get(f"/exams/?{query}").context["page"].object_list] == page


def test_a_dataset_filter_compares_the_name_exactly_never_as_a_pattern(study):
    client = _client(study, "diego")
    # The study's five exams and the earlier exams of E005 and of the adjudicator's case (tests/access.py
    # gives the priors routes one each).
    assert client.get("/api/v1/exams/?dataset=export-study").json()["count"] == 7
    for pattern in (".*", "export%", "export-stud"):
        assert client.get(f"/api/v1/exams/?dataset={pattern}").json()["count"] == 0, pattern
    # One name in any case, as imports file a dataset.
    assert client.get("/api/v1/exams/?dataset=EXPORT-STUDY").json()["count"] == 7


@pytest.mark.parametrize("persona", ["ana", "carla", "diego"])
def test_hostile_query_strings_on_every_route_are_never_a_server_error(study, persona):
    """Every GET route the persona may use, with every hostile query string: what the view reads is a
    declared parameter checked by value; anything else is ignored, or refused as bad input where a route
    says so. No 5xx, no new refusal of access."""
    for route in ROUTES:
        roles = declared_roles(route)
        if roles is None or not may_use(study.user(persona), roles):
            continue
        values = study.values_for(persona if persona in study.ids else study.owner(roles), route)
        plain = ask(study, persona, route, "get", values).status_code
        for query in HOSTILE_QUERIES:
            filled = Route(path=route.path, name=route.name, template=route.template + "?" + query)
            status = ask(study, persona, filled, "get", values).status_code
            assert status < 500, (route.template, query, status)
            # The admin's changelists answer an unknown lookup with a redirect to ?e=1 (tested below).
            admin = route.path.startswith("/admin/")
            refused = route.template in REFUSED_UNLESS_TAKEN and not query.startswith("page=")
            if refused or (route.template, query.partition("=")[0]) in REFUSED_BY_VALUE:
                assert status == 400, (route.template, query, status)
            elif not admin and not query.startswith("page="):
                assert status == plain, (route.template, query, status, plain)


def test_the_admin_refuses_lookups_through_a_users_password(study):
    """The admin's changelists take field lookups from the query string; Django allows only those its
    list_filter declares, and never one through a password. A coordinator cannot guess hashes with them."""
    client = _client(study, "diego")
    probes = ["/admin/auth/user/?password__startswith=md5"]
    for model in coordinator_admin._registry:
        for field in model._meta.get_fields():
            if getattr(field, "many_to_one", False) and field.related_model is User:
                probes.append(
                    f"/admin/{model._meta.app_label}/{model._meta.model_name}/?{field.name}__password__startswith=m"
                )
    assert len(probes) > 2
    for url in probes:
        response = client.get(url)
        assert response.status_code == 400 or "e=1" in response.get("Location", ""), (
            url,
            response.status_code,
        )


# --- Across batches: one person, reader and adjudicator ---------------------------------------------------
def _reader_adjudicator(study: Study) -> User:
    from tests.factories import UserFactory

    dave = UserFactory(username="dave", roles=[Role.READER, Role.ADJUDICATOR])
    study.users["dave"] = dave
    return dave


def _routes_with(*kinds: str) -> list[Route]:
    """Routes whose ids are exactly these kinds (the reader's own routes take an assignment and nothing
    else; a coordinator's route about an assignment of a batch takes both)."""
    return [
        r
        for r in ROUTES
        if not r.path.startswith("/admin/") and {id_kind(r, p) for p in r.params} == set(kinds)
    ]


def test_no_adjudication_route_opens_an_exam_the_adjudicator_reads_in_another_batch(study, tnmg):
    """dave adjudicates, and reads the disputed exam in a second batch: every route that takes the case's
    batch and exam answers 404 to every method, and the queue does not list it."""

    dave = _reader_adjudicator(study)
    case = study.ids["carla"]
    exam = Exam.objects.get(pk=case["exam"])
    batch_for(tnmg, study.user("diego"), [dave], [exam], name="Same exam again")
    routes = _routes_with("batch", "exam")
    assert len(routes) >= 3  # the case page, the case API and the adjudicator's waveform
    for route in routes:
        for method in API_METHODS if route.is_api else PAGE_METHODS:
            response = ask(study, "dave", route, method, {"batch_id": case["batch"], "exam_id": exam.pk})
            assert response.status_code in (404, 405), (method, route.template, response.status_code)
    queue = _client(study, "dave").get("/api/v1/adjudication/").json()
    assert exam.pk not in {row["exam_id"] for row in queue}
    # The same routes do open it for carla, who reads nothing: the 404 is about dave's read, not the case.
    assert (
        ask(study, "carla", routes[0], "get", {"batch_id": case["batch"], "exam_id": exam.pk}).status_code
        == 200
    )


def test_no_reading_route_hands_an_adjudicator_an_exam_whose_dispute_he_opened(study, tnmg):
    """dave opens a case, then is added to a batch holding that exam and handed its reader's queue: no
    assignment of that exam becomes his, so every reading route of every assignment of it is 404 to him."""
    from annotations.models import Assignment
    from annotations.services.batches.queues import batch_add_readers, batch_reassign

    dave = _reader_adjudicator(study)
    case = study.ids["carla"]
    diego = study.user("diego")
    assert (
        _client(study, "dave").get(f"/api/v1/adjudication/{case['batch']}/{case['exam']}/").status_code == 200
    )
    exam = Exam.objects.get(pk=case["exam"])
    others = [e for e in Exam.objects.exclude(pk=exam.pk)[:3]]
    ana = study.user("ana")
    # ana read the study's exams: she may read them again here only with a reason given.
    later = batch_for(tnmg, diego, [ana], [exam, *others], name="Later", again=True)
    batch_add_readers(batch=later, readers=[dave], actor=diego)
    batch_reassign(batch=later, from_reader=ana, to_reader=dave, actor=diego)
    assert Assignment.objects.filter(batch=later, reader=dave).exists()  # he was handed the others
    assert not Assignment.objects.filter(reader=dave, exam=exam).exists()
    routes = _routes_with("assignment")
    for assignment in Assignment.objects.filter(exam=exam):
        for route in routes:
            for method in API_METHODS if route.is_api else PAGE_METHODS:
                response = ask(study, "dave", route, method, {p: assignment.pk for p in route.params})
                assert response.status_code in (404, 405), (method, route.template, response.status_code)
