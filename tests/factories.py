"""Factories for the test suite: real rows written through the real models."""

from __future__ import annotations

import factory
import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from annotations import models
from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.ecg.synthetic import synthetic_ecg
from annotations.services.exams.create import ExamInput, exam_create

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.set([Group.objects.get_or_create(name=str(role))[0] for role in extracted])
            self.is_staff = "coordinator" in {str(r) for r in extracted}
        if create:
            self.save()


class TaxonomyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Taxonomy

    key = factory.Sequence(lambda n: f"tax{n}")
    version = "1"
    name = factory.LazyAttribute(lambda o: f"Taxonomy {o.key}")
    groups = ["rhythm", "quality"]
    content_sha256 = factory.Sequence(lambda n: f"{n:064x}")


class DiagnosticClassFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.DiagnosticClass

    taxonomy = factory.SubFactory(TaxonomyFactory)
    code = factory.Sequence(lambda n: f"C{n}")
    name = factory.LazyAttribute(lambda o: f"Statement {o.code}")
    group = "rhythm"
    position = factory.Sequence(lambda n: n)


class DatasetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Dataset
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"dataset-{n}")


def make_exam(
    dataset=None, external_id: str | None = None, *, heart_rate: float = 72.0, seed: int = 0, **fields
) -> models.Exam:
    """A synthetic exam written through the exam service, blob and all."""
    dataset = dataset or DatasetFactory()
    signals, _ = synthetic_ecg(heart_rate_bpm=heart_rate, seed=seed)
    external_id = (
        external_id or f"exam-{models.Exam.objects.count() + 1}-{np.random.default_rng().integers(1e9)}"
    )
    return exam_create(
        dataset=dataset,
        data=ExamInput(
            external_id=external_id,
            signals_mv=signals,
            sampling_rate=500.0,
            lead_names=list(STANDARD_LEADS),
            **fields,
        ),
    )


class ExamFactory(factory.django.DjangoModelFactory):
    """A bare exam row (no blob), for tests about rows and constraints only."""

    class Meta:
        model = models.Exam

    dataset = factory.SubFactory(DatasetFactory)
    external_id = factory.Sequence(lambda n: f"row-{n}")
    sampling_rate = 500.0
    n_samples = 5000
    lead_names = list(STANDARD_LEADS)
    gain_uv = 1.0
    waveform_key = factory.Sequence(lambda n: f"none/{n}.npy")
    waveform_sha256 = factory.Sequence(lambda n: f"{n:064x}")
    source_format = "synthetic"


def add_reference_labels(exam: models.Exam, *labels: tuple) -> None:
    """Give an existing exam reference labels, (code_system, code[, likelihood]) each, as an import
    leaves them: the label rows and the codes the exam's row keeps for the batch designer."""
    from annotations.lib.reference_codes import reference_codes_text

    for label in labels:
        models.ReferenceLabel.objects.create(
            exam=exam, code_system=label[0], code=label[1], likelihood=label[2] if len(label) > 2 else None
        )
    pairs = models.ReferenceLabel.objects.filter(exam=exam).values_list("code_system", "code")
    models.Exam.objects.filter(pk=exam.pk).update(reference_codes=reference_codes_text(pairs))
    exam.refresh_from_db(fields=["reference_codes"])
