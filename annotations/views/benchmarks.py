"""Blind benchmark pages: coordinators make one of a release and close it; submitters download the
tracings, submit predictions, and read their figures beside the release's readers and a leaderboard."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from annotations.errors import ApplicationError
from annotations.models import Benchmark, BenchmarkSubmission
from annotations.roles import Role
from annotations.selectors.benchmarks import (
    benchmark_get,
    benchmark_list,
    benchmark_readers,
    benchmark_release,
    is_coordinator,
    leaderboard,
    quota_left,
    submission_get,
    submission_list,
    submission_view,
    visible_splits,
)
from annotations.services.benchmarks.create import (
    TRACINGS_NAME,
    WFDB_NAME,
    benchmark_close,
    benchmark_create,
    benchmark_tracings_open,
)
from annotations.services.benchmarks.submissions import submission_create
from annotations.views.access import _client_ip, any_role_required, role_required

METRICS = ("auroc", "auprc", "sensitivity", "specificity", "ppv", "f1")
both = any_role_required(Role.COORDINATOR, Role.SUBMITTER)


class BenchmarkForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    label_source = forms.ChoiceField(label=_("Labels"), choices=Benchmark.LabelSource.choices)
    private_fraction = forms.FloatField(
        label=_("Hidden share of the exams"), min_value=0, max_value=0.99, initial=0.5
    )
    daily_quota = forms.IntegerField(
        label=_("Submissions per submitter a day"), min_value=1, max_value=1000, initial=5
    )


class SubmissionForm(forms.Form):
    file = forms.FileField(label=_("Scores (NPY or CSV)"))
    model_name = forms.CharField(label=_("Model"), max_length=100)
    model_version = forms.CharField(label=_("Version"), max_length=60)
    thresholds = forms.CharField(
        label=_("Thresholds, one per class, commas"), required=False, max_length=4000
    )
    threshold_rule = forms.ChoiceField(
        label=_("Thresholds"),
        choices=BenchmarkSubmission.ThresholdRule.choices,
        initial="submitted",
        required=False,
    )


def parse_thresholds(text: str) -> list | None:
    """Thresholds typed as one line, commas between them; none for an empty line."""
    if not text.strip():
        return None
    return [part.strip() for part in text.split(",")]


def tracings_response(user, benchmark: Benchmark, ip: str | None, name: str = TRACINGS_NAME) -> FileResponse:
    try:
        handle = benchmark_tracings_open(actor=user, benchmark=benchmark, name=name, ip_address=ip)
    except FileNotFoundError:
        raise Http404("no such file in this benchmark") from None
    filename = f"benchmark-{benchmark.pk}-{name}"
    return FileResponse(
        handle, as_attachment=True, filename=filename, content_type="application/octet-stream"
    )


def submission_body_bytes() -> int:
    return settings.BENCHMARK_MAX_SUBMISSION_MB * 1024 * 1024 + 64 * 1024


@both
def benchmarks(request):
    return render(
        request, "annotations/benchmarks/list.html", {"benchmarks": benchmark_list(request.user)[:200]}
    )


@role_required(Role.COORDINATOR)
def benchmark_new(request, release_id: int):
    release = benchmark_release(request.user, release_id)
    form = BenchmarkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            benchmark = benchmark_create(
                actor=request.user, release=release, ip_address=_client_ip(request), **form.cleaned_data
            )
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            return redirect("benchmark-detail", benchmark.pk)
    return render(request, "annotations/benchmarks/new.html", {"form": form, "release": release})


def _rows(figures_by_who: list[tuple[str, dict]], classes: list[str]) -> list[dict]:
    """Per class (then macro, micro): one line per model or reader, its figures in METRICS order."""
    out = []
    for code in [*classes, "macro", "micro"]:
        lines = []
        for who, figures in figures_by_who:
            cells = (figures.get("figures") or {}).get(code, {})
            lines.append({"who": who, "cells": [cells.get(m) for m in METRICS]})
        out.append({"code": code, "lines": lines})
    return out


def _tables(user, benchmark, submission=None) -> list[dict]:
    readers = benchmark_readers(user, benchmark)
    tables = []
    for split in visible_splits(user, benchmark):
        who = []
        if submission is not None:
            view = submission_view(user, submission)
            if split in view["results"]:
                who.append((f"{submission.model_name} {submission.model_version}", view["results"][split]))
        for reader in readers:
            label = reader["reader"] + (f" ({reader['name']})" if reader.get("name") else "")
            who.append((label, reader.get(split, {})))
        tables.append({"split": split, "rows": _rows(who, benchmark.classes)})
    return tables


@both
def benchmark_detail(request, benchmark_id: int):
    benchmark = benchmark_get(request.user, benchmark_id)
    form = SubmissionForm()
    mine = [] if is_coordinator(request.user) else list(submission_list(request.user, benchmark)[:50])
    context = {
        "benchmark": benchmark,
        "tables": _tables(request.user, benchmark),
        "metrics": METRICS,
        "leaderboard": leaderboard(request.user, benchmark),
        "splits": visible_splits(request.user, benchmark),
        "form": form,
        "mine": mine,
        "quota_left": None if is_coordinator(request.user) else quota_left(request.user, benchmark),
    }
    return render(request, "annotations/benchmarks/detail.html", context)


@role_required(Role.SUBMITTER)
@require_POST
def benchmark_submit(request, benchmark_id: int):
    benchmark = benchmark_get(request.user, benchmark_id)
    form = SubmissionForm(request.POST, request.FILES)
    error = ""
    if form.is_valid():
        data = form.cleaned_data
        try:
            submission = submission_create(
                actor=request.user,
                benchmark=benchmark,
                data=data["file"].read(),
                file_name=data["file"].name,
                model_name=data["model_name"],
                model_version=data["model_version"],
                thresholds=parse_thresholds(data["thresholds"]),
                threshold_rule=data["threshold_rule"] or BenchmarkSubmission.ThresholdRule.SUBMITTED,
                ip_address=_client_ip(request),
            )
        except ApplicationError as refused:
            error = refused.message
        else:
            return redirect("benchmark-submission", submission.pk)
    else:
        error = " ".join(str(e) for errors in form.errors.values() for e in errors)
    return render(
        request, "annotations/benchmarks/refused.html", {"benchmark": benchmark, "error": error}, status=400
    )


benchmark_submit.max_body_bytes = submission_body_bytes


@role_required(Role.COORDINATOR)
@require_POST
def benchmark_close_page(request, benchmark_id: int):
    benchmark = benchmark_get(request.user, benchmark_id)
    try:
        benchmark_close(actor=request.user, benchmark=benchmark, ip_address=_client_ip(request))
    except ApplicationError:
        pass  # closed already: the page says so
    return redirect("benchmark-detail", benchmark.pk)


@both
def benchmark_tracings(request, benchmark_id: int):
    return tracings_response(request.user, benchmark_get(request.user, benchmark_id), _client_ip(request))


@both
def benchmark_tracings_wfdb(request, benchmark_id: int):
    benchmark = benchmark_get(request.user, benchmark_id)
    return tracings_response(request.user, benchmark, _client_ip(request), WFDB_NAME)


@both
def submission_detail(request, submission_id: int):
    submission = submission_get(request.user, submission_id)
    benchmark = submission.benchmark
    context = {
        "submission": submission,
        "benchmark": benchmark,
        "tables": _tables(request.user, benchmark, submission),
        "metrics": METRICS,
    }
    return render(request, "annotations/benchmarks/submission.html", context)


urlpatterns = [
    path("benchmarks/", benchmarks, name="benchmarks"),
    path("releases/<int:release_id>/benchmark/", benchmark_new, name="benchmark-new"),
    path("benchmarks/<int:benchmark_id>/", benchmark_detail, name="benchmark-detail"),
    path("benchmarks/<int:benchmark_id>/submit/", benchmark_submit, name="benchmark-submit"),
    path("benchmarks/<int:benchmark_id>/close/", benchmark_close_page, name="benchmark-close"),
    path("benchmarks/<int:benchmark_id>/tracings.hdf5", benchmark_tracings, name="benchmark-tracings"),
    path(
        "benchmarks/<int:benchmark_id>/tracings-wfdb.zip",
        benchmark_tracings_wfdb,
        name="benchmark-tracings-wfdb",
    ),
    path("benchmarks/submissions/<int:submission_id>/", submission_detail, name="benchmark-submission"),
]
