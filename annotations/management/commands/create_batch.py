import argparse
from datetime import date

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from annotations.errors import Forbidden, Invalid
from annotations.lib.ecg.blind_measurements import SETTINGS as BLIND_MEASUREMENT_SETTINGS
from annotations.management.criteria import add_criteria_arguments, criteria_options
from annotations.models import ReviewBatch, Taxonomy
from annotations.selectors.batches.escalation import TRIGGERS
from annotations.selectors.batches.plan import batch_plan
from annotations.selectors.batches.spec import batch_spec
from annotations.services.agreement.tables import batch_interval_method_set
from annotations.services.batches.audits import audit_batch_create
from annotations.services.batches.lifecycle import ESCALATIONS, BatchDesignError, batch_create_from_plan


def _taxonomy(value: str | None) -> Taxonomy:
    if not value:
        taxonomy = Taxonomy.objects.filter(is_default=True).first()
    else:
        key, _, version = value.partition(":")
        found = Taxonomy.objects.filter(key=key)
        taxonomy = (found.filter(version=version) if version else found.order_by("-loaded_at")).first()
    if taxonomy is None:
        raise CommandError(f"no taxonomy {value or '(default)'}; load one with load_taxonomy")
    return taxonomy


def _weight(text: str) -> tuple[str, float]:
    """One CODE=WEIGHT of --escalation-weight; whether the code exists and the weight is allowed is the
    design's to say, in the same words as the designer page."""
    code, sign, weight = text.partition("=")
    try:
        if not (sign and code.strip()):
            raise ValueError
        return code.strip(), float(weight)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give CODE=WEIGHT, e.g. VT=4") from None


class Command(BaseCommand):
    help = "Design a review batch from the exams matching criteria; --preview shows the design only."

    # Long because it is the command's whole option list, one flat declaration per option: splitting it
    # would only scatter the --help text a coordinator reads top to bottom.
    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--coordinator", required=True, help="Username of the coordinator creating it.")
        parser.add_argument("--readers", required=True, help="Comma-separated reader usernames.")
        parser.add_argument("--k", type=int, default=2, help="Readers per exam.")
        parser.add_argument("--taxonomy", help="KEY or KEY:VERSION; default: the default taxonomy.")
        add_criteria_arguments(parser)
        parser.add_argument("--sample", type=int, help="Random sample of N exams (seeded).")
        parser.add_argument("--stratify-by", help="PROVIDER:CODE: stratify the sample by this score.")
        parser.add_argument("--strata", type=int, default=4)
        parser.add_argument("--gold-fraction", type=float, default=0.0)
        parser.add_argument("--retest-fraction", type=float, default=0.0)
        parser.add_argument("--min-pair-overlap", type=int, default=0)
        parser.add_argument("--mode", choices=[m.value for m in ReviewBatch.SuggestionMode], default="hidden")
        parser.add_argument("--due", type=date.fromisoformat, help="Due date, YYYY-MM-DD.")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--escalate",
            choices=list(ESCALATIONS),
            help="When an exam's reads disagree: add one more reader (then adjudicate what still disagrees, "
            "or with add_reader_majority let the majority decide), or adjudicate.",
        )
        parser.add_argument("--escalation-cap", type=int, default=1, help="Most readers added per exam.")
        parser.add_argument(
            "--escalation-trigger",
            choices=list(TRIGGERS),
            help="What escalates an exam: any class its reads differ on (any), one of --escalation-classes "
            "(classes), or disputed classes whose clinical weights add up to --escalation-threshold "
            "(weighted).",
        )
        parser.add_argument(
            "--escalation-classes", help="With --escalation-trigger classes: codes, comma-separated."
        )
        parser.add_argument(
            "--escalation-threshold", type=float, help="With --escalation-trigger weighted: the sum to reach."
        )
        parser.add_argument(
            "--escalation-weight",
            dest="escalation_weights",
            action="append",
            type=_weight,
            metavar="CODE=WEIGHT",
            help="With --escalation-trigger weighted: a statement's weight instead of the shipped table's; "
            "repeat for more.",
        )
        parser.add_argument("--preview", action="store_true", help="Show the design; create nothing.")
        parser.add_argument(
            "--blind-measurements",
            choices=list(BLIND_MEASUREMENT_SETTINGS),
            default="none",
            help="What readers see of each exam's measurements, blind reads included: none, the cart's beat "
            "and measurements, or those and the ones computed from the signal (never a statement).",
        )
        parser.add_argument(
            "--audit-of",
            help="Comma-separated ids of finished batches: make a blinded re-adjudication audit of a random "
            "sample (--sample N or --sample-fraction F, --seed) of their exams that have a consensus, read "
            "by --readers, --k of them per exam; criteria and design options do not apply.",
        )
        parser.add_argument("--sample-fraction", type=float, help="With --audit-of: the share to sample.")
        parser.add_argument(
            "--intervals",
            choices=["exams", "exams_and_readers"],
            default="exams",
            help="Agreement intervals over exams (these readers) or over exams and readers (two-way).",
        )

    def handle(self, *args, **o):
        users = get_user_model().objects
        coordinator = users.filter(username=o["coordinator"]).first()
        if coordinator is None:
            raise CommandError(f"no user {o['coordinator']!r}")
        names = [n.strip() for n in o["readers"].split(",") if n.strip()]
        found = {u.username: u.pk for u in users.filter(username__in=names)}
        missing = [n for n in names if n not in found]
        if missing:
            raise CommandError(f"no such users: {', '.join(missing)}")
        if o["audit_of"]:
            return self._audit(coordinator, [users.get(pk=found[n]) for n in names], o)
        provider, _, code = (o["stratify_by"] or "").partition(":")
        spec = batch_spec(
            {
                **o,
                "taxonomy_id": _taxonomy(o["taxonomy"]).pk,
                "reader_ids": [found[n] for n in names],
                "readers_per_exam": o["k"],
                "sample_size": o["sample"],
                "stratify_provider": provider,
                "stratify_code": code,
                "suggestion_mode": o["mode"],
                "due_date": o["due"],
                "escalation": o["escalate"],
                "escalation_weights": dict(o["escalation_weights"] or []),
                "criteria": criteria_options(o),
            }
        )
        try:
            plan = batch_plan(coordinator, spec)
            self._show(plan)
            if o["preview"]:
                return
            batch = batch_create_from_plan(plan=plan, actor=coordinator)
            if o["intervals"] != "exams":
                batch_interval_method_set(batch=batch, method=o["intervals"], actor=coordinator)
        except Forbidden:
            raise CommandError(f"{coordinator.username} is not a coordinator") from None
        except (Invalid, BatchDesignError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(self.style.SUCCESS(f"Created batch #{batch.pk} {batch.name!r}."))

    def _audit(self, coordinator, auditors: list, o: dict) -> None:
        try:
            sources = [int(i) for i in o["audit_of"].split(",") if i.strip()]
        except ValueError:
            raise CommandError(f"--audit-of takes batch ids, not {o['audit_of']!r}") from None
        if o["preview"]:
            raise CommandError("an audit has no preview: its sample is drawn when it is created")
        try:
            batch = audit_batch_create(
                name=o["name"],
                source_batch_ids=sources,
                auditors=auditors,
                actor=coordinator,
                seed=o["seed"],
                sample_size=o["sample"],
                sample_fraction=o["sample_fraction"],
                readers_per_exam=o["k"],
                due_date=o["due"],
            )
        except Forbidden:
            raise CommandError(f"{coordinator.username} is not a coordinator") from None
        except Invalid as error:
            raise CommandError(str(error)) from None
        design = batch.design
        audited = ", ".join(map(str, design["audit_of"]))
        self.stdout.write(
            self.style.SUCCESS(
                f"Created audit batch #{batch.pk} {batch.name!r}: {design['sample']} of "
                f"{design['population']} exams with a consensus in batches {audited}."
            )
        )

    def _show(self, plan) -> None:
        design = plan.design
        retests = sum(1 for slot in design.slots if slot.read_round == 2)
        self.stdout.write(
            f"{len(plan.exam_ids)} of {plan.matching + plan.copies_left_out} matching exams "
            f"({plan.copies_left_out} left out as copies), {len(plan.gold_exam_ids)} gold, "
            f"{plan.spec.readers_per_exam} readers per exam, {retests} retests"
        )
        if plan.stratified:
            self.stdout.write(f"strata available {plan.stratified.available}, taken {plan.stratified.taken}")
        width = max(len(n) for n in plan.reader_names) + 2
        self.stdout.write("pair overlap (diagonal: exams per reader):")
        self.stdout.write(" " * width + "".join(f"{n:>{width}}" for n in plan.reader_names))
        for name, row in plan.overlap_rows():
            self.stdout.write(f"{name:<{width}}" + "".join(f"{v:>{width}}" for v in row))
        for problem in design.problems:
            self.stdout.write(self.style.WARNING(str(problem)))
        for warning in plan.warnings:
            self.stdout.write(self.style.WARNING(warning))
