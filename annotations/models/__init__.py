"""The ECG Review data model, one module per capability.

Declarative only: every invariant that a database can hold is a constraint here, so it holds for every
writer (services, admin, a psql session). Behaviour lives in services (writes) and selectors (reads).
Every model is importable from `annotations.models`, where Django looks for them.
"""

from annotations.models.adjudication import Adjudication, AdjudicationView
from annotations.models.agreement import AgreementResult, Consensus, DisputedLabel
from annotations.models.audit import AuditEvent
from annotations.models.batches import Assignment, BatchExam, ReviewBatch
from annotations.models.benchmarks import Benchmark, BenchmarkExam, BenchmarkSubmission
from annotations.models.credentials import ApiToken, RecoveryCode, SsoIdentity, SsoSession, TokenScope
from annotations.models.exams import (
    QUALITY_FLAG_CHOICES,
    Dataset,
    Exam,
    ExamBeat,
    QualityGrade,
    ReferenceLabel,
)
from annotations.models.imports import ImportJob
from annotations.models.reading import Annotation, AnnotationLabel, AnnotationRevision, ReaderPreference
from annotations.models.releases import Release
from annotations.models.suggestions import (
    LatestSuggestionScore,
    Suggestion,
    SuggestionExposure,
    SuggestionRelevance,
    SuggestionScore,
)
from annotations.models.taxonomy import DiagnosticClass, Taxonomy
from annotations.models.webhooks import WebhookDelivery, WebhookEvent, WebhookSubscription

__all__ = [
    "QUALITY_FLAG_CHOICES",
    "Adjudication",
    "AdjudicationView",
    "AgreementResult",
    "Annotation",
    "AnnotationLabel",
    "AnnotationRevision",
    "ApiToken",
    "Assignment",
    "AuditEvent",
    "BatchExam",
    "Benchmark",
    "BenchmarkExam",
    "BenchmarkSubmission",
    "Consensus",
    "Dataset",
    "DiagnosticClass",
    "DisputedLabel",
    "Exam",
    "ExamBeat",
    "ImportJob",
    "LatestSuggestionScore",
    "QualityGrade",
    "ReaderPreference",
    "RecoveryCode",
    "ReferenceLabel",
    "Release",
    "ReviewBatch",
    "SsoIdentity",
    "SsoSession",
    "Suggestion",
    "SuggestionExposure",
    "SuggestionRelevance",
    "SuggestionScore",
    "Taxonomy",
    "TokenScope",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookSubscription",
]
