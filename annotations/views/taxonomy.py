"""Taxonomy pages: the versions loaded and each one's statements by group."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import path

from annotations.selectors.taxonomy import (
    taxonomy_classes_by_group,
    taxonomy_get,
    taxonomy_list,
    taxonomy_superseded,
)
from annotations.views.access import signed_in


@signed_in
def taxonomies(request):
    return render(
        request,
        "annotations/taxonomy/list.html",
        {"taxonomies": taxonomy_list(), "superseded": taxonomy_superseded()},
    )


@signed_in
def taxonomy_detail(request, taxonomy_id: int):
    taxonomy = taxonomy_get(taxonomy_id)
    return render(
        request,
        "annotations/taxonomy/detail.html",
        {"taxonomy": taxonomy, "groups": taxonomy_classes_by_group(taxonomy)},
    )


urlpatterns = [
    path("taxonomies/", taxonomies, name="taxonomies"),
    path("taxonomies/<int:taxonomy_id>/", taxonomy_detail, name="taxonomy-detail"),
]
