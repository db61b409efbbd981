from rest_framework import serializers

from annotations.models import DiagnosticClass, Exam, Taxonomy


class DiagnosticClassSerializer(serializers.ModelSerializer):
    class Meta:
        model = DiagnosticClass
        fields = ["code", "name", "name_pt", "group", "kind", "maps", "synonyms", "position"]


class TaxonomySerializer(serializers.ModelSerializer):
    class_count = serializers.IntegerField(read_only=True)

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
        ]


class TaxonomyDetailSerializer(TaxonomySerializer):
    classes = DiagnosticClassSerializer(many=True, read_only=True, source="classes_in_order")

    class Meta(TaxonomySerializer.Meta):
        fields = [*TaxonomySerializer.Meta.fields, "provenance", "classes"]


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())


class WorklistEntrySerializer(serializers.Serializer):
    batch_id = serializers.IntegerField()
    batch_name = serializers.CharField()
    due_date = serializers.DateField(allow_null=True)
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    drafts = serializers.IntegerField()
    skipped = serializers.IntegerField()
    remaining = serializers.IntegerField()


class ExamSerializer(serializers.ModelSerializer):
    dataset = serializers.CharField(source="dataset.name")

    class Meta:
        model = Exam
        fields = [
            "id",
            "dataset",
            "external_id",
            "age",
            "sex",
            "sampling_rate",
            "n_samples",
            "source_format",
            "imported_at",
        ]
