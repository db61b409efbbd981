"""What escalates a disputed exam, as a batch's design names it, and how many of a plan's exams each
trigger would have escalated, where earlier reads of them tell.

"Any class differs" escalated 34%, 74% and 99% of exams in taxonomies of 6, 20 and 74 classes: with many
classes nearly every exam differs somewhere. A design may instead list the classes whose disagreement
escalates (``{"trigger": "classes", "classes": [codes]}`` beside the mode and the cap), or weigh each
class by how much a disagreement on it matters clinically and escalate an exam once the weights of the
classes its reads differ on reach a threshold (``{"trigger": "weighted", "threshold": t, "weights":
{code: w}, "overrides": {code: w}}``: every class's weight as used, and those the design changed). The
default weights ship in taxonomies/weights/clinical-weights.json (its README says why each).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from annotations.errors import Invalid
from annotations.models import (
    Annotation,
    AnnotationLabel,
    Assignment,
    DiagnosticClass,
    ReviewBatch,
    Taxonomy,
)

TRIGGER_ANY = "any"  # any class the reads differ on
TRIGGER_CLASSES = "classes"  # only the listed classes
TRIGGER_WEIGHTED = "weighted"  # the clinical weights of the classes they differ on reach a threshold
TRIGGERS = (TRIGGER_ANY, TRIGGER_CLASSES, TRIGGER_WEIGHTED)
WEIGHTS_FILE = Path(__file__).resolve().parents[2] / "taxonomies" / "weights" / "clinical-weights.json"
# Weights are sums compared with a threshold: a sum that is the threshold up to rounding reaches it.
_ROUNDING = 1e-9


class EscalationTriggerError(Invalid):
    """A trigger the design cannot use; the message says why."""


_TRIGGER_KEYS = ("trigger", "classes", "threshold", "weights", "overrides")


@lru_cache(maxsize=1)
def _weights_table() -> dict[str, Any]:
    """{"taxonomies": {key: {code: weight}}, "default_weight": weight}."""
    table: dict[str, Any] = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    return table


def default_weights(taxonomy: Taxonomy) -> dict[str, float]:
    """Every class of the taxonomy with its shipped clinical weight; a class the table lacks weighs its
    default (1: it counts as one disagreement)."""
    table = _weights_table()
    shipped: dict[str, float] = table["taxonomies"].get(taxonomy.key, {})
    codes = (
        DiagnosticClass.objects.filter(taxonomy=taxonomy).order_by("position").values_list("code", flat=True)
    )
    return {code: float(shipped.get(code, table["default_weight"])) for code in codes}


def _number(value: Any) -> float | None:
    """A finite float, or None for anything else (text, NaN, a list)."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _threshold(value: Any) -> float:
    threshold = _number(value)
    if threshold is None or threshold <= 0:
        raise EscalationTriggerError(
            _("the weighted trigger needs a threshold above 0 (escalation_threshold), not “%(value)s”")
            % {"value": "" if value is None else value}
        )
    return threshold


def _overrides(codes: Iterable[str], given: Mapping[str, Any] | None) -> dict[str, float]:
    """The design's weights by code, each a number of 0 or more naming a class of the taxonomy."""
    if given is not None and not isinstance(given, Mapping):
        raise EscalationTriggerError(
            _("give the weights as statement codes with numbers (escalation_weights)")
        )
    known = set(codes)
    unknown = [str(code) for code in (given or {}) if code not in known]
    if unknown:
        raise EscalationTriggerError(
            _("no such class in the batch's taxonomy (escalation_weights): %(codes)s")
            % {"codes": ", ".join(unknown)}
        )
    asked = dict(given or {})
    weights = {code: _number(value) for code, value in asked.items()}
    bad = [f"{code}={asked[code]}" for code, weight in weights.items() if weight is None or weight < 0]
    if bad:
        raise EscalationTriggerError(
            _("a weight must be a number of 0 or more (escalation_weights): %(weights)s")
            % {"weights": ", ".join(bad)}
        )
    return {code: weight for code, weight in weights.items() if weight is not None}


def weighted_rule(taxonomy_id: int, escalation: Mapping[str, Any]) -> dict[str, Any]:
    """The weighted trigger as the design stores it: its threshold, every class's weight (the shipped
    table's unless the design overrides it) and the overrides. A stored rule's full weights are taken
    as overrides, so storing a rule twice gives the same rule."""
    taxonomy = Taxonomy.objects.get(pk=taxonomy_id)
    weights = default_weights(taxonomy)
    threshold = _threshold(escalation.get("threshold"))
    given = escalation.get("overrides") if "overrides" in escalation else escalation.get("weights")
    overrides = _overrides(weights, given)
    return {
        "trigger": TRIGGER_WEIGHTED,
        "threshold": threshold,
        "weights": weights | overrides,
        "overrides": overrides,
    }


def disputed_weight(sets: Sequence[frozenset[Any]], weights: Mapping[Any, float]) -> float:
    """The summed weight of the classes some read marked and another did not."""
    if not sets:
        return 0.0
    disputed = frozenset().union(*sets) - frozenset.intersection(*map(frozenset, sets))
    return sum(float(weights.get(item, 0.0)) for item in disputed)


def reaches(sets: Sequence[frozenset[Any]], weights: Mapping[Any, float], threshold: float) -> bool:
    """Whether the reads' disputed classes weigh the threshold or more."""
    return disputed_weight(sets, weights) >= threshold - _ROUNDING


def escalation_rule(taxonomy_id: int, escalation: dict[str, Any] | None) -> dict[str, Any] | None:
    """The escalation as the design stores it: mode and cap, and the trigger with its class codes (for
    "classes") or its threshold and weights (for "weighted": weighted_rule); a design without a trigger
    escalates on any class, as before. Refuses an unknown trigger, a class list that is empty or names a
    code the taxonomy lacks, and bad weights or threshold."""
    if not escalation:
        return None
    trigger = escalation.get("trigger") or TRIGGER_ANY
    if trigger not in TRIGGERS:
        raise EscalationTriggerError(
            _("unknown escalation trigger “%(trigger)s” (escalation_trigger); use %(triggers)s")
            % {"trigger": trigger, "triggers": " or ".join(TRIGGERS)}
        )
    rule = {key: value for key, value in escalation.items() if key not in _TRIGGER_KEYS}
    if trigger == TRIGGER_ANY:
        return rule
    if trigger == TRIGGER_WEIGHTED:
        return {**rule, **weighted_rule(taxonomy_id, escalation)}
    codes = list(dict.fromkeys(escalation.get("classes") or []))
    if not codes:
        raise EscalationTriggerError(
            _("list the classes whose disagreement escalates an exam (escalation_classes)")
        )
    known = set(
        DiagnosticClass.objects.filter(taxonomy_id=taxonomy_id, code__in=codes).values_list("code", flat=True)
    )
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise EscalationTriggerError(
            _("no such class in the batch's taxonomy (escalation_classes): %(codes)s")
            % {"codes": ", ".join(unknown)}
        )
    return {**rule, "trigger": TRIGGER_CLASSES, "classes": codes}


def trigger_class_ids(batch: ReviewBatch) -> set[int] | None:
    """The classes whose disagreement escalates an exam of the batch; None: any class."""
    rule = (batch.design or {}).get("escalation") or {}
    if rule.get("trigger") != TRIGGER_CLASSES:
        return None
    return set(
        DiagnosticClass.objects.filter(
            taxonomy_id=batch.taxonomy_id, code__in=rule.get("classes") or []
        ).values_list("pk", flat=True)
    )


def trigger_weights(batch: ReviewBatch) -> tuple[dict[int, float], float] | None:
    """Under the weighted trigger, the weight of each class by id and the threshold; else None."""
    rule = (batch.design or {}).get("escalation") or {}
    if rule.get("trigger") != TRIGGER_WEIGHTED:
        return None
    by_code = rule.get("weights") or {}
    ids = DiagnosticClass.objects.filter(taxonomy_id=batch.taxonomy_id, code__in=list(by_code))
    return {pk: float(by_code[code]) for pk, code in ids.values_list("pk", "code")}, float(rule["threshold"])


def _earlier_read_sets(exam_ids: Sequence[int]) -> dict[int, list[frozenset[str]]]:
    """Each chosen exam's submitted designed first reads in any batch, as sets of class codes. Extra reads
    are left out: they went only to exams already disputed."""
    reads = Annotation.objects.filter(
        assignment__exam_id__in=list(exam_ids),
        assignment__read_round=1,
        assignment__escalated=False,
        assignment__status=Assignment.Status.SUBMITTED,
        is_current=True,
        status=Annotation.Status.SUBMITTED,
    )
    exam_of = dict(reads.values_list("pk", "assignment__exam_id"))
    codes: dict[int, set[str]] = defaultdict(set)
    labels = AnnotationLabel.objects.filter(annotation_id__in=list(exam_of)).values_list(
        "annotation_id", "diagnostic_class__code"
    )
    for annotation_id, code in labels:
        codes[annotation_id].add(code)
    sets: dict[int, list[frozenset[str]]] = defaultdict(list)
    for annotation_id, exam_id in exam_of.items():
        sets[exam_id].append(frozenset(codes[annotation_id]))
    return sets


def escalation_estimate(
    exam_ids: Sequence[int], classes: Sequence[str], weighted: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """How many of the chosen exams each trigger would have escalated, judged on the exams already read
    twice or more elsewhere (by other readers, perhaps more or fewer of them): "any", "classes" when
    ``classes`` are listed, and "weighted" given a weighted rule (weighted_rule). With no such exam
    nothing is estimated, and the note says so."""
    read = {exam: sets for exam, sets in _earlier_read_sets(exam_ids).items() if len(sets) >= 2}
    if not read:
        return {
            "exams_read": 0,
            "triggers": [],
            "note": _(
                "No chosen exam has two reads yet, so how many exams each trigger would escalate cannot be "
                "estimated."
            ),
        }
    watched = frozenset(classes)
    triggers = [{"trigger": TRIGGER_ANY, "classes": [], "escalated": _differing(read.values())}]
    if watched:
        narrowed = ([s & watched for s in sets] for sets in read.values())
        triggers.append(
            {"trigger": TRIGGER_CLASSES, "classes": list(classes), "escalated": _differing(narrowed)}
        )
    if weighted:
        weights, threshold = weighted["weights"], weighted["threshold"]
        escalated = sum(1 for sets in read.values() if reaches(sets, weights, threshold))
        triggers.append(
            {"trigger": TRIGGER_WEIGHTED, "classes": [], "threshold": threshold, "escalated": escalated}
        )
    note = _(
        "From earlier reads of %(read)s of the %(chosen)s chosen exams (read twice or more in other batches, "
        "by readers who may not be this batch's): %(said)s."
    ) % {"read": len(read), "chosen": len(exam_ids), "said": "; ".join(map(_said, triggers))}
    return {"exams_read": len(read), "triggers": triggers, "note": note}


def _said(row: dict[str, Any]) -> str:
    if row["trigger"] == TRIGGER_ANY:
        return _("%(n)s would escalate on any class") % {"n": row["escalated"]}
    if row["trigger"] == TRIGGER_CLASSES:
        return _("%(n)s on the listed classes") % {"n": row["escalated"]}
    return _("%(n)s weighted (disputed classes weighing %(threshold)s or more)") % {
        "n": row["escalated"],
        "threshold": f"{row['threshold']:g}",
    }


def _differing(exams: Iterable[Iterable[frozenset[Any]]]) -> int:
    return sum(1 for sets in exams if len(set(sets)) > 1)
