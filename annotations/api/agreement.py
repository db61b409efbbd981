"""Agreement results (coordinators) and adjudication (adjudicators) over the API. Thin: the selectors
decide what each role sees (adjudicators: pseudonyms only), the services write."""

from __future__ import annotations

from django.urls import path, reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.permissions import IsCoordinator
from annotations.selectors.agreement.reader_accuracy import batch_reader_accuracy
from annotations.selectors.agreement.summary import (
    agreement_dashboard,
    agreement_for_coordinator,
    consensus_awaiting_adjudication,
    consensus_method_counts,
    open_dispute_count,
)
from annotations.selectors.batches.audits import batch_audit_summaries


def _free_object(help_text: str, **options) -> serializers.DictField:
    """A part of the stored result whose keys follow the agreement algorithm's version (its statistics
    and their intervals): an object of JSON values, not a shape this API promises key by key."""
    return serializers.DictField(child=serializers.JSONField(), help_text=help_text, **options)


def _statistic(name: str, help_text: str) -> dict[str, serializers.Field]:
    """A statistic of a class row and the three keys the bootstrap adds beside it."""
    return {
        name: serializers.FloatField(allow_null=True, required=False, help_text=help_text),
        f"{name}_ci": serializers.ListField(
            child=serializers.FloatField(allow_null=True),
            allow_null=True,
            required=False,
            help_text=f"[lower, upper] of {name}'s bootstrap interval; null: none.",
        ),
        f"{name}_defined": serializers.FloatField(
            required=False, help_text=f"The share of bootstrap resamples in which {name} is defined."
        ),
        f"{name}_ci_partial": serializers.BooleanField(
            required=False, help_text=f"Some resamples left {name} undefined: the interval is over the rest."
        ),
    }


class _AgreementClassRow(serializers.Serializer):
    class_id = serializers.IntegerField(required=False)
    code = serializers.CharField(required=False)
    name = serializers.CharField(required=False)
    prevalence = serializers.FloatField(allow_null=True, required=False)
    observed_agreement = serializers.FloatField(allow_null=True, required=False)
    positive_reads = serializers.IntegerField(required=False)
    n_exams_read = serializers.IntegerField(required=False)
    n_pairable_exams = serializers.IntegerField(required=False)
    disputed = serializers.IntegerField(required=False)
    prevalence_index = serializers.FloatField(
        allow_null=True, required=False, help_text="|a-d|/n, the mean over reader pairs (Byrt et al. 1993)."
    )
    bias_index = serializers.FloatField(
        allow_null=True, required=False, help_text="|b-c|/n, the mean over reader pairs (Byrt et al. 1993)."
    )
    interval_note = serializers.CharField(
        allow_blank=True,
        required=False,
        help_text='Why the intervals are null: "too few positives" (under 5 exams with a positive read).',
    )


# The statistics with an interval, each declared with its `_ci`, `_defined` and `_ci_partial`: a class
# built from them, since the serializer metaclass reads fields from the class namespace only.
AgreementClassSerializer = type(
    "AgreementClassSerializer",
    (_AgreementClassRow,),
    {
        "__module__": __name__,
        "__doc__": """One statement's row. Every statistic of the algorithm adds its value, `<statistic>_ci`
    ([lower, upper] or null), `<statistic>_defined` and `<statistic>_ci_partial`. Rows stored by an
    older algorithm version may lack keys, so none is promised.""",
        **_statistic("fleiss_kappa", "Fleiss' kappa; null: undefined."),
        **_statistic("krippendorff_alpha", "Krippendorff's alpha; null: undefined."),
        **_statistic("gwet_ac1", "Gwet's AC1; null: undefined."),
        **_statistic("pabak", "Prevalence- and bias-adjusted kappa; null: undefined."),
        **_statistic("mean_pairwise_kappa", "The mean of Cohen's kappa over reader pairs; null: undefined."),
        **_statistic(
            "positive_specific_agreement",
            "Of the pairs of reads of an exam where one marked the statement, the share where the other did "
            "too (2a/(2a+b+c) for two readers); `_ci` over exams. Null: nobody marked it.",
        ),
        **_statistic(
            "negative_specific_agreement",
            "The same for leaving it unmarked (2d/(2d+b+c)). Null: everybody marked it.",
        ),
    },
)


class ReaderPairsSerializer(serializers.Serializer):
    reader = serializers.CharField()
    mean_kappa = serializers.ListField(
        child=serializers.FloatField(allow_null=True),
        help_text="Mean Cohen's kappa with each reader, in the order of `pairs` (null where undefined).",
    )
    same_person_exams = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="With each reader, in the same order: the exams both read here on which one of the two "
        "had read, opened or seen the suggestion of the exam (or a copy) in another batch first, so that "
        "read is not independent. Possible only where independence was turned off; the kappa counts them.",
    )


class InsufficientExamSerializer(serializers.Serializer):
    exam_id = serializers.IntegerField()
    dataset = serializers.CharField(allow_blank=True)
    external_id = serializers.CharField(allow_blank=True)
    reads = serializers.IntegerField()


class ConsensusSummarySerializer(serializers.Serializer):
    min_reads = serializers.IntegerField(allow_null=True)
    insufficient_exams = InsufficientExamSerializer(many=True)
    latent = serializers.JSONField(
        allow_null=True, help_text="The latent fit: prior, convergence, iterations."
    )
    disputes = serializers.DictField(child=serializers.JSONField(), help_text="Disputes by reason.")


class ReaderAccuracyRowSerializer(serializers.Serializer):
    """One row of a release's reader_accuracy.csv: a reader (by username here) on one class against one
    reference, over all their reads or those made with (`shown`) or without (`not_shown`) a suggestion."""

    reader = serializers.CharField()
    code = serializers.CharField()
    reference = serializers.ChoiceField(
        choices=["consensus", "leave_one_out"],
        help_text="`consensus`: the released consensus cell (the reader's own read is one of its votes); "
        "`leave_one_out`: the majority of the exam's other reads (at least two; ties left out).",
    )
    exposure = serializers.ChoiceField(choices=["all", "shown", "not_shown"])
    tp = serializers.IntegerField()
    fp = serializers.IntegerField()
    fn = serializers.IntegerField()
    tn = serializers.IntegerField()
    sensitivity = serializers.FloatField(allow_null=True)
    sensitivity_low = serializers.FloatField(allow_null=True, help_text="95% Wilson interval.")
    sensitivity_high = serializers.FloatField(allow_null=True)
    specificity = serializers.FloatField(allow_null=True)
    specificity_low = serializers.FloatField(allow_null=True)
    specificity_high = serializers.FloatField(allow_null=True)
    n_undecided_left_out = serializers.IntegerField(
        help_text="Reference cells left out: undecided consensus, an exam read too few times, a tie."
    )


class ReaderAccuracySerializer(serializers.Serializer):
    """Each reader against consensus, as a release of this batch alone gives it (reader_accuracy.csv and
    the card's readers_vs_consensus), counted at the request from the stored consensus."""

    refused = serializers.CharField(
        allow_blank=True, help_text="Why a release of this batch, and so these figures, cannot be made."
    )
    note = serializers.CharField(allow_blank=True)
    drift_alpha = serializers.FloatField(allow_null=True)
    readers = serializers.ListField(
        child=_free_object(
            "One reader: reads, reads_with_suggestion, suggestion_share, `consensus` and `leave_one_out` "
            "pooled over classes (counts, sensitivity and specificity with `_ci`, macro means), "
            "`by_exposure` where they read both with and without a suggestion, and `drift` (quarters, "
            "slopes, p-values, flagged)."
        )
    )
    rows = ReaderAccuracyRowSerializer(many=True)


class AuditSummarySerializer(serializers.Serializer):
    """A re-adjudication audit that sampled this batch: what it found, in brief (the whole at `url`)."""

    audit_batch = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.CharField(help_text="The API address of its findings.")
    sample = serializers.IntegerField()
    population = serializers.IntegerField()
    exams_read = serializers.IntegerField()
    # Named like an attribute of DRF's Field: the serializer's metaclass moves it off the class.
    errors = serializers.IntegerField(  # type: ignore[assignment]
        help_text="Compared cells where the release and the audit differ."
    )
    compared = serializers.IntegerField()
    adjudicators = _free_object(
        "The second adjudication against the first on the sampled adjudicated cells: cells, exams, "
        "agreements, agreement with `agreement_ci` (Wilson), Cohen's kappa with `kappa_ci`."
    )


class BatchAgreementSerializer(serializers.Serializer):
    """Before the first computation only `batch`, `computed_at` (null), `consensus`,
    `consensus_awaiting_adjudication`, `disputes_open` and `audits` are present."""

    batch = serializers.IntegerField()
    computed_at = serializers.DateTimeField(allow_null=True)
    consensus = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Final consensus cells by method, as the releases give them.",
    )
    consensus_awaiting_adjudication = serializers.IntegerField(
        help_text="Cells the batch's rule gave a value that waits for an adjudicator (escalated classes)."
    )
    disputes_open = serializers.IntegerField(
        help_text="Disputed labels no adjudicator has decided yet, counted now (the agreement page's "
        '"still open"); `disputed_count` is every label disputed when the figures were computed.'
    )
    algorithm_version = serializers.CharField(required=False)
    read_count = serializers.IntegerField(required=False)
    exam_count = serializers.IntegerField(required=False)
    reader_count = serializers.IntegerField(required=False)
    disputed_count = serializers.IntegerField(required=False)
    escalation_reads = serializers.IntegerField(
        required=False,
        help_text="Extra reads the escalation rule added to disputed exams: used for consensus only, left "
        "out of every agreement figure (they go only to exams that disagreed).",
    )
    gold_exams_left_out = serializers.IntegerField(
        required=False,
        help_text="Gold exams of the batch with reads: every reader reads them and they were chosen for "
        "their known answer, so they score the readers (gold accuracy) and reach the consensus but no "
        "agreement coefficient counts them.",
    )
    classes = AgreementClassSerializer(many=True, required=False)
    readers = serializers.ListField(child=_free_object("One reader's figures."), required=False)
    pairs = ReaderPairsSerializer(many=True, required=False)
    same_person_reads = _free_object(
        "`reads`: the batch's reads made by someone who knew the exam from another batch; `exams`: the "
        "exams they fall on (pairs that include them are marked in `pairs[].same_person_exams`).",
        required=False,
    )
    exams = _free_object(
        "Exact match and mean Jaccard over the exams read twice or more: n, exact_match_rate, mean_jaccard, "
        "each with `_ci`, and `interval`, the method of the intervals (the kappas': two-way from three "
        "readers on).",
        required=False,
    )
    exams_with_findings = _free_object(
        "Exact match and mean Jaccard over the exams read twice or more on which some reader marked some "
        "statement: n, exact_match_rate, mean_jaccard, each with `_ci`, and `interval` as in `exams`.",
        required=False,
    )
    uncertain = _free_object(
        "Marks readers flagged uncertain: `marks` in all, and per class that has any (`classes`: code, "
        "uncertain_marks, and Fleiss' kappa with them as_positive, which every other figure uses, "
        "as_absent, and left_out).",
        required=False,
    )
    rule = _free_object("The consensus rule the computation used.", required=False)
    bootstrap = _free_object(
        "Which interval is shown (over exams, or exams and readers), and its resamples.", required=False
    )
    pairs_by_class = serializers.ListField(
        child=_free_object("One reader pair's kappa on one class."), required=False
    )
    reader_classes = serializers.ListField(
        child=_free_object("One reader's figures on one class."), required=False
    )
    consensus_summary = ConsensusSummarySerializer(required=False)
    reader_accuracy = ReaderAccuracySerializer(required=False)
    audits = AuditSummarySerializer(many=True, required=False)
    qualifiers = serializers.ListField(
        child=_free_object(
            "Agreement on one qualifier of one statement, among the reads that chose the statement: code, "
            "qualifier, label, statement_reads, pairable_exams, chosen, prevalence, observed_agreement, "
            "fleiss_kappa, krippendorff_alpha, gwet_ac1, pabak (null: undefined)."
        ),
        required=False,
    )


class BatchAgreementView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(responses=BatchAgreementSerializer)
    def get(self, request, pk: int):
        """Get the agreement statistics of a batch

        Coordinators only (404 for an unknown batch). Returns the batch's last stored computation: per
        statement its agreement (Fleiss' kappa and the algorithm's other statistics, with their intervals),
        per reader their figures and the reader-by-reader kappa matrix (readers by username), and the
        consensus rule and its summary, with the final consensus cells by method (`consensus`, as the
        releases give them) and the cells whose rule value waits for an adjudicator because the batch
        sent their class to adjudication (`consensus_awaiting_adjudication`), and the disputed labels no
        adjudicator has decided yet (`disputes_open`, counted now). Each reader against consensus
        (`reader_accuracy`) is what a release of this batch alone gives in reader_accuracy.csv and its
        card, counted at the request; `audits` are the re-adjudication audits that sampled the batch.
        Before the first computation only `batch`, `computed_at` (null), `consensus`,
        `consensus_awaiting_adjudication`, `disputes_open` and `audits` are present.
        Agreement is recomputed in the background after reads are submitted, so the figures may trail
        the newest reads: `computed_at` says when they were made."""
        batch, result = agreement_for_coordinator(request.user, pk)
        now = _counted_now(batch)
        if result is None:
            return Response(BatchAgreementSerializer({"batch": batch.pk, "computed_at": None, **now}).data)
        accuracy = batch_reader_accuracy(batch)
        stored = {**_stored(result), "batch": batch.pk, **now, "reader_accuracy": accuracy}
        return Response(BatchAgreementSerializer(stored).data)


def _counted_now(batch) -> dict:
    """What is counted at each request rather than stored with the computation."""
    return {
        "consensus": consensus_method_counts(batch),
        "consensus_awaiting_adjudication": consensus_awaiting_adjudication(batch),
        "disputes_open": open_dispute_count(batch),
        "audits": [
            {**audit, "url": reverse("api-audit-findings", args=[audit["audit_batch"]])}
            for audit in batch_audit_summaries(batch)
        ],
    }


def _stored(result) -> dict:
    """The stored computation's figures, as the agreement page shows them."""
    dashboard = agreement_dashboard(result)
    return {
        "algorithm_version": result.algorithm_version,
        "read_count": result.read_count,
        "exam_count": result.exam_count,
        "reader_count": result.reader_count,
        "disputed_count": result.disputed_count,
        "computed_at": result.computed_at,
        "escalation_reads": dashboard["escalation_reads"],
        "gold_exams_left_out": dashboard["gold_exams_left_out"],
        "classes": dashboard["all_classes"],
        "readers": dashboard["readers"],
        "pairs": [
            {
                "reader": row["username"],
                "mean_kappa": [c["kappa"] for c in row["cells"]],
                "same_person_exams": [c["same_person"] for c in row["cells"]],
            }
            for row in dashboard["matrix"]
        ],
        "same_person_reads": dashboard["rereads"],
        "exams": dashboard["exams"],
        "exams_with_findings": dashboard["exams_with_findings"],
        "uncertain": dashboard["uncertain"],
        "rule": dashboard["consensus_rule"],
        # Which interval is shown (over exams, or over exams and readers), and its resamples.
        "bootstrap": dashboard["bootstrap"],
        "pairs_by_class": (result.results or {}).get("pairs_by_class", []),
        "reader_classes": dashboard["reader_classes"],
        "consensus_summary": dashboard["consensus_summary"],
        "qualifiers": dashboard["qualifiers"],
    }


urlpatterns = [
    path("v1/batches/<int:pk>/agreement/", BatchAgreementView.as_view(), name="api-batch-agreement"),
]
