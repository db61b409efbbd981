"""The coordinators' release pages: ask for a release, watch it build, download its checksummed files."""

from __future__ import annotations

from django import forms
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext_lazy as _

from annotations.forms import model_choice_field
from annotations.models import Release
from annotations.roles import Role
from annotations.selectors.releases.builds import (
    exportable_batches,
    release_card_text,
    release_get,
    release_insufficient,
    release_list,
    release_not_read,
    release_progress,
    release_pseudonym_key,
    release_undecided,
)
from annotations.selectors.releases.plan import ExportRefused
from annotations.services.releases.builds import (
    release_create,
    release_file_open,
    release_zip_name,
    release_zip_open,
)
from annotations.views.access import _client_ip, role_required


class ReleaseForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    batches: forms.ModelMultipleChoiceField = forms.ModelMultipleChoiceField(
        label=_("Batches"), queryset=None
    )
    target = forms.ChoiceField(
        label=_("Columns"),
        required=False,
        choices=[
            ("", _("The batches' own taxonomy")),
            ("code15", _("CODE-15% six classes")),
            ("ptbxl-scp", _("PTB-XL SCP statements")),
        ],
    )
    hdf5 = forms.BooleanField(label=_("Include tracings (HDF5)"), required=False, initial=True)
    native_rate = forms.BooleanField(
        label=_("Tracings at the recorded rate (instead of 400 Hz, 4096 samples)"), required=False
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        model_choice_field(self, "batches").queryset = exportable_batches(user)


@role_required(Role.COORDINATOR)
def releases(request):
    form = ReleaseForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            release = release_create(
                actor=request.user,
                batches=list(data["batches"]),
                target=data["target"],
                hdf5=data["hdf5"],
                native_rate=data["native_rate"],
                name=data["name"],
                ip_address=_client_ip(request),
            )
        except ExportRefused as error:
            form.add_error(None, str(error))
        else:
            return redirect("release-detail", release_id=release.pk)
    return render(
        request,
        "annotations/releases/list.html",
        {"form": form, "releases": release_list(request.user)[:100]},
    )


@role_required(Role.COORDINATOR)
def release_detail(request, release_id: int):
    release = release_get(request.user, release_id)
    return render(
        request,
        "annotations/releases/detail.html",
        {
            "release": release,
            "progress": release_progress(release),
            "key": release_pseudonym_key(release),
            "undecided": release_undecided(release),
            "not_read": release_not_read(release),
            "insufficient": release_insufficient(release),
            "card": release_card_text(release),
        },
    )


@role_required(Role.COORDINATOR)
def release_progress_json(request, release_id: int):
    return JsonResponse(release_progress(release_get(request.user, release_id)))


@role_required(Role.COORDINATOR)
def release_file(request, release_id: int, name: str):
    release = release_get(request.user, release_id)
    try:
        handle = release_file_open(
            actor=request.user, release=release, name=name, ip_address=_client_ip(request)
        )
    except FileNotFoundError:
        raise Http404("no such file in this release") from None
    # The file's own name, the one SHA256SUMS lists, so `sha256sum -c` finds it next to its siblings.
    return FileResponse(handle, as_attachment=True, filename=name)


def release_zip_response(user, release: Release, ip_address: str | None) -> FileResponse:
    """The finished release's zip as a download, for this page and the API alike; 404 until it is built."""
    try:
        handle = release_zip_open(actor=user, release=release, ip_address=ip_address)
    except FileNotFoundError:
        raise Http404("this release is not built") from None
    return FileResponse(
        handle, as_attachment=True, filename=release_zip_name(release), content_type="application/zip"
    )


@role_required(Role.COORDINATOR)
def release_zip(request, release_id: int):
    return release_zip_response(request.user, release_get(request.user, release_id), _client_ip(request))


urlpatterns = [
    path("releases/", releases, name="releases"),
    path("releases/<int:release_id>/", release_detail, name="release-detail"),
    path(
        "releases/<int:release_id>/progress.json",
        release_progress_json,
        name="release-progress",
    ),
    path(
        "releases/<int:release_id>/files/<str:name>",
        release_file,
        name="release-file",
    ),
    path("releases/<int:release_id>/zip", release_zip, name="release-zip"),
]
