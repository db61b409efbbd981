"""Creating a re-adjudication audit: a blinded re-read of a seeded simple random sample of the exams that
finished batches gave a consensus, by auditors who read it as any batch is read (selectors.batches.audits
reads what they found)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
from django.db import transaction
from django.utils.translation import gettext as _

from annotations.models import Assignment, ReviewBatch
from annotations.models.batches import SEED_MAX
from annotations.selectors.batches.audits import AUDIT_KIND, audit_population, is_audit
from annotations.selectors.releases.plan import export_plan
from annotations.services.audit import audit_record
from annotations.services.batches.lifecycle import BatchDesignError, batch_create, require_coordinator

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _sources(batch_ids: Sequence[int]) -> list[ReviewBatch]:
    """The batches to audit: they must exist, be closed or have every slot read or skipped, and be ones a
    release could hold together (one taxonomy, no exam or waveform twice: selectors.releases.plan)."""
    if not batch_ids:
        raise BatchDesignError(_("choose at least one batch to audit"))
    plan = export_plan(batch_ids)
    for batch in plan.batches:
        if is_audit(batch):
            raise BatchDesignError(_("batch “%(batch)s” is an audit itself") % {"batch": batch.name})
        open_slots = Assignment.objects.filter(
            batch=batch, status__in=[Assignment.Status.PENDING, Assignment.Status.IN_PROGRESS]
        ).exists()
        if batch.status != ReviewBatch.Status.CLOSED and (
            batch.status == ReviewBatch.Status.DRAFT or open_slots
        ):
            raise BatchDesignError(
                _("batch “%(batch)s” is still open: close it, or let its readers finish, before auditing it")
                % {"batch": batch.name}
            )
    return plan.batches


def _sample_size(population: int, sample_size: int | None, sample_fraction: float | None) -> int:
    if (sample_size is None) == (sample_fraction is None):
        raise BatchDesignError(_("give either a sample size or a sample fraction"))
    if sample_fraction is not None:
        if not 0.0 < sample_fraction <= 1.0:
            raise BatchDesignError(_("the sample fraction must be above 0 and at most 1"))
        sample_size = max(1, math.ceil(sample_fraction * population))
    assert sample_size is not None  # exactly one of the two was given (checked above)
    if sample_size < 1:
        raise BatchDesignError(_("the sample size must be at least 1"))
    if population == 0:
        raise BatchDesignError(_("no exam of these batches has a consensus to audit"))
    if sample_size > population:
        raise BatchDesignError(
            _(
                "a sample of %(n)d is larger than the %(population)d exams of these batches "
                "that have a consensus"
            )
            % {"n": sample_size, "population": population}
        )
    return sample_size


def audit_sample(population: list[int], size: int, seed: int) -> list[int]:
    """A simple random sample without replacement of `size` of the (id-ordered) population, drawn by
    numpy's PCG64 from `seed`: the same seed and population give the same sample anywhere."""
    rng = np.random.default_rng(seed)
    return sorted(
        int(exam) for exam in rng.choice(np.asarray(population, dtype=np.int64), size, replace=False)
    )


# Long only by its keyword signature (the page, the API and the command name each argument).
def audit_batch_create(
    *,
    name: str,
    source_batch_ids: Sequence[int],
    auditors: Sequence[Any],
    actor: User,
    seed: int,
    sample_size: int | None = None,
    sample_fraction: float | None = None,
    readers_per_exam: int = 1,
    due_date: date | None = None,
) -> ReviewBatch:
    """Create an audit batch of a seeded random sample of the source batches' exams that have a consensus,
    read blind by `auditors` (k of them per exam), with no suggestion shown and reads kept independent:
    no auditor is handed an exam they read, skipped or saw the suggestion or dispute of (selectors.blinding).
    Refused, creating nothing, for an open source batch, a sample larger than the population, no auditor."""
    require_coordinator(actor)
    if not auditors:
        raise BatchDesignError(_("choose at least one auditor"))
    if not 1 <= readers_per_exam <= len(auditors):
        raise BatchDesignError(_("readers per exam must be between 1 and the number of auditors"))
    if not 0 <= seed <= SEED_MAX:
        raise BatchDesignError(_("the seed must be a whole number from 0 to %(max)d") % {"max": SEED_MAX})
    sources = _sources(source_batch_ids)
    population = audit_population(sources)
    size = _sample_size(len(population), sample_size, sample_fraction)
    exams = audit_sample(population, size, seed)
    notes = {
        "kind": AUDIT_KIND,
        "audit_of": [batch.pk for batch in sources],
        "sample": size,
        "population": len(population),
        "seed": seed,
        **({"sample_fraction": sample_fraction} if sample_fraction is not None else {}),
    }
    with transaction.atomic():
        batch = batch_create(
            name=name,
            taxonomy=sources[0].taxonomy,
            exams=exams,
            readers=auditors,
            readers_per_exam=readers_per_exam,
            actor=actor,
            suggestion_mode=ReviewBatch.SuggestionMode.HIDDEN,
            seed=seed,
            due_date=due_date,
            design_notes=notes,
        )
        audit_record(actor=actor, action="batch.audit_create", target=batch, after=notes)
    return batch
