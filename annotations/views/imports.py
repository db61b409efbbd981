"""The coordinators' import page: upload files, watch the Celery task's progress, read each outcome."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext_lazy as _

from annotations.lib.csv_text import csv_line
from annotations.lib.formats.registry import FORMAT_NAMES, FORMATS
from annotations.lib.spreadsheet_csv import spreadsheet_cell
from annotations.roles import Role
from annotations.selectors.imports import import_job_get, import_job_list
from annotations.services.imports.jobs import import_job_create, import_job_progress
from annotations.services.imports.outcomes import ImportRefused
from annotations.views.access import role_required
from ecgreview.middleware import large_body, upload_body_bytes


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        # Empty files pass here to be refused by name with the rest of the upload (services.imports.jobs).
        kwargs.setdefault("allow_empty_file", True)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        return [single(item, initial) for item in data] if isinstance(data, list | tuple) else [single(data)]


class ImportForm(forms.Form):
    # A field named like BaseForm.files (the upload dict): the form's metaclass keeps it in base_fields.
    files = MultipleFileField(  # type: ignore[assignment]
        label=_("Files"),
        required=False,
        help_text=_(
            "A WFDB record needs its .hea and its signal files together; CODE HDF5 parts take their age, "
            "sex, patient and labels from the exams.csv uploaded with them."
        ),
    )
    # A browser sends a chosen folder's files without their folders; the PTB-XL reader finds each record
    # the database names beside it (lib.formats.wfdb_format.PtbXl).
    folder = MultipleFileField(
        label=_("Or a folder"),
        required=False,
        widget=MultipleFileInput(attrs={"webkitdirectory": ""}),
        help_text=_(
            "A PTB-XL folder (ptbxl_database.csv with its records) or a folder of WFDB records, up to "
            "the upload's file count; a whole PTB-XL release is imported from the server's import folder."
        ),
    )
    dataset = forms.SlugField(label=_("Dataset"), max_length=100)
    format = forms.ChoiceField(
        label=_("Format"),
        required=False,
        choices=[("", _("Detect from content"))] + [(f, FORMAT_NAMES[f]) for f in FORMATS],
    )
    skip_invalid = forms.BooleanField(label=_("Import the valid records, report the others"), required=False)
    amplitude_scale = forms.FloatField(
        label=_("Amplitude scale (CODE HDF5)"),
        initial=1.0,
        min_value=0.001,
        max_value=1000,
        help_text=_("The published CODE-15% files are about 2x too large: 0.5 corrects them."),
    )

    def clean(self) -> dict:
        data = super().clean() or {}
        data["files"] = [*(data.get("files") or []), *(data.pop("folder", None) or [])]
        if not data["files"] and not self.errors:
            raise forms.ValidationError(_("Choose files or a folder to import."))
        return data


@large_body(upload_body_bytes)
@role_required(Role.COORDINATOR)
def imports(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = import_job_create(
                coordinator=request.user,
                dataset=form.cleaned_data["dataset"],
                files=form.cleaned_data["files"],
                source_format=form.cleaned_data["format"],
                skip_invalid=form.cleaned_data["skip_invalid"],
                amplitude_scale=form.cleaned_data["amplitude_scale"],
            )
        except ImportRefused as error:
            form.add_error(None, str(error))
        else:
            return redirect("import-detail", job_id=job.pk)
    return render(
        request,
        "annotations/imports/list.html",
        {
            "form": form,
            "jobs": import_job_list(request.user),
            "max_mb": settings.IMPORT_MAX_FILE_MB,
            "max_files": settings.DATA_UPLOAD_MAX_NUMBER_FILES,
            "format_names": [FORMAT_NAMES[f] for f in FORMATS],
        },
    )


# Outcome rows a job's page (and the progress it polls) lists: a file of 20,000 copies gives 20,000
# duplicate warnings, a 6 MB page that took 12-20 s. The rest are in the job's CSV report.
OUTCOMES_SHOWN = 1000


def _outcomes_shown(job) -> tuple[list[dict], int]:
    """(the rows the page lists, how many more the report holds)."""
    return job.outcomes[:OUTCOMES_SHOWN], max(0, len(job.outcomes) - OUTCOMES_SHOWN)


@role_required(Role.COORDINATOR)
def import_detail(request, job_id: int):
    job = import_job_get(request.user, job_id)
    shown, hidden = _outcomes_shown(job)
    return render(
        request,
        "annotations/imports/detail.html",
        {"job": job, "progress": import_job_progress(job), "outcomes": shown, "outcomes_hidden": hidden},
    )


@role_required(Role.COORDINATOR)
def import_progress(request, job_id: int):
    job = import_job_get(request.user, job_id)
    data = import_job_progress(job)
    if data["finished"]:
        data["outcomes"], data["outcomes_hidden"] = _outcomes_shown(job)
    return JsonResponse(data)


REPORT_COLUMNS = ("file", "record", "outcome", "message", "exam", "same_as")


@role_required(Role.COORDINATOR)
def import_report_csv(request, job_id: int):
    """Every outcome of the job, one row each; same_as lists the earlier exams separated by spaces."""
    job = import_job_get(request.user, job_id)

    def lines():
        yield csv_line(REPORT_COLUMNS, "\r\n")
        for o in job.outcomes:
            row = [o.get("file", ""), o.get("record", ""), o.get("outcome", ""), o.get("message", ""),
                   o.get("exam") or "", " ".join(str(pk) for pk in o.get("same_as") or [])]  # fmt: skip
            # File and record names come from the files imported: no cell a spreadsheet would run.
            yield csv_line((spreadsheet_cell(value) for value in row), "\r\n")

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-report.csv"'
    return response


urlpatterns = [
    path("imports/", imports, name="imports"),
    path("imports/<int:job_id>/", import_detail, name="import-detail"),
    path("imports/<int:job_id>/progress/", import_progress, name="import-progress"),
    path("imports/<int:job_id>/report.csv", import_report_csv, name="import-report"),
]
