"""Planning a batch before anything is stored: which exams, which gold exams, and the design."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from annotations.errors import Forbidden, Invalid
from annotations.lib.batch_design import (
    Design,
    DesignError,
    DesignRequest,
    StratifiedSample,
    design_batch,
    design_outline,
    lowest_stratum_bound,
    sample_positions,
    stratified_positions,
    stratum_edges,
)
from annotations.lib.stats.consensus import MIN_LATENT_POSITIVE_EXAMS, MIN_LATENT_READS
from annotations.models import BatchExam, DiagnosticClass, Exam, ReferenceLabel, ReviewBatch, Taxonomy
from annotations.roles import Role, has_role
from annotations.selectors.agreement.rules import METHOD_LATENT
from annotations.selectors.batches.escalation import (
    TRIGGER_ANY,
    TRIGGER_WEIGHTED,
    escalation_estimate,
    escalation_rule,
    weighted_rule,
)
from annotations.selectors.batches.wording import design_error_text, poor_left_out_text, problem_text
from annotations.selectors.blinding import (
    design_exclusions,
    kept_back_reasons,
    kept_back_summary,
    reader_barred_pairs,
    readers_seen_before,
)
from annotations.selectors.exams.arrays import query_arrays
from annotations.selectors.exams.copies import without_copies
from annotations.selectors.exams.selection import (
    ExamCriteria,
    PoorLeftOut,
    batch_criteria,
    matching_ids,
    matching_scores,
    poor_left_out,
    score_exists,
)
from annotations.selectors.users import blind_refusal

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class BatchPlanError(Invalid):
    """The request cannot be planned; the message says why in a coordinator's words."""


@dataclass(frozen=True)
class BatchSpec:
    name: str
    taxonomy_id: int
    reader_ids: list[int]
    readers_per_exam: int
    criteria: ExamCriteria = field(default_factory=ExamCriteria)
    sample_size: int | None = None  # None: every matching exam
    stratify_provider: str | None = None
    stratify_code: str | None = None
    strata: int = 4
    gold_fraction: float = 0.0
    retest_fraction: float = 0.0
    min_pair_overlap: int = 0
    suggestion_mode: str = ReviewBatch.SuggestionMode.HIDDEN
    due_date: date | None = None
    seed: int = 0
    # When an exam's reads disagree: "add_reader" or "add_reader_majority" (up to escalation_cap more),
    # or "adjudicate" (services.batches.lifecycle.ESCALATIONS).
    escalation: str | None = None
    escalation_cap: int = 1
    # What escalates an exam: "any" class its reads differ on, only the "classes" listed by code, or
    # "weighted": the clinical weights of the classes they differ on (the shipped table's, or
    # escalation_weights's by code) reach escalation_threshold (selectors.batches.escalation).
    escalation_trigger: str = "any"
    escalation_classes: list[str] = field(default_factory=list)
    escalation_weights: dict[str, float] = field(default_factory=dict)
    escalation_threshold: float | None = None
    # One person, one independent read per exam: keep each reader away from chosen exams they read,
    # skipped or saw the suggestion of in another batch. Turning it off needs independence_off_reason.
    exclude_seen: bool = True
    independence_off_reason: str = ""
    # Show each reader the patient's earlier ECGs (waveforms and dates only) beside the one being read.
    serial_comparison: bool = False
    # Show each reader the recording cart's own measurements (rate, intervals, axes; never its statements).
    device_measurements_shown: bool = False
    # What blind readers see of the exam's measurements (lib.ecg.blind_measurements.SETTINGS): "none",
    # "cart" (the cart's beat and measurements; device_measurements_shown means it) or "cart_and_computed".
    blind_measurements: str = "none"
    # How the reads of an exam become its consensus (selectors.agreement.rules): "majority" above
    # consensus_threshold, or "latent" (Dawid-Skene), a latent estimate within latent_margin of 0.5 going
    # to adjudication.
    consensus_method: str = "majority"
    consensus_threshold: float = 0.5
    latent_margin: float = 0.1


@dataclass(frozen=True)
class SeenElsewhere:
    """How many of the chosen exams a reader already knows from elsewhere."""

    reader: str
    read: int  # holds a read of it in another batch
    skipped: int  # of those, skipped it
    suggestion: int  # was shown its model suggestion
    dispute: int  # opened its adjudication case (never handed to them, whatever the option)


@dataclass
class BatchPlan:
    spec: BatchSpec
    taxonomy: Taxonomy
    readers: list[Any]
    matching: int
    exam_ids: list[int]
    gold_exam_ids: list[int]
    design: Design
    stratified: StratifiedSample | None
    seen_elsewhere: list[SeenElsewhere] = field(default_factory=list)
    # What was designed: creating the batch from this plan reuses the design when a fresh request
    # (exclusions asked again) is the same, instead of designing 300,000 slots a second time.
    request: DesignRequest | None = None
    # Matching exams left out as copies of a waveform another matching exam holds (Exam.copy_of).
    copies_left_out: int = 0
    # Batches that already bear the name (in any case): "batch 12, active".
    same_name: list[str] = field(default_factory=list)
    # How many exams the design keeps from whom, and why (selectors.blinding kept_back_summary).
    kept_back: dict[str, Any] = field(default_factory=dict)
    # Matching exams left out for a poor signal, no grade having been ticked (selection.batch_criteria).
    poor_left_out: PoorLeftOut = field(default_factory=PoorLeftOut)
    # With an escalation: how many chosen exams each trigger would escalate, from earlier reads if any.
    escalation_estimate: dict[str, Any] | None = None

    @property
    def escalation_rule(self) -> dict[str, Any] | None:
        """The escalation as the design stores it (selectors.batches.escalation.escalation_rule)."""
        return plan_escalation_rule(self.spec)

    @property
    def problems(self) -> list[str]:
        """The goals the design misses, in the active language."""
        return [problem_text(problem) for problem in self.design.problems]

    @property
    def reader_names(self) -> list[str]:
        return [reader.get_username() for reader in self.readers]

    @property
    def exam_count(self) -> int:
        return len(self.exam_ids)

    @property
    def gold_exam_count(self) -> int:
        return len(self.gold_exam_ids)

    @property
    def pair_overlap(self) -> list[list[int]]:
        """Exams each pair of readers would share, a row per reader in the order of reader_names."""
        return [row for _, row in self.overlap_rows()]

    @property
    def sample_shortfall(self) -> int:
        """How many exams short of the sample asked for the chosen ones are (0 when none asked or met):
        the pool is taken whole when it is smaller, which the coordinator must be told in words."""
        if self.spec.sample_size is None:
            return 0
        return max(0, self.spec.sample_size - len(self.exam_ids))

    @property
    def warnings(self) -> list[str]:
        """What the coordinator should know before creating, though nothing stops it."""
        said = []
        if self.sample_shortfall:
            chosen = len(self.exam_ids)
            said.append(
                ngettext(
                    "A sample of %(asked)s exams was asked for, but only %(chosen)s matches the criteria: "
                    "the batch takes it.",
                    "A sample of %(asked)s exams was asked for, but only %(chosen)s match the criteria: "
                    "the batch takes all %(chosen)s.",
                    chosen,
                )
                % {"asked": self.spec.sample_size, "chosen": chosen}
            )
        if self.poor_left_out.exams:
            said.append(poor_left_out_text(self.poor_left_out.exams, self.poor_left_out.flags))
        said += self._escalation_warnings()
        if self.same_name:
            said.append(
                ngettext(
                    "A batch named “%(name)s” exists already (%(which)s): lists, exports and releases would "
                    "show two batches of that name.",
                    "Batches named “%(name)s” exist already (%(which)s): lists, exports and releases would "
                    "show several batches of that name.",
                    len(self.same_name),
                )
                % {"name": self.spec.name, "which": "; ".join(self.same_name)}
            )
        return said + self._retest_warnings()

    def _escalation_warnings(self) -> list[str]:
        """An escalation that adds readers, in a batch where every reader reads every exam: none is left."""
        mode = self.spec.escalation or ""
        if not mode.startswith("add_reader") or len(self.readers) > self.spec.readers_per_exam:
            return []
        if mode == "add_reader_majority":
            return [
                _(
                    "Every reader of the batch reads every exam: escalation can add no reader, so the reads "
                    "of a disputed exam are left to the majority, and its ties to the adjudicator."
                )
            ]
        return [
            _(
                "Every reader of the batch reads every exam: escalation can add no reader, so every "
                "disputed exam goes to the adjudicator."
            )
        ]

    def _retest_warnings(self) -> list[str]:
        design = self.design
        said = []
        if design.retests_unplaced:
            said.append(
                ngettext(
                    "%(unplaced)s of the %(asked)s retests asked could not be placed at least %(gap)s exams "
                    "after its first read, the queues being too short for that gap: the batch has "
                    "%(placed)s.",
                    "%(unplaced)s of the %(asked)s retests asked could not be placed at least %(gap)s exams "
                    "after their first read, the queues being too short for that gap: the batch has "
                    "%(placed)s.",
                    design.retests_unplaced,
                )
                % {
                    "unplaced": design.retests_unplaced,
                    "asked": design.retests_asked,
                    "gap": self.request.retest_min_gap if self.request else 10,
                    "placed": design.retests_asked - design.retests_unplaced,
                }
            )
        if design.retest_fraction_for_one is not None:
            said.append(
                _(
                    "A retest fraction of %(asked)s rounds to no retest in queues this short: the batch has "
                    "none. A fraction of at least %(needed)s gives every reader one."
                )
                % {
                    "asked": f"{self.spec.retest_fraction:g}",
                    "needed": f"{math.ceil(design.retest_fraction_for_one * 100) / 100:.2f}",
                }
            )
        return said

    @property
    def strata_rows(self) -> list[dict[str, Any]]:
        """Each stratum's score range with its matching and sampled exams, lowest first."""
        if self.stratified is None:
            return []
        s = self.stratified
        return [
            {"low": low, "high": high, "available": available, "taken": taken}
            for low, high, available, taken in zip(s.edges, s.edges[1:], s.available, s.taken, strict=False)
        ]

    @property
    def latent_note(self) -> dict[str, Any] | None:
        """Under the latent rule: where it stops. ``never_used`` says why it will decide nothing in this
        batch ("readers": fewer reads of an exam than it needs; "exams": fewer exams than a class needs
        with a positive read), else None, and classes read positive on too few exams still go to the
        majority. None under the majority rule."""
        if self.spec.consensus_method != METHOD_LATENT:
            return None
        never = None
        if self.spec.readers_per_exam < MIN_LATENT_READS:
            never = "readers"
        elif len(self.exam_ids) < MIN_LATENT_POSITIVE_EXAMS:
            never = "exams"
        return {
            "never_used": never,
            "min_reads": MIN_LATENT_READS,
            "min_positive_exams": MIN_LATENT_POSITIVE_EXAMS,
        }

    def overlap_rows(self) -> list[tuple[str, list[int]]]:
        return [
            (name, [int(v) for v in row])
            for name, row in zip(self.reader_names, self.design.pair_overlap, strict=True)
        ]


def _readers(reader_ids: list[int]) -> list[Any]:
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=reader_ids, is_active=True)}
    missing = [pk for pk in reader_ids if pk not in users]
    if missing:
        raise BatchPlanError(_("unknown or inactive users: %(ids)s") % {"ids": missing})
    not_readers = [users[pk].get_username() for pk in reader_ids if not has_role(users[pk], Role.READER)]
    if not_readers:
        raise BatchPlanError(_("not readers: %(names)s") % {"names": ", ".join(not_readers)})
    readers = [users[pk] for pk in reader_ids]
    refused = blind_refusal(readers)  # the preview refuses whom creation would refuse
    if refused:
        raise BatchPlanError(refused)
    return readers


def _choose_exams(user: User, spec: BatchSpec) -> tuple[int, list[int], StratifiedSample | None, int]:
    """(matching exams, chosen exam ids ascending, the strata, copies left out). The pool stays an id
    array: the sample is the exams at the places lib.batch_design draws, as drawn from the whole pool, which
    holds one exam per waveform (selectors.exams.copies): a copy never takes a place in the sample."""
    if spec.sample_size is not None and spec.sample_size < 1:
        raise BatchPlanError(_("the sample size must be at least 1"))
    if (spec.stratify_provider or spec.stratify_code) and not (spec.stratify_provider and spec.stratify_code):
        raise BatchPlanError(
            _("stratifying needs both the provider and the statement code whose score it uses")
        )
    if spec.stratify_provider and spec.sample_size is None:
        raise BatchPlanError(
            _("stratifying needs a sample size: the strata say how many exams to take from each")
        )
    if spec.sample_size is not None and spec.stratify_provider and spec.stratify_code:
        return _choose_stratified(user, spec)
    pool = matching_ids(user, spec.criteria)
    keep, copies = without_copies(pool)
    pool = pool[keep]
    if spec.sample_size is None:
        return len(pool), pool.tolist(), None, len(copies)
    return (
        len(pool),
        pool[sample_positions(len(pool), spec.sample_size, spec.seed)].tolist(),
        None,
        len(copies),
    )


def _choose_stratified(user: User, spec: BatchSpec) -> tuple[int, list[int], StratifiedSample, int]:
    if spec.strata < 1:
        raise BatchPlanError(_("at least one stratum is needed"))
    # Only a stratified spec comes here: it names its model, class and sample size (BatchSpec).
    assert spec.stratify_provider is not None and spec.stratify_code is not None
    assert spec.sample_size is not None
    if (
        not score_exists(spec.stratify_provider, spec.stratify_code)
        and DiagnosticClass.objects.filter(code=spec.stratify_code).exists()
    ):
        # With no score at all every exam would fall in the lowest stratum: no stratification.
        raise BatchPlanError(
            _("no exam has a score from the model “%(provider)s” for %(code)s to stratify by")
            % {"provider": spec.stratify_provider, "code": spec.stratify_code}
        )
    pool, scores = matching_scores(
        user,
        spec.criteria,
        provider=spec.stratify_provider,
        code=spec.stratify_code,
        at_least=lowest_stratum_bound(spec.strata),
    )
    keep, copies = without_copies(pool)
    pool, scores = pool[keep], scores[keep]
    # lib.batch_design.stratum_of over the whole array: the same IEEE products, truncated alike.
    strata = np.minimum((np.clip(scores, 0.0, 1.0) * spec.strata).astype(np.int64), spec.strata - 1)
    available = np.bincount(strata, minlength=spec.strata).tolist()
    taken, places = stratified_positions(available, spec.sample_size, spec.seed)
    chosen = np.concatenate(
        [pool[strata == s][p] for s, p in enumerate(places)] + [np.empty(0, dtype=np.int64)]
    )
    sample = StratifiedSample(sorted(chosen.tolist()), stratum_edges(spec.strata), available, taken)
    return len(pool), sample.exam_ids, sample, len(copies)


def _choose_gold(spec: BatchSpec, exam_ids: list[int], kept_away: set[int]) -> list[int]:
    """Gold exams: a fraction of the chosen exams whose answer is known from reference labels. Every
    reader reads a gold exam, so none of `kept_away` (exams some reader must not be handed) is one."""
    if not spec.gold_fraction:
        return []
    if not 0 < spec.gold_fraction <= 0.5:
        raise BatchPlanError(_("the gold fraction must lie between 0 and 0.5"))
    wanted = max(1, round(spec.gold_fraction * len(exam_ids)))
    # Known: an exam with reference labels, or one whose reference columns were read and marked nothing
    # (a normal exam; Exam.reference_coverage).
    labelled = ReferenceLabel.objects.filter(exam_id__in=exam_ids).values_list("exam_id", flat=True)
    complete = (
        Exam.objects.filter(pk__in=exam_ids).exclude(reference_coverage="").values_list("pk", flat=True)
    )
    known = sorted(set(labelled) | set(complete))
    if len(known) < wanted:
        raise BatchPlanError(
            _(
                "%(wanted)s gold exams were asked for but only %(known)s of the chosen exams have "
                "reference labels (or a complete reference label set that marks nothing)"
            )
            % {"wanted": wanted, "known": len(known)}
        )
    open_to_all = [exam for exam in known if exam not in kept_away]
    if len(open_to_all) < wanted:
        raise BatchPlanError(
            _(
                "%(wanted)s gold exams were asked for but only %(open)s of the chosen exams with reference "
                "labels may be read by every reader (%(kept)s are kept from a reader who saw their dispute, "
                "or read them or their suggestion elsewhere)"
            )
            % {"wanted": wanted, "open": len(open_to_all), "kept": len(known) - len(open_to_all)}
        )
    return sorted(random.Random(spec.seed + 1).sample(open_to_all, wanted))


# Each step (readers, exams, what is kept from whom, gold, design) is a call; what holds them together is
# that the preview and the creation must see the very same plan.
def batch_plan(user: User, spec: BatchSpec, *, preview: bool = False) -> BatchPlan:
    """Everything a coordinator should see before starting a batch; nothing is written. A preview's
    design may be its figures alone (lib.batch_design.design_outline: no slots, no request to create
    from), when drawing the slots would change none of them."""
    if not has_role(user, Role.COORDINATOR):
        raise Forbidden
    taxonomy = Taxonomy.objects.filter(pk=spec.taxonomy_id).first()
    if taxonomy is None:
        raise BatchPlanError(_("no taxonomy with id %(id)s") % {"id": spec.taxonomy_id})
    readers = _readers(spec.reader_ids)
    _independence_check(spec)
    plan_escalation_rule(spec)  # a trigger the design cannot use is refused before anything is chosen
    poor = poor_left_out(user, spec.criteria)
    # The criteria as applied, grades filled in, are what the batch's design records.
    spec = replace(spec, criteria=batch_criteria(spec.criteria))
    matching_count, exam_ids, stratified, copies_left_out = _choose_exams(user, spec)
    if not matching_count:
        raise BatchPlanError(_nothing_matches(_("no exam matches the criteria"), poor))
    reader_ids = [r.pk for r in readers]
    seen = readers_seen_before(reader_ids, exam_ids)
    disputes = reader_barred_pairs(reader_ids, exam_ids)
    excluded = design_exclusions(
        reader_ids, exam_ids, exclude_seen=spec.exclude_seen, barred=disputes, seen=seen
    )
    gold = _choose_gold(spec, exam_ids, set().union(*excluded.values()))
    seen_elsewhere = [
        SeenElsewhere(
            reader=r.get_username(),
            read=len(seen[r.pk]["read"]),
            skipped=len(seen[r.pk]["skipped"]),
            suggestion=len(seen[r.pk]["suggested"]),
            dispute=len(disputes[r.pk]),
        )
        for r in readers
    ]
    request = DesignRequest(
        exam_ids=exam_ids,
        reader_ids=reader_ids,
        readers_per_exam=spec.readers_per_exam,
        seed=spec.seed,
        gold_exam_ids=gold,
        retest_fraction=spec.retest_fraction,
        min_pair_overlap=spec.min_pair_overlap,
        excluded=excluded,
    )
    try:
        design = (design_outline(request) if preview else None) or design_batch(request)
    except DesignError as error:
        raise BatchPlanError(design_error_text(error)) from None
    planned = request if design.slots else None  # an outline: no slots to create a batch from
    plan = BatchPlan(
        spec, taxonomy, readers, matching_count, exam_ids, gold, design, stratified, seen_elsewhere
    )
    plan.request, plan.copies_left_out = planned, copies_left_out
    plan.same_name = _batches_named(spec.name)
    plan.poor_left_out = poor
    if spec.escalation:
        weighted = _weighted_for_estimate(spec)
        plan.escalation_estimate = escalation_estimate(exam_ids, spec.escalation_classes, weighted)
    names = {r.pk: r.get_username() for r in readers}
    plan.kept_back = kept_back_summary(
        kept_back_reasons(excluded, barred=disputes, seen=seen), names, len(set().union(*excluded.values()))
    )
    return plan


def _weighted_for_estimate(spec: BatchSpec) -> dict[str, Any] | None:
    """The weighted rule the preview counts: the design's when it chose it or gave a threshold."""
    if spec.escalation_trigger != TRIGGER_WEIGHTED and spec.escalation_threshold is None:
        return None
    return weighted_rule(
        spec.taxonomy_id, {"weights": spec.escalation_weights, "threshold": spec.escalation_threshold}
    )


def plan_escalation_rule(spec: BatchSpec) -> dict[str, Any] | None:
    """The spec's escalation as the design stores it; refuses a trigger it cannot use (a class list that
    is empty or names an unknown code, weights or a threshold it cannot use), also when no escalation
    mode is chosen."""
    if not spec.escalation and spec.escalation_trigger == TRIGGER_ANY:
        return None
    rule = escalation_rule(
        spec.taxonomy_id,
        {
            "mode": spec.escalation,
            "cap": spec.escalation_cap,
            "trigger": spec.escalation_trigger,
            "classes": spec.escalation_classes,
            "weights": spec.escalation_weights,
            "threshold": spec.escalation_threshold,
        },
    )
    return rule if spec.escalation else None


def _nothing_matches(said: str, poor: PoorLeftOut) -> str:
    """A refusal for an empty pool, saying so when exams did match but were left out for their signal."""
    if not poor.exams:
        return said
    return f"{said}: {poor_left_out_text(poor.exams, poor.flags)}"


def _independence_check(spec: BatchSpec) -> None:
    """Independent reads are turned off only with a reason (the release's provenance carries it)."""
    if not spec.exclude_seen and not spec.independence_off_reason.strip():
        raise BatchPlanError(
            _(
                "say why readers may be handed exams they already read, skipped or saw the suggestion of "
                "(independence_off_reason): two reads of an exam by one person are not independent"
            )
        )


def _batches_named(name: str) -> list[str]:
    """The batches a new one named `name` would share its name with, as the warning names them."""
    same = ReviewBatch.objects.filter(name__iexact=name.strip()).order_by("pk")
    return [
        _("batch %(id)s, %(status)s") % {"id": pk, "status": ReviewBatch.Status(status).label}
        for pk, status in same.values_list("pk", "status")[:5]
    ]


def exams_to_add(
    user: User, batch: ReviewBatch, criteria: ExamCriteria, *, sample_size: int | None = None, seed: int = 0
) -> tuple[list[Exam], int, PoorLeftOut]:
    """The designer's criteria applied to a running batch: matching exams it does not hold yet, all of them
    or a seeded random sample, in id order, how many matching exams were left out as copies of a waveform
    the batch holds or another of them has, and those left out for a poor signal (no grade ticked).
    Refuses an empty result, which would change nothing.

    The pool is read as the designer reads it (an id array) and the batch's exams are taken away in numpy:
    at 2.7M exams, a list of two million ids made row by row took 0.35-1.6 s."""
    poor = poor_left_out(user, criteria, outside=BatchExam.objects.filter(batch=batch).values("exam_id"))
    pool = matching_ids(user, batch_criteria(criteria))
    if not len(pool):
        raise BatchPlanError(_nothing_matches(_("no exam matches these criteria"), poor))
    held = _batch_exam_ids(batch)
    if len(pool) and len(held):  # each held exam's place in the pool, where it is there
        places = np.minimum(np.searchsorted(pool, held), len(pool) - 1)
        pool = np.delete(pool, places[pool[places] == held])
    # Nor a copy of a waveform the batch holds, nor two exams of one waveform.
    keep, copies = without_copies(pool, held=held)
    pool = pool[keep]
    if not len(pool):
        if len(copies):
            raise BatchPlanError(
                _(
                    "every exam matching these criteria is in the batch already; %(copies)s more are copies "
                    "of waveforms it holds, which a batch never takes twice"
                )
                % {"copies": len(copies)}
            )
        raise BatchPlanError(
            _nothing_matches(_("every exam matching these criteria is in the batch already"), poor)
        )
    if sample_size is not None and sample_size < len(pool):
        # The places random.sample draws depend on the population's size alone: drawn from a range, they
        # pick what it drew from the list of ids, without making that list.
        pool = pool[sample_positions(len(pool), sample_size, seed)]
    # Only the ids: the services that take these exams read nothing else of them.
    return list(Exam.objects.filter(pk__in=pool.tolist()).only("pk").order_by("pk")), len(copies), poor


def _batch_exam_ids(batch: ReviewBatch) -> np.ndarray:
    """The ids of the exams the batch holds, ascending: one array, not a row each (100,000 in a large
    batch)."""
    held = BatchExam.objects.filter(batch=batch).order_by().values("exam_id")
    if connection.vendor != "postgresql":
        return np.sort(np.fromiter(held.values_list("exam_id", flat=True), dtype=np.int64))
    sql, params = held.query.sql_with_params()
    (ids,) = query_arrays(sql, params, [("exam_id", "int8", ">i8")])
    return np.sort(ids.astype(np.int64))


PLAN_PAGE_SIZE = 50


def plan_exam_page(plan: BatchPlan, page: int = 1, size: int = PLAN_PAGE_SIZE) -> dict[str, Any]:
    """One page of the exams a plan chose, each marked gold and/or retest, for the designer's preview."""
    size = max(1, min(size, 200))
    pages = max(1, -(-len(plan.exam_ids) // size))
    page = max(1, min(page, pages))
    ids = plan.exam_ids[(page - 1) * size : page * size]
    gold = set(plan.gold_exam_ids)
    retest = {slot.exam_id for slot in plan.design.slots if slot.read_round > 1}
    exams = Exam.objects.select_related("dataset").in_bulk(ids)
    return {
        "rows": [
            {
                "exam_id": pk,
                "exam": f"{exams[pk].dataset.name}/{exams[pk].external_id}" if pk in exams else str(pk),
                "gold": pk in gold,
                "retest": pk in retest,
            }
            for pk in ids
        ],
        "page": page,
        "pages": pages,
        "size": size,
        "gold": len(gold),
        "retest": len(retest),
        "previous": page - 1 if page > 1 else None,
        "next": page + 1 if page < pages else None,
    }
