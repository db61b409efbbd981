"""Who may use each route, read from the declarations at the views, and a study to fill its URLs with.

The access-matrix and API-fuzz tests share this: the declared roles of a route (role_required and
signed_in on pages, the DRF permission classes' `roles` on the API, the admin site's `required_roles`),
and one labelled study built through the real services, whose ids each persona fills URLs with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import AnonymousUser
from django.urls import resolve

from annotations.models import Assignment, BenchmarkExam, Exam, ImportJob
from annotations.roles import Role, user_roles
from annotations.selectors.adjudication import adjudication_queue
from annotations.services.benchmarks.create import benchmark_create, benchmark_prepare
from annotations.services.benchmarks.submissions import submission_create
from annotations.services.exams.create import dataset_get_or_create
from annotations.services.reading import LabelInput, annotation_save_draft, annotation_submit
from annotations.services.releases.builds import release_build, release_create
from tests.exporting import labelled_study
from tests.factories import UserFactory, make_exam
from tests.midbatch import MidBatch, mid_batch
from tests.urlwalk import Route

PERSONAS = ["anonymous", "ana", "bruno", "carla", "diego", "eve", "sofia"]


class Undeclared(Exception):
    """A route whose view says nothing about who may use it."""


def declared_roles(route: Route) -> frozenset[Role] | None:
    """The roles that may use the route (any one suffices; empty: any signed-in account), or None for a
    public route (the login forms). Raises Undeclared when the view declares nothing."""
    view = resolve(route.path).func
    if hasattr(view, "cls"):  # a DRF view: every one of its permission classes must let the user in
        declared = [getattr(permission, "roles", None) for permission in view.cls.permission_classes]
        if declared and all(roles is not None for roles in declared):
            restricting = [roles for roles in declared if roles]
            return frozenset.intersection(*restricting) if restricting else frozenset()
        raise Undeclared(f"{route.template} ({view.cls.__name__}): a permission class declares no roles")
    # Django's own mark for a page served to anonymous visitors (DRF marks every API view so too, since
    # it answers for itself; those were settled above).
    if getattr(view, "login_required", True) is False:
        return None
    site = _admin_site(view)
    if site is not None and hasattr(site, "required_roles"):
        return site.required_roles
    if hasattr(view, "required_roles"):
        return view.required_roles
    raise Undeclared(f"{route.template} ({view.__module__}.{view.__name__}) declares no required roles")


def _admin_site(view):
    """The admin site behind an admin view: Django marks most wrappers, and a ModelAdmin's own extra
    views (the user password form) are its bound methods under admin_view's wrapper."""
    while view is not None:
        for owner in (view, getattr(view, "model_admin", None), getattr(view, "__self__", None)):
            site = getattr(owner, "admin_site", None)
            if site is not None:
                return site
        view = getattr(view, "__wrapped__", None)
    return None


def may_use(user, roles: frozenset[Role] | None) -> bool:
    if roles is None:
        return True
    if not getattr(user, "is_authenticated", False):
        return False
    return not roles or bool(user_roles(user) & roles)


# What the id in a URL stands for: by the parameter's name, or for a bare `pk` by the collection it
# follows (/api/v1/batches/<pk>/...). A new kind of id fails loudly until it is added here and to Study.
_BY_NAME = {
    "assignment_id": "assignment",
    "taxonomy_id": "taxonomy",
    "job_id": "import",
    "batch_id": "batch",
    "release_id": "release",
    "exam_id": "exam",
    "user_id": "user",
    "name": "file",
    "n": "prior",
    "benchmark_id": "benchmark",
    "submission_id": "submission",
    "token_id": "token",
    "webhook_id": "webhook",
}
_BY_COLLECTION = {
    "assignments": "assignment",
    "taxonomies": "taxonomy",
    "imports": "import",
    "batches": "batch",
    "releases": "release",
    "tokens": "token",
    "webhooks": "webhook",
}


def id_kind(route: Route, param: str) -> str:
    if param in _BY_NAME:
        return _BY_NAME[param]
    if param == "pk":
        before = re.split(rf"<\w+:{param}>", route.template)[0].rstrip("/").rsplit("/", 1)[-1]
        if before in _BY_COLLECTION:
            return _BY_COLLECTION[before]
    raise KeyError(f"{route.template}: no real object known for <{param}>")


@dataclass
class Study:
    """One labelled study (tests/exporting.py) with a release and an import job, and for each persona the
    ids of the objects that are theirs: their own assignment, the case they adjudicate, the coordinator's
    batch, release and import."""

    users: dict[str, object]
    ids: dict[str, dict[str, object]] = field(default_factory=dict)

    def user(self, persona: str):
        return self.users.get(persona, AnonymousUser())

    def owner(self, roles: frozenset[Role] | None) -> str:
        """The persona whose objects a route is about: the first of ours holding a declared role."""
        for persona in ("ana", "carla", "diego", "sofia"):
            if roles and user_roles(self.users[persona]) & roles:
                return persona
        return "diego"

    def values_for(self, persona: str, route: Route) -> dict[str, object]:
        ids = self.ids.get(persona) or self.ids["diego"]
        if route.path.startswith("/admin/"):
            return _admin_values(route)
        return {param: ids[id_kind(route, param)] for param in route.params}


def _admin_values(route: Route) -> dict[str, object]:
    """An admin object page gets the first row of its model (the coordinator sees every row)."""
    from django.contrib.contenttypes.models import ContentType

    from annotations.admin import coordinator_admin

    model = next(
        (
            m
            for m in coordinator_admin._registry
            if (route.name or "").startswith(f"{m._meta.app_label}_{m._meta.model_name}_")
        ),
        Assignment,
    )
    row = model.objects.order_by("pk").first()
    values = {
        "object_id": row.pk,
        "id": row.pk,
        "content_type_id": ContentType.objects.get_for_model(model).pk,
    }
    return {param: values[param] for param in route.params}


def _serial_history(study, case_exam_id: int) -> int:
    """Serial comparison on, and one earlier exam of E005's patient and of the adjudicator's case: the
    priors routes have a real prior (number 1) for the reader who holds E005 and for the adjudicator."""
    return _with_priors(study.batch, [study.exams["E005"], Exam.objects.get(pk=case_exam_id)])


def _with_priors(batch, exams) -> int:
    """Each exam gets a patient and an earlier exam of theirs, and the batch shows priors: prior 1."""
    for exam in exams:
        patient = f"P-{exam.pk}"
        exam.patient_pseudo_id, exam.acquired_at = patient, datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
        exam.save(update_fields=["patient_pseudo_id", "acquired_at"])
        make_exam(exam.dataset, patient_pseudo_id=patient, acquired_at=exam.acquired_at - timedelta(days=365))
    batch.design = {**batch.design, "serial_comparison": True}
    batch.save(update_fields=["design"])
    return 1


def build_study(tnmg, *, mid_batch_ids: bool = False) -> Study:
    """With `mid_batch_ids`, the readers' and the coordinator's ids are those of tests/midbatch.py's
    running batch instead: ana's assignment the open extra read an escalation gave her, bruno's the read
    handed on to him from a reader who left, and the batch routes act on that batch."""
    users = {
        "ana": UserFactory(username="ana", roles=[Role.READER]),
        "bruno": UserFactory(username="bruno", roles=[Role.READER]),
        "carol": UserFactory(username="carol", roles=[Role.READER]),
        "carla": UserFactory(username="carla", roles=[Role.ADJUDICATOR]),
        "diego": UserFactory(username="diego", roles=[Role.COORDINATOR]),
        "eve": UserFactory(username="eve", roles=[]),
        "sofia": UserFactory(username="sofia", roles=[Role.SUBMITTER]),
    }
    study = labelled_study(
        readers=[users["ana"], users["bruno"], users["carol"]],
        coordinator=users["diego"],
        adjudicator=users["carla"],
        taxonomy=tnmg,
    )
    release = release_build(release_create(actor=users["diego"], batches=[study.batch], hdf5=False).pk)
    benchmark, submission = _benchmark(release, users)
    job = ImportJob.objects.create(coordinator=users["diego"], dataset_name="incoming", paths=["a.hea"])
    case = adjudication_queue(users["carla"])[0]
    # The account the People page's routes act on: nobody's persona, so deactivating it spoils nothing.
    target = UserFactory(username="fabio", roles=[Role.READER])
    common = {
        "taxonomy": tnmg.pk,
        "file": "consensus.csv",
        "batch": study.batch.pk,
        "user": target.pk,
        "prior": _serial_history(study, case.exam_id),
    }

    def unread(reader) -> int:
        # E005: nobody has read it yet, so it is still open for drafts, submits and skips.
        return Assignment.objects.get(batch=study.batch, reader=reader, exam=study.exams["E005"]).pk

    result = Study(users=users)
    common["token"] = _token(target, target).pk  # the People page's revoke acts on fabio's token
    common["webhook"] = _webhook(users["diego"]).pk
    own = {persona: unread(users[persona]) for persona in ("ana", "bruno")}
    if mid_batch_ids:
        running = _mid_batch(users, tnmg)
        common["batch"] = running.batch.pk
        _with_priors(running.batch, [running.escalated.exam, running.handed_on.exam])
        own = {"ana": running.escalated.pk, "bruno": running.handed_on.pk}
    for persona in ("ana", "bruno"):
        result.ids[persona] = {**common, "assignment": own[persona]}
    common.update(benchmark=benchmark.pk, submission=submission.pk)
    result.ids["carla"] = {**common, "batch": case.batch_id, "exam": case.exam_id}
    result.ids["sofia"] = dict(common)
    # eve holds no role but may manage her own tokens: her ids are the study's, with her own token.
    result.ids["eve"] = dict(common)
    for persona in ("ana", "bruno", "carla", "sofia", "eve"):
        result.ids[persona]["token"] = _token(users[persona], users[persona]).pk
    result.ids["diego"] = {
        **common,
        "release": release.pk,
        "import": job.pk,
        "exam": study.exams["E001"].pk,
        "assignment": own["ana"],
    }
    return result


def _token(user, actor):
    from annotations.services.credentials.tokens import api_token_create

    return api_token_create(actor=actor, user=user, name="matrix", scope="read_only").token


def _webhook(owner):
    """diego's subscription; its address is never called (no event of the walk reaches it)."""
    from annotations.lib.sealing import seal
    from annotations.models import WebhookSubscription
    from annotations.services.webhooks.sealing import sealing_keys

    return WebhookSubscription.objects.create(
        owner=owner,
        url="https://hooks.example.org/ecg",
        events=["import.failed"],
        secret_sealed=seal("whsec_matrix", sealing_keys()),
    )


def _benchmark(release, users: dict):
    """A benchmark of the study's release, prepared as its task would, and one submission of sofia's (all
    zeros, at 0.5)."""
    made = benchmark_create(
        actor=users["diego"], release=release, name="study", label_source="consensus_adjudication"
    )
    benchmark = benchmark_prepare(made.pk)
    header = "exam_id," + ",".join(benchmark.classes)
    keys = BenchmarkExam.objects.filter(benchmark=benchmark).values_list("exam_key", flat=True)
    lines = [header, *(key + ",0" * len(benchmark.classes) for key in keys)]
    submission = submission_create(
        actor=users["sofia"],
        benchmark=benchmark,
        data="\n".join(lines).encode(),
        file_name="zeros.csv",
        model_name="zeros",
        model_version="1",
        thresholds=[0.5] * len(benchmark.classes),
    )
    return benchmark, submission


def _mid_batch(users: dict, tnmg) -> MidBatch:
    def submit(user, assignment: Assignment, codes: list[str]) -> None:
        annotation_submit(
            actor=user, assignment=assignment, labels=[LabelInput(c) for c in codes], revision=0
        )

    def draft(user, assignment: Assignment, codes: list[str]) -> None:
        annotation_save_draft(
            actor=user, assignment=assignment, labels=[LabelInput(c) for c in codes], revision=0
        )

    return mid_batch(
        ana=users["ana"],
        bruno=users["bruno"],
        diego=users["diego"],
        taxonomy=tnmg,
        dataset=dataset_get_or_create(name="mid-batch"),
        codes={"bruno": ["ST"], "fern": ["AFL"], "fern_draft": ["VPB"]},
        submit=submit,
        draft=draft,
    )
