"""Demo data for a first look: one user per role, the shipped taxonomies, a few exams, one batch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.ecg.synthetic import synthetic_ecg
from annotations.models import Dataset, Exam, Taxonomy
from annotations.roles import Role
from annotations.services.batches.lifecycle import batch_create
from annotations.services.exams.create import ExamInput, dataset_get_or_create, exam_create
from annotations.services.imports.exams import exams_import
from annotations.services.taxonomy import taxonomy_load_shipped
from annotations.services.users import user_create

DEMO_DATASET = "demo"


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    roles: frozenset[Role]
    first_name: str


DEMO_USERS = (
    DemoUser("ana", "ana-reads-ecgs", frozenset({Role.READER}), "Ana"),
    DemoUser("bruno", "bruno-reads-ecgs", frozenset({Role.READER}), "Bruno"),
    DemoUser("carla", "carla-adjudicates", frozenset({Role.ADJUDICATOR}), "Carla"),
    DemoUser("diego", "diego-coordinates", frozenset({Role.COORDINATOR}), "Diego"),
)

# Real public recordings (see annotations/demo_data/README.md), imported through the import service.
DEMO_DATA = Path(__file__).resolve().parent.parent / "demo_data"
# Two synthetic exams with known timing: rate in bpm, RR jitter (irregularity), age, sex, the patient and
# when it was recorded.
DEMO_EXAMS = (
    ("demo-0001", 72, 0.0, 56, "F", "demo-patient-1", datetime(2026, 3, 12, 9, 40, tzinfo=UTC)),
    ("demo-0004", 95, 0.18, 77, "M", "demo-patient-2", datetime(2026, 3, 12, 10, 15, tzinfo=UTC)),
)
# An earlier ECG of demo-0004's patient, in regular rhythm, kept out of the batch: the demo batch shows
# earlier ECGs beside the one being read (serial comparison), so a first look meets that tool too.
DEMO_EARLIER = (
    "demo-0004-earlier",
    68,
    0.0,
    75,
    "M",
    "demo-patient-2",
    datetime(2024, 9, 2, 8, 5, tzinfo=UTC),
)


def _demo_records(dataset: Dataset) -> None:
    """Import the shipped real recordings; the demo must never start half-made."""
    report = exams_import([DEMO_DATA], dataset=dataset.name)
    if report.files_failed:
        raise RuntimeError(
            "demo recordings failed to import: " + "; ".join(f.error for f in report.files if not f.ok)
        )


def demo_seed() -> list[DemoUser] | None:
    """Create the demo once; return the users created, or None if the demo was already there."""
    if Dataset.objects.filter(name=DEMO_DATASET).exists():
        return None
    User = get_user_model()
    with transaction.atomic():
        taxonomy_load_shipped()
        users = {
            demo.username: User.objects.filter(username=demo.username).first()
            or user_create(
                username=demo.username,
                password=demo.password,
                roles=set(demo.roles),
                first_name=demo.first_name,
            )
            for demo in DEMO_USERS
        }
        dataset = dataset_get_or_create(
            name=DEMO_DATASET,
            title="Demo exams: public recordings and two synthetic ones",
            licence="CC BY 4.0 (PhysioNet), CC0 (aECG example), MIT (pydicom), CC0 (synthetic)",
        )
        _demo_records(dataset)
        exams = list(Exam.objects.filter(dataset=dataset))
        exams += [_synthetic_exam(dataset, index, *exam) for index, exam in enumerate(DEMO_EXAMS)]
        _synthetic_exam(dataset, len(DEMO_EXAMS), *DEMO_EARLIER)
        batch_create(
            name="Demo batch",
            taxonomy=Taxonomy.objects.get(is_default=True),
            exams=exams,
            readers=[users["ana"], users["bruno"]],
            readers_per_exam=2,
            actor=users["diego"],
            seed=2026,
            serial_comparison=True,
        )
    return list(DEMO_USERS)


def _synthetic_exam(
    dataset: Dataset,
    seed: int,
    external_id: str,
    rate: float,
    jitter: float,
    age: int,
    sex: str,
    patient: str,
    acquired_at: datetime,
) -> Exam:
    signals, _ = synthetic_ecg(heart_rate_bpm=rate, rr_jitter=jitter, noise_uv=15, seed=seed)
    return exam_create(
        dataset=dataset,
        data=ExamInput(
            external_id=external_id,
            signals_mv=signals,
            sampling_rate=500.0,
            lead_names=list(STANDARD_LEADS),
            age=age,
            sex=sex,
            patient_pseudo_id=patient,
            acquired_at=acquired_at,
        ),
    )
