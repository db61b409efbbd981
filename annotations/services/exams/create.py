"""Creating exams from signals: quantise, store the blob, write the row, audit, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from django.db import transaction

from annotations.lib.ecg import waveform
from annotations.lib.reference_codes import reference_codes_text
from annotations.models import Dataset, Exam, ReferenceLabel
from annotations.services.audit import audit_record
from annotations.services.exams.quality import quality_fields
from annotations.services.exams.waveforms import waveform_delete, waveform_store

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@dataclass
class ExamInput:
    external_id: str
    signals_mv: np.ndarray  # float (signals, samples), standard leads first
    sampling_rate: float
    lead_names: list[str]
    age: int | None = None
    sex: str = Exam.Sex.UNKNOWN
    patient_pseudo_id: str = ""
    acquired_at: datetime | None = None
    source_format: str = "synthetic"
    source_record: str = ""
    identifiers: dict[str, Any] = field(default_factory=dict)
    # (code_system, code) or (code_system, code, likelihood), as an importer reads them from the record.
    reference_labels: list[tuple[Any, ...]] = field(default_factory=list)


def dataset_get_or_create(
    *, name: str, actor: User | None = None, title: str = "", licence: str = ""
) -> Dataset:
    """The dataset called `name` in any case ("Demo" is "demo": the database holds one name per
    spelling, dataset_name_any_case_unique), created under this spelling when there is none."""
    with transaction.atomic():
        dataset, created = Dataset.objects.get_or_create(
            name__iexact=name, defaults={"name": name, "title": title or name, "licence": licence}
        )
        if created:
            audit_record(actor=actor, action="dataset.create", target=dataset, after={"name": name})
    return dataset


def exam_create(*, dataset: Dataset, data: ExamInput, actor: User | None = None) -> Exam:
    """Store one exam with its reference labels (rows, and the codes its row keeps for the designer).
    Its blob is removed again if the rows cannot be written."""
    quantized = waveform.quantize_mv(data.signals_mv)
    key, sha, new_blob = waveform_store(quantized.samples)
    try:
        with transaction.atomic():
            exam = Exam.objects.create(
                dataset=dataset,
                external_id=data.external_id,
                patient_pseudo_id=data.patient_pseudo_id,
                age=data.age,
                sex=data.sex,
                acquired_at=data.acquired_at,
                sampling_rate=data.sampling_rate,
                n_samples=quantized.samples.shape[1],
                lead_names=list(data.lead_names),
                gain_uv=quantized.gain_uv,
                waveform_key=key,
                waveform_sha256=sha,
                source_format=data.source_format,
                source_record=data.source_record,
                identifiers=data.identifiers,
                reference_codes=reference_codes_text((label[0], label[1]) for label in data.reference_labels),
                **quality_fields(quantized.samples, quantized.gain_uv, data.sampling_rate),
            )
            _labels_insert(exam, data)
            audit_record(
                actor=actor,
                action="exam.create",
                target=exam,
                after={
                    "dataset": dataset.name,
                    "external_id": data.external_id,
                    "waveform_sha256": sha,
                    **_labels_audited(data.reference_labels),
                },
            )
    except Exception:
        if new_blob and not Exam.objects.filter(waveform_sha256=sha).exists():
            waveform_delete(key)
        raise
    return exam


def _labels_insert(exam: Exam, data: ExamInput) -> None:
    ReferenceLabel.objects.bulk_create(
        ReferenceLabel(
            exam=exam,
            code_system=label[0],
            code=label[1],
            likelihood=label[2] if len(label) > 2 else None,
            source=data.source_format,
        )
        for label in data.reference_labels
    )


def _labels_audited(labels: list[tuple[Any, ...]]) -> dict[str, Any]:
    return {"reference_labels": [f"{label[0]}:{label[1]}" for label in labels]} if labels else {}
