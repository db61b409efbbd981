"""How a batch's reads are decided: the consensus rule applied cell by cell (annotations.lib.stats), the
taxonomy's exclusive sets as class positions, and the figures stored with the result about how consensus
was reached. Pure computation over a snapshot; services.agreement.compute stores what comes out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from annotations.lib.exclusive_sets import TOKENS
from annotations.lib.stats import ConsensusDecision, ExclusiveSet, consensus_decide
from annotations.lib.stats.bootstrap import BootstrapResult
from annotations.lib.stats.consensus import REASONS
from annotations.lib.stats.latent import DawidSkene
from annotations.models import DiagnosticClass, DisputedLabel, Taxonomy
from annotations.selectors.agreement.summary import ReadsSnapshot


def _nan_to_none(values: Iterable[Any]) -> list[Any]:
    return [None if v is None or (isinstance(v, float) and not np.isfinite(v)) else v for v in values]


def exclusive_sets_of(taxonomy_id: int, codes: list[str]) -> list[ExclusiveSet]:
    """The taxonomy's exclusive sets as class positions of ``codes``; a token such as '*diagnostic*'
    covers every statement of its kind that the set does not name or spare with '!CODE' (as at reading
    time, annotations.lib.exclusive_sets)."""
    sets = Taxonomy.objects.filter(pk=taxonomy_id).values_list("exclusive_sets", flat=True).first() or []
    kinds = dict(DiagnosticClass.objects.filter(taxonomy_id=taxonomy_id).values_list("code", "kind"))
    position = {code: i for i, code in enumerate(codes)}
    out = []
    for members in sets:
        named = tuple(position[code] for code in members if code in position)
        token_kinds = {TOKENS[code] for code in members if code in TOKENS}
        # '!CODE' takes CODE out of what the token stands for ("any diagnosis but sinus rhythm").
        spared = {code[1:] for code in members if code.startswith("!")}
        others = tuple(
            i
            for code, i in position.items()
            if code not in members and code not in spared and kinds.get(code) in token_kinds
        )
        if len(named) + len(others) >= 2:
            out.append(ExclusiveSet(named, others))
    return out


def consensus_decisions(
    snapshot: ReadsSnapshot, rule: dict[str, Any], sets: list[ExclusiveSet], latent: DawidSkene | None = None
) -> ConsensusDecision:
    """Every cell decided by the batch's rule (annotations.lib.stats.consensus_decide), with escalated
    exams' contested classes also sent to the adjudicator. ``latent``: the per-class fit, if made."""
    decision = consensus_decide(
        snapshot.reads,
        method=rule["method"],
        threshold=rule["threshold"],
        latent_margin=rule["latent_margin"],
        min_reads=rule["min_reads"],
        exclusive_sets=sets,
        binary_fit=latent,
        adjudicated=snapshot.adjudicated,
    )
    if snapshot.escalated_exam_ids:
        # An escalated exam: every class its readers disagree on goes to the adjudicator, decided or not.
        n, k = decision.n_reads, decision.positive_votes
        escalated = np.isin(np.array(snapshot.exam_ids), list(snapshot.escalated_exam_ids))
        contested = escalated[:, None] & (k > 0) & (k < n) & ~decision.insufficient[:, None]
        decision.dispute(contested, DisputedLabel.Reason.ESCALATED)
    return decision


def _latent_sets(latent: dict[str, Any], codes: list[str]) -> list[dict[str, Any]]:
    """Each exclusive set's latent fit: its codes, convergence, iterations and prior."""
    return [
        {
            "codes": [codes[c] for c in fit["classes"]],
            "converged": fit["converged"],
            "iterations": fit["iterations"],
            # Pairs, not a mapping: the database's JSON type does not keep key order.
            "prior": [
                [code, share]
                for code, share in zip(
                    [*(codes[c] for c in fit["classes"]), "none"], _nan_to_none(fit["prior"]), strict=True
                )
            ],
        }
        for fit in latent.get("sets", [])
    ]


def _dispute_counts(decision: ConsensusDecision) -> dict[str, int]:
    """How many disputed cells each reason left, by name (np.unique ordered them when they were strings)."""
    codes, counts = np.unique(decision.reason_code[decision.disputed], return_counts=True)
    return dict(sorted((REASONS[code], int(count)) for code, count in zip(codes, counts, strict=True)))


def consensus_summary(
    snapshot: ReadsSnapshot, rule: dict[str, Any], decision: ConsensusDecision
) -> dict[str, Any]:
    """What the page says about how consensus was reached: the latent fit (prior, convergence,
    iterations), the exams too thinly read for any consensus, those the latent rule was not used on."""
    codes = snapshot.class_codes
    latent = decision.latent
    classes = latent.get("classes") or {}
    not_converged = [codes[c] for c, ok in enumerate(classes.get("converged", [])) if not ok]
    sets = _latent_sets(latent, codes)
    split_cells = (decision.positive_votes > 0) & (decision.positive_votes < decision.n_reads)
    few = split_cells.any(axis=1) & ~decision.latent_used & ~decision.insufficient
    # How those exams' disagreements went, counted rather than told by the rule: two reads that differ
    # are a tie, which no majority decides.
    few_cells = split_cells & few[:, None]
    few_disputed = few_cells & decision.disputed
    # Classes whose readers disagreed on exams the latent rule could use, which the majority decided
    # because too few exams carried a positive read of them.
    contested = (split_cells & decision.latent_used[:, None]).any(axis=0)
    positive_exams = latent.get("positive_exams") or [0] * len(codes)
    by_majority = [
        [codes[c], int(positive_exams[c])]
        for c in np.nonzero(contested & ~decision.latent_classes)[0].tolist()
    ]
    n_exam = decision.n_reads.max(axis=1, initial=0) if decision.n_reads.size else np.zeros(0, int)
    return {
        "min_reads": rule["min_reads"],
        "insufficient_exams": [
            [int(snapshot.exam_ids[e]), int(n_exam[e])] for e in np.nonzero(decision.insufficient)[0].tolist()
        ],
        "latent": None
        if not latent.get("used")
        else {
            "prior": latent["prior"],
            "converged": latent["converged"],
            "iterations_max": max(classes.get("iterations", [0]) + [f["iterations"] for f in sets]),
            "classes_not_converged": not_converged,
            "sets": sets,
            "min_reads": latent["min_latent_reads"],
            "exams_below_min_reads": int(few.sum()),
            "below_min_reads_by_majority": int((few_cells & ~few_disputed).sum()),
            "below_min_reads_to_adjudication": int(few_disputed.sum()),
            "min_positive_exams": latent["min_positive_exams"],
            "classes_by_majority": by_majority,
        },
        "disputes": _dispute_counts(decision),
    }


def exam_figures(boot: BootstrapResult) -> dict[str, Any]:
    """Exact-match rate and mean Jaccard over the exams read twice, with their intervals (None where
    undefined) and the method that drew them: with readers a sample of readers, two-way, as the kappas'."""

    def interval(name: str) -> list[Any]:
        return _nan_to_none([float(boot.intervals[name].lower), float(boot.intervals[name].upper)])

    return {
        "exact_match_rate": _nan_to_none([float(boot.point.exams.exact_match_rate)])[0],
        "exact_match_rate_ci": interval("exact_match_rate"),
        "mean_jaccard": _nan_to_none([float(boot.point.exams.mean_jaccard)])[0],
        "mean_jaccard_ci": interval("mean_jaccard"),
        "n": int(boot.point.n_exams),
        "interval": boot.method,
    }
