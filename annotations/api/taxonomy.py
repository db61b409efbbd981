"""Taxonomies over the API: the versions loaded and one version with its statements."""

from __future__ import annotations

from django.urls import path
from rest_framework import generics, serializers

from annotations.models import DiagnosticClass, Taxonomy
from annotations.selectors.taxonomy import (
    taxonomy_classes,
    taxonomy_get,
    taxonomy_list,
    taxonomy_superseded,
)


class DiagnosticClassSerializer(serializers.ModelSerializer):
    class Meta:
        model = DiagnosticClass
        fields = ["code", "name", "name_pt", "group", "kind", "maps", "synonyms", "position"]


class TaxonomySerializer(serializers.ModelSerializer):
    class_count = serializers.IntegerField(read_only=True)
    superseded_by = serializers.SerializerMethodField(
        help_text="The newest version of the same key when this one is older; null when it is the newest."
    )

    def get_superseded_by(self, taxonomy: Taxonomy) -> str | None:
        return self.context["superseded"].get(taxonomy.pk)

    class Meta:
        model = Taxonomy
        fields = [
            "id",
            "key",
            "version",
            "name",
            "language",
            "groups",
            "exclusive_sets",
            "is_default",
            "frozen_at",
            "class_count",
            "superseded_by",
        ]


class TaxonomyDetailSerializer(TaxonomySerializer):
    classes = DiagnosticClassSerializer(many=True, read_only=True, source="classes_in_order")

    class Meta(TaxonomySerializer.Meta):
        fields = [*TaxonomySerializer.Meta.fields, "provenance", "classes"]


class _SupersededContext(generics.GenericAPIView):
    def get_serializer_context(self):
        return {**super().get_serializer_context(), "superseded": taxonomy_superseded()}


class TaxonomyListView(_SupersededContext, generics.ListAPIView):
    """List the taxonomy versions loaded

    Any signed-in account. Every version, the default first, then by key and version, in pages of 100
    (`page`), each with its statement groups, exclusive sets, when a batch first froze it, how many
    statements it has, and the newer version of the same key that supersedes it, if one is loaded."""

    serializer_class = TaxonomySerializer

    def get_queryset(self):
        return taxonomy_list()


class TaxonomyDetailView(_SupersededContext, generics.RetrieveAPIView):
    """Get one taxonomy version with its statements

    Any signed-in account (404 for an unknown id). The version as listed, with its provenance and every
    statement in order: code, English and Portuguese names, group, kind (diagnostic or quality),
    cross-maps to other code systems, and synonyms."""

    serializer_class = TaxonomyDetailSerializer

    def get_object(self):
        taxonomy = taxonomy_get(self.kwargs["pk"])
        # What the detail serializer reads (classes_in_order, class_count): set here, never stored.
        classes = taxonomy_classes(taxonomy)
        taxonomy.classes_in_order = classes  # type: ignore[attr-defined]
        taxonomy.class_count = len(classes)  # type: ignore[attr-defined]
        return taxonomy


urlpatterns = [
    path("v1/taxonomies/", TaxonomyListView.as_view(), name="api-taxonomy-list"),
    path("v1/taxonomies/<int:pk>/", TaxonomyDetailView.as_view(), name="api-taxonomy-detail"),
]
