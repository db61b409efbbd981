"""Storing an import unit's records: blobs written in the background as records come, rows inserted in
batches inside the unit's transaction, and the blobs of a refused unit deleted again."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from django.conf import settings
from django.utils import timezone

from annotations.lib.ecg import waveform
from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.formats.base import Record, age_from_birth
from annotations.lib.formats.statements import clinical_labels
from annotations.lib.reference_codes import coverage_text, reference_codes_text
from annotations.models import Dataset, Exam, ExamBeat, ReferenceLabel, Taxonomy
from annotations.selectors.imports import COUNTED_SYSTEMS, LabelMatcher
from annotations.services.exams.quality import exams_quality_enqueue
from annotations.services.exams.waveforms import waveform_delete, waveform_store_blob
from annotations.services.imports.outcomes import RecordOutcome
from annotations.services.imports.rows import Inserted, exam_rows_insert, label_rows_insert

if TYPE_CHECKING:
    from datetime import datetime

logger = logging.getLogger(__name__)
# A batch is flushed when it holds this many encoded bytes, whatever IMPORT_BATCH_SIZE says.
_BATCH_BYTES = 32 * 1024 * 1024
# Earlier exams a duplicate warning names (a waveform copied into many datasets stays one line).
DUPLICATES_NAMED = 10
# ReferenceLabel.code's length: a longer label (none seen in real files) keeps its first characters.
LABEL_CODE_MAX = 300
# What a record may bring to an exam already stored with its waveform, each with its blank value and the
# name the report gives it: a metadata table supplied later fills in the blanks, and never overwrites.
FILLABLE: dict[str, tuple[object, str]] = {
    "age": (None, "age"),
    "sex": (Exam.Sex.UNKNOWN, "sex"),
    "patient_pseudo_id": ("", "patient"),
    "acquired_at": (None, "recording time"),
    "device_measurements": ({}, "device measurements"),
}


class FileFailed(Exception):
    """Aborts one file's transaction; the message names the record and the reason."""


@dataclass
class _Pending:
    record: Record
    quantized: waveform.Quantized
    stored: Future[tuple[str, str, bool]]  # (key, sha256, newly written)


# Hashing and blob writes release the GIL: two threads overlap them with the next records' parsing.
# Module-level and lazily created, so it is shared by every import in a process.
_IO_POOL: ThreadPoolExecutor | None = None


def _io_pool() -> ThreadPoolExecutor:
    global _IO_POOL
    if _IO_POOL is None:
        _IO_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="import-io")
    return _IO_POOL


class BatchWriter:
    """Collects stored-ready records and writes blobs + rows in batches, inside the file's transaction."""

    def __init__(
        self,
        *,
        dataset: Dataset,
        source_format: str,
        source_sha: str,
        skip_invalid: bool,
        outcomes: list[RecordOutcome],
        written: list[str],
        unmapped: Counter[Any] | None = None,
        job_id: int | None = None,
        created_in_run: set[int] | None = None,
    ) -> None:
        self.dataset, self.source_format, self.source_sha = dataset, source_format, source_sha
        self.job_id = job_id
        self.created_in_run = created_in_run if created_in_run is not None else set()
        self.skip_invalid, self.outcomes, self.written = skip_invalid, outcomes, written
        self.unmapped = unmapped if unmapped is not None else Counter()
        self.matcher = _default_matcher()
        self.pending: list[_Pending] = []
        self.pending_bytes = 0
        self.keep_identifiers = settings.IDENTIFIERS_POLICY == "keep"
        self.batch_size = settings.IMPORT_BATCH_SIZE
        self.filled_in = 0  # exams found unchanged that took metadata they lacked

    def add(self, record: Record, quantized: waveform.Quantized) -> None:
        # Hashed and stored right away, in the background: content addressing makes an early write
        # harmless (an unchanged exam's blob already exists and is not rewritten), and a blob of a
        # record refused later is deleted again (see flush and discard_blobs).
        blob = waveform.encode_fast(quantized.samples)
        self.pending.append(_Pending(record, quantized, _io_pool().submit(waveform_store_blob, blob)))
        self.pending_bytes += len(blob)
        if len(self.pending) >= self.batch_size or self.pending_bytes >= _BATCH_BYTES:
            self.flush()

    def abandon(self) -> None:
        """The file failed: wait for the background writes and remember which blobs were new."""
        for item in self.pending:
            try:
                key, _, new = item.stored.result()
            except Exception:  # a failed write left nothing to clean up
                logger.warning("blob write failed during an abandoned import", exc_info=True)
                continue
            if new:
                self.written.append(key)
        self.pending = []

    def reject(self, record: str, reason: str, exam: int | None = None) -> None:
        """A record refused: the whole file unless skip_invalid. `exam`: the stored exam it clashes with."""
        if exam is not None:
            reason = f"{reason} (exam {exam})"
        if not self.skip_invalid:
            raise FileFailed(f"record {record}: {reason}")
        self.outcomes.append(RecordOutcome(record, "error", reason, exam=exam))

    # One pass over the pending records, in the order they were read: each is matched against what the
    # dataset already holds (unchanged, a clash, a copy made earlier in this run, or new), then the new
    # ones are inserted together with their labels and their report lines. Kept whole so that the order
    # of the outcomes is the order of the file.
    def flush(self) -> None:
        if not self.pending:
            return
        ids = [p.record.external_id for p in self.pending]
        stored = Exam.objects.filter(dataset=self.dataset, external_id__in=ids)
        rows_known = stored.values_list("external_id", "waveform_sha256", "pk", "import_job_id")
        known: dict[str, tuple[str, int | None]] = {
            external_id: (sha, pk) for external_id, sha, pk, _ in rows_known
        }
        # Stored by an earlier run of this very job, which died before it finished (one this run stored,
        # from an earlier copy of the record in the upload, is found unchanged like any other).
        own = {
            pk
            for _, _, pk, job in rows_known
            if self.job_id is not None and job == self.job_id and pk not in self.created_in_run
        }
        results = [item.stored.result() for item in self.pending]
        self.written.extend(key for key, _, new in results if new)
        rows: list[tuple[dict[str, Any], Record]] = []
        unchanged: list[tuple[RecordOutcome, Record]] = []
        refused_new: list[str] = []
        found_own: list[Inserted] = []
        for item, (key, sha, new) in zip(self.pending, results, strict=True):
            external_id = item.record.external_id
            prior_sha, prior_exam = known.get(external_id, (None, None))
            if prior_sha == sha and prior_exam in own:
                found_own.append(Inserted(prior_exam, external_id, sha))
                self.created_in_run.add(prior_exam)
                own.discard(prior_exam)  # a later copy of the record in this flush is unchanged
                continue
            if prior_sha == sha:
                unchanged.append((RecordOutcome(external_id, "unchanged", exam=prior_exam), item.record))
                self.outcomes.append(unchanged[-1][0])
                continue
            if prior_sha is not None:
                self.reject(external_id, "a different waveform is already stored under this id", prior_exam)
                if new:
                    refused_new.append(key)
                continue
            known[external_id] = (sha, None)  # a second record with this id later in the same flush
            rows.append((self._exam_row(item, sha, key), item.record))
        self.pending, self.pending_bytes = [], 0
        self._complete(unchanged)
        created = exam_rows_insert([row for row, _ in rows])
        self.created_in_run.update(exam.pk for exam in created)
        exams_quality_enqueue([exam.pk for exam in created])
        self._insert_labels(created, [record for _, record in rows])
        self._insert_beats([(exam.pk, record) for exam, (_, record) in zip(created, rows, strict=True)])
        self.outcomes.extend(
            RecordOutcome(exam.external_id, "created", "; ".join(record.notes), exam=exam.pk)
            for exam, (_, record) in zip(created, rows, strict=True)
        )
        self._warn_duplicates(_maybe_copies(created, results))
        self.outcomes.extend(RecordOutcome(exam.external_id, "created", exam=exam.pk) for exam in found_own)
        self._warn_duplicates(found_own)
        discard_blobs(refused_new)  # skip-invalid: a refused record's blob must not linger

    def _insert_labels(self, created: list[Inserted], records: list[Record]) -> None:
        """The reference labels of the records just inserted; unmapped ones counted for the report."""
        self._insert_label_rows(
            [
                row
                for exam, record in zip(created, records, strict=True)
                for row in self._label_rows(exam.pk, record)
            ]
        )

    def _insert_beats(self, exams: list[tuple[int, Record]]) -> None:
        """The cart's representative beats of the records that carry one (lib.formats.base
        RepresentativeBeat), for the blind reader's panel; a beat that cannot give the 12 leads is left
        out, as the rhythm's own checks never depend on it."""
        beats = [
            beat for exam_id, record in exams if (beat := _beat_row(exam_id, record, self.source_format))
        ]
        if beats:
            ExamBeat.objects.bulk_create(beats, ignore_conflicts=True)

    def _label_rows(self, exam_id: int, record: Record) -> list[dict[str, Any]]:
        return [
            {
                "exam_id": exam_id,
                "code_system": system,
                "code": code,
                "likelihood": likelihood,
                "source": self.source_format,
            }
            for system, code, likelihood in _stored_labels(record)
        ]

    def _complete(self, unchanged: list[tuple[RecordOutcome, Record]]) -> None:
        """An exam found unchanged takes what the record now brings and it lacks (CODE's exams.csv supplied
        after its HDF5): blank fields, and the reference labels when it has none. What it holds is kept;
        the record's outcome says both."""
        if not unchanged:
            return
        # Every unchanged outcome names its exam (RecordOutcome.exam).
        exams = [(cast(int, outcome.exam), outcome, record) for outcome, record in unchanged]
        pks = [pk for pk, _, _ in exams]
        stored = {row["pk"]: row for row in Exam.objects.filter(pk__in=pks).values("pk", *FILLABLE)}
        labelled = set(ReferenceLabel.objects.filter(exam_id__in=pks).values_list("exam_id", flat=True))
        labels: list[dict[str, Any]] = []
        # An exam stored before its cart's beat was kept takes it now, like any other blank.
        self._insert_beats([(pk, record) for pk, _, record in exams])
        for pk, outcome, record in exams:
            filled, kept = _fill(stored[pk], self._metadata_values(record))
            new_labels = [] if pk in labelled else self._label_rows(pk, record)
            if pk not in labelled and record.label_coverage:
                # Read with its labels, as the created exam is: what the file's columns speak for.
                filled["reference_coverage"] = coverage_text(record.label_coverage)
            if new_labels:
                filled["reference_codes"] = reference_codes_text(
                    (r["code_system"], r["code"]) for r in new_labels
                )
                labels.extend(new_labels)
                labelled.add(pk)  # the record twice in the upload: its labels once
            if filled:
                Exam.objects.filter(pk=pk).update(**filled)
                self.filled_in += 1
            outcome.message = _completion_text(filled, len(new_labels), kept)
        self._insert_label_rows(labels)

    def _insert_label_rows(self, labels: list[dict[str, Any]]) -> None:
        label_rows_insert(labels)
        if self.matcher is not None:
            self.unmapped.update(
                (label["code_system"], label["code"])
                for label in labels
                if label["code_system"] in COUNTED_SYSTEMS
                and not self.matcher.classes_for(label["code_system"], label["code"])
            )

    def _warn_duplicates(self, created: list[Inserted]) -> None:
        """A waveform already stored under another dataset or external id goes in (a dataset may hold a
        copy) with a warning naming the earlier exams, linked to the first of them (copy_of: a batch or a
        release never takes both); the exam page links the copies both ways."""
        if not created:
            return
        earlier: dict[str, list[tuple[int, str]]] = defaultdict(list)
        copies = Exam.objects.filter(waveform_sha256__in={exam.waveform_sha256 for exam in created})
        for sha, pk, dataset, external_id in copies.order_by("pk").values_list(
            "waveform_sha256", "pk", "dataset__name", "external_id"
        ):
            earlier[sha].append((pk, f"{dataset}/{external_id}"))
        for exam in created:
            before = [(pk, name) for pk, name in earlier[exam.waveform_sha256] if pk < exam.pk]
            if before:
                Exam.objects.filter(pk=exam.pk).update(copy_of_id=before[0][0])
                named = before[:DUPLICATES_NAMED]
                names = ", ".join(f"{name} (exam {pk})" for pk, name in named)
                more = f" and {len(before) - len(named)} more" if len(before) > len(named) else ""
                message = f"same waveform as {names}{more}; imported anyway"
                self.outcomes.append(
                    RecordOutcome(exam.external_id, "duplicate", message, [pk for pk, _ in named], exam.pk)
                )

    def _metadata_values(self, record: Record) -> dict[str, Any]:
        """The exam's FILLABLE fields from the record."""
        return {
            # A file with a birth date and no age (CalECG, PageWriter) still gives one; the birth date
            # itself may be dropped with the identifiers.
            "age": record.age
            if record.age is not None
            else age_from_birth(record.identifiers, record.acquired_at),
            "sex": record.sex if record.sex in {"F", "M"} else Exam.Sex.UNKNOWN,
            "patient_pseudo_id": record.patient_id[:100],
            "acquired_at": _aware(record.acquired_at),
            "device_measurements": dict(record.device_measurements),
        }

    def _exam_row(self, item: _Pending, sha: str, key: str) -> dict[str, Any]:
        """The Exam row's values by attname; the fields left out take their defaults."""
        record = item.record
        return {
            "dataset_id": self.dataset.pk,
            "import_job_id": self.job_id,
            "external_id": record.external_id,
            **self._metadata_values(record),
            "sampling_rate": record.sampling_rate,
            "n_samples": item.quantized.samples.shape[1],
            "lead_names": list(record.lead_names),
            "gain_uv": item.quantized.gain_uv,
            "waveform_key": key,
            "waveform_sha256": sha,
            "source_format": self.source_format,
            "source_sha256": self.source_sha,
            "source_record": record.source_record[:300],
            "identifiers": dict(record.identifiers) if self.keep_identifiers else {},
            "reference_codes": reference_codes_text(
                (system, code) for system, code, _ in _stored_labels(record)
            ),
            "reference_coverage": coverage_text(record.label_coverage),
        }


def _beat_row(exam_id: int, record: Record, source_format: str) -> ExamBeat | None:
    beat = record.beat
    leads = beat.standard_uv() if beat is not None else None
    if beat is None or leads is None:
        return None
    gain = float(np.min(np.abs(np.asarray(beat.gain_uv, dtype=np.float64))))
    if not gain > 0:
        return None
    return ExamBeat(
        exam_id=exam_id,
        source_format=source_format[:40],
        source=beat.source[:100],
        sampling_rate=float(beat.sampling_rate),
        gain_uv=gain,
        n_samples=len(leads["I"]),
        leads_uv=[leads[name] for name in STANDARD_LEADS],
    )


def _fill(
    stored: dict[str, Any], offered: dict[str, Any]
) -> tuple[dict[str, Any], list[tuple[str, object, object]]]:
    """(the blank fields the record fills in, [(field, stored, offered)] where the two disagree)."""
    filled, kept = {}, []
    for name, value in offered.items():
        blank = FILLABLE[name][0]
        if value == blank or value == stored[name]:
            continue
        if stored[name] == blank:
            filled[name] = value
        else:
            kept.append((name, stored[name], value))
    return filled, kept


def _completion_text(filled: dict[str, Any], labels: int, kept: list[tuple[str, object, object]]) -> str:
    """'filled in: age, sex, 2 reference labels; kept the stored age 31 (the file says 30)', or ''."""
    parts = []
    names = [FILLABLE[name][1] for name in FILLABLE if name in filled]
    if "reference_coverage" in filled and not labels:
        names.append("reference labels: none marked")
    if labels:
        names.append(f"{labels} reference label{'s' if labels != 1 else ''}")
    if names:
        parts.append("filled in: " + ", ".join(names))
    parts.extend(
        f"kept the stored {FILLABLE[name][1]} {_shown(stored)} (the file says {_shown(offered)})"
        for name, stored, offered in kept
    )
    return "; ".join(parts)


def _shown(value: object) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _maybe_copies(created: list[Inserted], results: list[tuple[str, str, bool]]) -> list[Inserted]:
    """The created exams whose waveform an earlier exam may hold: a blob this batch newly wrote holds
    content no committed exam has (a blob outlives every row naming it), so most batches need no lookup.
    A content twice in the batch counts, as the two pool threads may both have found it absent."""
    counts = Counter(sha for _, sha, _ in results)
    stored_before = {sha for _, sha, new in results if not new or counts[sha] > 1}
    return [exam for exam in created if exam.waveform_sha256 in stored_before]


def _default_matcher() -> LabelMatcher | None:
    taxonomy = Taxonomy.objects.filter(is_default=True).first()
    return LabelMatcher(taxonomy) if taxonomy is not None else None


def _stored_labels(record: Record) -> list[tuple[str, str, float | None]]:
    """The record's reference labels as their rows hold them: (code_system, code, likelihood), cut to
    the columns' lengths, once each. The exam row's reference codes are built from the same list."""
    return [
        (label[0][:30], str(label[1])[:LABEL_CODE_MAX], label[2] if len(label) > 2 else None)
        for label in _unique_labels(clinical_labels(record.labels, max_length=LABEL_CODE_MAX))
    ]


def _unique_labels(labels: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    seen: dict[tuple[str, str], tuple[Any, ...]] = {}
    for label in labels:
        seen.setdefault((label[0], str(label[1])), label)
    return list(seen.values())


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and timezone.is_naive(moment):
        return timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


def discard_blobs(keys: list[str]) -> None:
    """Delete blobs a failed file wrote, unless a committed exam (another import) uses the same content."""
    for key in keys:
        sha = Path(key).stem
        if not Exam.objects.filter(waveform_sha256=sha).exists():
            waveform_delete(key)
