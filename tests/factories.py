"""Factories for the test suite: real rows written through the real models, and builders of the states
tests start from (a batch, a batch with reads, a disputed exam, an adjudicated one, a release), each
written through the services a person's requests go through."""

from __future__ import annotations

from collections.abc import Sequence

import factory
import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from annotations import models
from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.ecg.synthetic import synthetic_ecg
from annotations.services.adjudication import Decision, adjudication_decide
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.batches.lifecycle import batch_create
from annotations.services.exams.create import ExamInput, exam_create
from annotations.services.reading import LabelInput, annotation_save_draft, annotation_submit
from annotations.services.releases.builds import release_build, release_create

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


# The reason a batch records when its readers may be handed exams they read elsewhere (independence off).
AGAIN = "the same exams again, on purpose"


def batch_for(
    taxonomy,
    actor,
    readers,
    exams: int | Sequence[models.Exam] = 1,
    *,
    name: str = "Batch",
    readers_per_exam: int | None = None,
    again: bool = False,
    **options,
) -> models.ReviewBatch:
    """A started batch of `taxonomy` that `actor` designed: `exams` new synthetic exams (each its own
    waveform) or the exams given, each read by `readers_per_exam` of `readers` (all of them unless told).
    `again`: the readers may be handed exams they read in another batch (independence off, with its
    reason). Other options go to batch_create."""
    if isinstance(exams, int):
        # Seeds not taken yet in this test: two synthetic exams of one seed are one waveform, which the
        # blinding treats as copies of each other.
        first = models.Exam.objects.count()
        exams = [make_exam(seed=first + i) for i in range(exams)]
    if again:
        options = {"exclude_seen": False, "independence_off_reason": AGAIN, **options}
    return batch_create(
        name=name,
        taxonomy=taxonomy,
        exams=list(exams),
        readers=readers,
        readers_per_exam=readers_per_exam or len(readers),
        actor=actor,
        **options,
    )


def exams_of(batch) -> list[models.Exam]:
    """The batch's exams in the order they were given to it."""
    return [
        row.exam for row in models.BatchExam.objects.filter(batch=batch).select_related("exam").order_by("pk")
    ]


def read(reader, batch, exam, codes, read_round: int = 1) -> None:
    """`reader` submits `codes` on their assignment of `exam` in `batch` (its retest: read_round 2), after
    a draft, as the page does."""
    assignment = models.Assignment.objects.get(batch=batch, exam=exam, reader=reader, read_round=read_round)
    draft = annotation_save_draft(actor=reader, assignment=assignment, labels=[], revision=0)
    annotation_submit(
        actor=reader, assignment=assignment, labels=[LabelInput(c) for c in codes], revision=draft.revision
    )


def batch_with_reads(
    *, taxonomy, actor, readers, reads: Sequence[Sequence[Sequence[str]]], compute: bool = True, **options
) -> models.ReviewBatch:
    """A batch of len(reads) new exams, every reader reading each: reads[i][j] are the codes reader j
    submits on exam i. Its agreement computed (the consensus and disputes written) unless `compute` is
    false."""
    batch = batch_for(taxonomy, actor, readers, len(reads), **options)
    for exam, codes in zip(exams_of(batch), reads, strict=True):
        for reader, marked in zip(readers, codes, strict=True):
            read(reader, batch, exam, marked)
    if compute:
        batch_agreement_compute(batch.pk)
    return batch


def disputed_exam(
    *, taxonomy, actor, readers, agreed: Sequence[str] = ("SB",), disputed: str = "1dAVb", name="Disputes"
) -> tuple[models.ReviewBatch, models.Exam]:
    """One exam two readers agree on `agreed` and tie on `disputed` (the first marks it): an open dispute."""
    one, two = readers
    batch = batch_with_reads(
        taxonomy=taxonomy,
        actor=actor,
        readers=[one, two],
        reads=[[[*agreed, disputed], list(agreed)]],
        name=name,
    )
    return batch, exams_of(batch)[0]


def adjudicated_exam(
    *, taxonomy, actor, readers, adjudicator, present: bool = True, disputed: str = "1dAVb", **options
) -> tuple[models.ReviewBatch, models.Exam]:
    """A disputed exam (disputed_exam) whose dispute `adjudicator` settled: `disputed` present or not."""
    batch, exam = disputed_exam(taxonomy=taxonomy, actor=actor, readers=readers, disputed=disputed, **options)
    adjudication_decide(
        actor=adjudicator, batch=batch, exam_id=exam.pk, decisions=[Decision(disputed, present)], version=0
    )
    return batch, exam


def release_of(*, actor, batches, hdf5: bool = False, **options) -> models.Release:
    """A release of `batches`, built here and now (no worker), without the HDF5 file unless asked."""
    release = release_build(release_create(actor=actor, batches=batches, hdf5=hdf5, **options).pk)
    assert release is not None
    return release
