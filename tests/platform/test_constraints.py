"""Every invariant of the data model is held by the database itself: each violating write is refused."""

import pytest
from django.db import IntegrityError, InternalError, connection, transaction
from django.db.utils import DatabaseError
from django.utils import timezone

from annotations.models import (
    Annotation,
    Assignment,
    AuditEvent,
    BatchExam,
    Consensus,
    DiagnosticClass,
    ReviewBatch,
    Suggestion,
    SuggestionScore,
    Taxonomy,
)
from tests.factories import DiagnosticClassFactory, ExamFactory, TaxonomyFactory

pytestmark = pytest.mark.django_db


def refused(write):
    with pytest.raises(IntegrityError), transaction.atomic():
        write()


@pytest.fixture
def batch(diego):
    return ReviewBatch.objects.create(name="B", taxonomy=TaxonomyFactory(), created_by=diego)


@pytest.fixture
def assignment(batch, ana):
    return Assignment.objects.create(batch=batch, exam=ExamFactory(), reader=ana, position=0)


def test_a_code_is_unique_within_its_taxonomy_but_not_across_taxonomies():
    first = DiagnosticClassFactory(code="AF")
    refused(lambda: DiagnosticClassFactory(code="AF", taxonomy=first.taxonomy))
    assert DiagnosticClassFactory(code="AF").taxonomy != first.taxonomy


def test_a_class_kind_must_be_diagnostic_or_quality():
    refused(lambda: DiagnosticClassFactory(kind="opinion"))


def test_a_taxonomy_version_exists_once_and_only_one_taxonomy_is_the_default():
    TaxonomyFactory(key="tnmg", version="2020", is_default=True)
    refused(lambda: TaxonomyFactory(key="tnmg", version="2020"))
    refused(lambda: TaxonomyFactory(key="other", is_default=True))


def test_an_external_id_is_unique_within_its_dataset():
    exam = ExamFactory(external_id="123")
    refused(lambda: ExamFactory(external_id="123", dataset=exam.dataset))
    assert ExamFactory(external_id="123").dataset != exam.dataset


@pytest.mark.parametrize(
    "fields",
    [{"sampling_rate": 0}, {"n_samples": 0}, {"gain_uv": -1.0}, {"age": 200}, {"sex": "X"}],
)
def test_an_exam_with_impossible_values_is_refused(fields):
    refused(lambda: ExamFactory(**fields))


def test_a_reader_gets_one_assignment_per_exam_and_batch_except_a_retest(assignment):
    refused(
        lambda: Assignment.objects.create(
            batch=assignment.batch, exam=assignment.exam, reader=assignment.reader, position=1
        )
    )
    retest = Assignment.objects.create(
        batch=assignment.batch, exam=assignment.exam, reader=assignment.reader, position=1, read_round=2
    )
    assert retest.pk


def test_two_assignments_never_share_a_queue_slot(assignment):
    refused(
        lambda: Assignment.objects.create(
            batch=assignment.batch, exam=ExamFactory(), reader=assignment.reader, position=assignment.position
        )
    )


def test_a_submitted_assignment_must_say_when(assignment):
    assignment.status = Assignment.Status.SUBMITTED
    refused(assignment.save)


def test_an_assignment_has_one_current_annotation(assignment):
    Annotation.objects.create(assignment=assignment, stage="blind", is_current=True)
    refused(lambda: Annotation.objects.create(assignment=assignment, stage="revised", is_current=True))
    assert Annotation.objects.create(assignment=assignment, stage="revised", is_current=False).pk


def test_an_assignment_has_one_annotation_per_stage(assignment):
    Annotation.objects.create(assignment=assignment, stage="blind", is_current=False)
    refused(lambda: Annotation.objects.create(assignment=assignment, stage="blind", is_current=False))


def test_a_batch_needs_at_least_one_reader_per_exam_and_a_known_mode(diego):
    taxonomy = TaxonomyFactory()
    refused(
        lambda: ReviewBatch.objects.create(name="x", taxonomy=taxonomy, created_by=diego, readers_per_exam=0)
    )
    refused(
        lambda: ReviewBatch.objects.create(
            name="x", taxonomy=taxonomy, created_by=diego, suggestion_mode="whispered"
        )
    )


def test_an_exam_is_in_a_batch_once(batch):
    exam = ExamFactory()
    BatchExam.objects.create(batch=batch, exam=exam, target_reads=2)
    refused(lambda: BatchExam.objects.create(batch=batch, exam=exam, target_reads=2))


def test_a_suggestion_exists_once_per_provider_version_and_scores_stay_in_0_1():
    exam = ExamFactory()
    suggestion = Suggestion.objects.create(exam=exam, provider="rules", provider_version="1")
    refused(lambda: Suggestion.objects.create(exam=exam, provider="rules", provider_version="1"))
    assert Suggestion.objects.create(exam=exam, provider="rules", provider_version="2").pk
    refused(
        lambda: SuggestionScore.objects.create(
            suggestion=suggestion, diagnostic_class=DiagnosticClassFactory(), score=1.5
        )
    )


def test_consensus_is_one_row_per_class_and_never_counts_more_positives_than_votes(batch):
    exam, klass = ExamFactory(), DiagnosticClassFactory()
    row = dict(
        batch=batch,
        exam=exam,
        diagnostic_class=klass,
        value=True,
        method="majority",
        total_votes=3,
        algorithm_version="1",
    )
    Consensus.objects.create(positive_votes=2, **row)
    refused(lambda: Consensus.objects.create(positive_votes=2, **row))
    row["exam"] = ExamFactory()
    refused(lambda: Consensus.objects.create(positive_votes=4, **row))


def test_a_class_in_use_cannot_be_deleted_with_its_taxonomy(assignment):
    from django.db.models import ProtectedError

    klass = DiagnosticClassFactory()
    annotation = Annotation.objects.create(assignment=assignment)
    annotation.labels.create(diagnostic_class=klass)
    with pytest.raises(ProtectedError):
        Taxonomy.objects.filter(pk=klass.taxonomy_id).delete()
    assert DiagnosticClass.objects.filter(pk=klass.pk).exists()


def test_audit_events_cannot_be_changed_or_deleted_even_with_raw_sql():
    event = AuditEvent.objects.create(action="test.write", occurred_at=timezone.now())
    for statement in (
        f"UPDATE annotations_auditevent SET action = 'forged' WHERE id = {event.pk}",
        f"DELETE FROM annotations_auditevent WHERE id = {event.pk}",
    ):
        with pytest.raises((InternalError, DatabaseError), match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement)
    event.refresh_from_db()
    assert event.action == "test.write"


def test_the_audit_table_cannot_be_truncated_by_a_session_of_the_application():
    """TRUNCATE fires no row trigger: a statement trigger refuses it. Only a session that sets
    ecgreview.audit_truncate (the suite's throwaway databases, for their flush) may empty the table."""
    event = AuditEvent.objects.create(action="test.write", occurred_at=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL ecgreview.audit_truncate = ''")  # as every application session has it
        cursor.execute(
            "SET CONSTRAINTS ALL IMMEDIATE"
        )  # the insert's deferred checks, done: TRUNCATE waits for none
        for statement in ("TRUNCATE annotations_auditevent", "TRUNCATE annotations_auditevent CASCADE"):
            with pytest.raises(DatabaseError, match="append-only: TRUNCATE refused"), transaction.atomic():
                cursor.execute(statement)
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_orm_cannot_change_an_audit_event_either():
    event = AuditEvent.objects.create(action="test.write")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="forged")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        event.delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "test.write"
