"""The audit trail in words, for the coordinator's page: each action a sentence ("diego closed batch
“Demo”"), each object named as people name it (batch “Demo”, exam ptb s0010, account “bruno”), and the
values before and after as a readable list. The stored rows stay as they are (the CSV export gives them
raw); only the page reads them out. An action without a sentence here is shown by its stored name."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db.models import Model
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.formats import date_format, localize
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from annotations.models import (
    Adjudication,
    Annotation,
    Assignment,
    AuditEvent,
    BatchExam,
    Dataset,
    Exam,
    ImportJob,
    Release,
    ReviewBatch,
    Suggestion,
    SuggestionExposure,
    Taxonomy,
    WebhookSubscription,
)

# What each action says, with %(who)s (the account, or "the system") and %(object)s (the target in
# words, annotation_words below). The keys are the `action` every service records.
ACTION_SENTENCES = {
    "adjudication.decide": gettext_lazy("%(who)s signed a decision on %(object)s"),
    "adjudication.view": gettext_lazy("%(who)s opened the dispute of %(object)s"),
    "agreement.compute": gettext_lazy("%(who)s computed the agreement of %(object)s"),
    "annotation.amend": gettext_lazy("%(who)s amended %(object)s"),
    "annotation.return": gettext_lazy("%(who)s returned %(object)s to its reader"),
    "annotation.save_draft": gettext_lazy("%(who)s saved a draft of %(object)s"),
    "annotation.submit": gettext_lazy("%(who)s submitted %(object)s"),
    "assignment.hand_on": gettext_lazy("%(who)s handed on %(object)s"),
    "assignment.skip": gettext_lazy("%(who)s skipped %(object)s"),
    "api_token.create": gettext_lazy("%(who)s created the API token %(object)s"),
    "api_token.revoke": gettext_lazy("%(who)s revoked the API token %(object)s"),
    "api_token.use": gettext_lazy("%(who)s used the API token %(object)s"),
    "audit.export": gettext_lazy("%(who)s downloaded the audit trail"),
    "auth.login": gettext_lazy("%(who)s signed in"),
    "auth.login_failed": gettext_lazy("%(who)s failed to sign in"),
    "auth.login_locked": gettext_lazy("%(who)s was refused sign-in: too many failures"),
    "batch.add_exams": gettext_lazy("%(who)s added exams to %(object)s"),
    "batch.add_readers": gettext_lazy("%(who)s added readers to %(object)s"),
    "batch.agreement_intervals": gettext_lazy("%(who)s computed the agreement intervals of %(object)s"),
    "batch.audit_create": gettext_lazy("%(who)s created the re-adjudication audit %(object)s"),
    "batch.close": gettext_lazy("%(who)s closed %(object)s"),
    "batch.create": gettext_lazy("%(who)s created %(object)s"),
    "batch.escalate_add_reader": gettext_lazy("%(who)s asked one more reader for %(object)s"),
    "batch.escalate_adjudicate": gettext_lazy("%(who)s sent %(object)s to adjudication"),
    "batch.reassign": gettext_lazy("%(who)s moved exams to another reader in %(object)s"),
    "benchmark.close": gettext_lazy("%(who)s closed the benchmark %(object)s"),
    "benchmark.create": gettext_lazy("%(who)s made the benchmark %(object)s"),
    "benchmark.download": gettext_lazy("%(who)s downloaded the tracings of the benchmark %(object)s"),
    "benchmark.failed": gettext_lazy("%(who)s could not prepare the benchmark %(object)s"),
    "benchmark.ready": gettext_lazy("%(who)s prepared the benchmark %(object)s"),
    "benchmark.scored": gettext_lazy("%(who)s scored a submission to the benchmark %(object)s"),
    "benchmark.submit": gettext_lazy("%(who)s submitted a model to the benchmark %(object)s"),
    "broker.message_given_back": gettext_lazy("%(who)s queued again the work of %(object)s"),
    "dataset.create": gettext_lazy("%(who)s created %(object)s"),
    "dataset.rename": gettext_lazy("%(who)s renamed %(object)s"),
    "exam.create": gettext_lazy("%(who)s added %(object)s"),
    "exams.import": gettext_lazy("%(who)s imported exams into %(object)s"),
    "exams.import_failed": gettext_lazy("%(who)s failed to import exams into %(object)s"),
    "exams.quality_backfill": gettext_lazy("%(who)s computed the missing quality reports"),
    "export.command": gettext_lazy("%(who)s exported labels from the command line"),
    "import_job.create": gettext_lazy("%(who)s started %(object)s"),
    "import_job.done": gettext_lazy("%(who)s finished %(object)s"),
    "import_job.failed": gettext_lazy("%(who)s ended %(object)s in failure"),
    "import_job.queued": gettext_lazy("%(who)s queued %(object)s"),
    "import_job.running": gettext_lazy("%(who)s started running %(object)s"),
    "import_job.stalled": gettext_lazy("%(who)s found %(object)s stalled"),
    "reads.import": gettext_lazy("%(who)s imported reads into %(object)s"),
    "release.build": gettext_lazy("%(who)s built %(object)s"),
    "release.create": gettext_lazy("%(who)s created %(object)s"),
    "release.download": gettext_lazy("%(who)s downloaded %(object)s"),
    "release.failed": gettext_lazy("%(who)s found that %(object)s failed"),
    "release.shard": gettext_lazy("%(who)s built a part of %(object)s"),
    "release.shards": gettext_lazy("%(who)s split %(object)s into parts"),
    "release.stalled": gettext_lazy("%(who)s found %(object)s stalled"),
    "sso.account_create": gettext_lazy("%(who)s made the account %(object)s at its first single sign-on"),
    "sso.backchannel_logout": gettext_lazy(
        "%(who)s ended the sessions of %(object)s signed out at the provider"
    ),
    "sso.identity_link": gettext_lazy("%(who)s linked %(object)s to an identity at the provider"),
    "sso.refused": gettext_lazy("%(who)s was refused single sign-on"),
    "sso.roles": gettext_lazy("%(who)s set the roles of %(object)s from the provider's groups"),
    "suggestion.occlusion": gettext_lazy("%(who)s computed where %(object)s came from"),
    "suggestion.occlusion_requested": gettext_lazy(
        "%(who)s asked where the suggestions for %(object)s came from"
    ),
    "suggestion.shown": gettext_lazy("%(who)s was shown %(object)s"),
    "suggestions.batch_run": gettext_lazy("%(who)s asked the models to score %(object)s"),
    "suggestions.import": gettext_lazy("%(who)s imported model scores"),
    "suggestions.sweep": gettext_lazy("%(who)s asked the models to score every exam without scores"),
    "taxonomy.created": gettext_lazy("%(who)s loaded %(object)s"),
    "taxonomy.freeze": gettext_lazy("%(who)s froze %(object)s"),
    "taxonomy.set_default": gettext_lazy("%(who)s made %(object)s the default"),
    "taxonomy.unchanged": gettext_lazy("%(who)s loaded %(object)s again, unchanged"),
    "taxonomy.updated": gettext_lazy("%(who)s updated %(object)s"),
    "two_factor.disable": gettext_lazy("%(who)s turned off two-factor sign-in for %(object)s"),
    "two_factor.enrol": gettext_lazy("%(who)s set up two-factor sign-in for %(object)s"),
    "two_factor.recovery_code_used": gettext_lazy("%(who)s signed in with a recovery code"),
    "two_factor.recovery_codes": gettext_lazy("%(who)s made new recovery codes for %(object)s"),
    "two_factor.start": gettext_lazy("%(who)s started setting up two-factor sign-in"),
    "user.active": gettext_lazy("%(who)s changed whether %(object)s may sign in"),
    "user.change": gettext_lazy("%(who)s changed %(object)s"),
    "user.create": gettext_lazy("%(who)s created %(object)s"),
    "user.name": gettext_lazy("%(who)s changed the name of %(object)s"),
    "user.password_change": gettext_lazy("%(who)s changed the password of %(object)s"),
    "user.password_reset": gettext_lazy("%(who)s reset the password of %(object)s"),
    "user.roles": gettext_lazy("%(who)s changed the roles of %(object)s"),
    "webhook.deliver": gettext_lazy("%(who)s delivered an event to %(object)s"),
    "webhook.give_up": gettext_lazy("%(who)s gave up delivering an event to %(object)s"),
    "webhook.queue": gettext_lazy("%(who)s queued an event for the webhooks"),
    "webhook.retry": gettext_lazy("%(who)s will try again to deliver an event to %(object)s"),
    "webhook.revoke": gettext_lazy("%(who)s revoked %(object)s"),
    "webhook.subscribe": gettext_lazy("%(who)s subscribed %(object)s"),
}

# The action's object in the filter list, where no particular one is meant ("someone closed a batch").
_ANY_OBJECT = {
    "adjudication": gettext_lazy("an exam"),
    "agreement": gettext_lazy("a batch"),
    "annotation": gettext_lazy("a read"),
    "assignment": gettext_lazy("an exam in a reader's queue"),
    "api_token": gettext_lazy("a token"),
    "batch": gettext_lazy("a batch"),
    "benchmark": gettext_lazy("a benchmark"),
    "broker": gettext_lazy("a job"),
    "dataset": gettext_lazy("a dataset"),
    "exam": gettext_lazy("an exam"),
    "exams": gettext_lazy("a dataset"),
    "import_job": gettext_lazy("an import job"),
    "reads": gettext_lazy("a batch"),
    "release": gettext_lazy("a release"),
    "suggestion": gettext_lazy("an exam"),
    "suggestions": gettext_lazy("a batch"),
    "taxonomy": gettext_lazy("a taxonomy"),
    "two_factor": gettext_lazy("an account"),
    "user": gettext_lazy("an account"),
    "webhook": gettext_lazy("a webhook"),
}


def audit_action_choices(current: str = "") -> list[tuple[str, str]]:
    """The action filter's list: every action in words, alphabetically in the page's language; a value
    the list does not hold (a prefix such as "annotation." typed into the address) is kept as it is."""
    someone = _("someone")
    listed = sorted(
        (
            (action, sentence % {"who": someone, "object": _ANY_OBJECT.get(action.split(".")[0], "")})
            for action, sentence in ACTION_SENTENCES.items()
        ),
        key=lambda choice: choice[1].lower(),
    )
    extra = [(current, current)] if current and current not in ACTION_SENTENCES else []
    return [("", _("every action")), *extra, *listed]


@dataclass(frozen=True)
class AuditLine:
    """One event as the page shows it."""

    event: AuditEvent
    sentence: str
    changes: list[tuple[str, str]]  # (field, "before → after" or the value)


def audit_lines(events: list[AuditEvent]) -> list[AuditLine]:
    """The page's events in words; the objects they name are read in one query per kind of object."""
    named = _objects_named(events)
    return [
        AuditLine(
            event=event,
            sentence=_sentence(event, named.get((event.target_type, event.target_id))),
            changes=_changes(event),
        )
        for event in events
    ]


def _sentence(event: AuditEvent, object_words: str | None) -> str:
    who = event.actor_username or _("The system")
    if object_words is None and event.target_type:
        object_words = _unknown_object(event.target_type, event.target_id)
    sentence = ACTION_SENTENCES.get(event.action)
    if sentence is None:  # an action with no words yet: who, and what it was done to
        return f"{who} · {object_words}" if object_words else who
    return sentence % {"who": who, "object": object_words or ""}


def _unknown_object(target_type: str, target_id: str) -> str:
    """An object no longer there, or of a kind the page has no words for: its kind and number."""
    try:
        kind = apps.get_model(target_type)._meta.verbose_name
    except (LookupError, ValueError):
        kind = target_type
    return _("%(kind)s #%(id)s") % {"kind": kind, "id": target_id}


def _exam_words(dataset: str, external_id: str) -> str:
    return _("exam %(dataset)s %(external_id)s") % {"dataset": dataset, "external_id": external_id}


def _in_batch(exam: str, batch: str, reader: str | None = None) -> str:
    if reader is None:
        return _("%(exam)s in batch “%(batch)s”") % {"exam": exam, "batch": batch}
    return _("%(exam)s of %(reader)s in batch “%(batch)s”") % {"exam": exam, "reader": reader, "batch": batch}


# Each kind of object the services audit: its rows' fields, and its words from them.
_EXAM = ("exam__dataset__name", "exam__external_id")
_KINDS: dict[type[Model], tuple[tuple[str, ...], Callable[..., str]]] = {
    ReviewBatch: (("name",), lambda name: _("batch “%(name)s”") % {"name": name}),
    Dataset: (("name",), lambda name: _("dataset “%(name)s”") % {"name": name}),
    Release: (("name",), lambda name: _("release “%(name)s”") % {"name": name}),
    WebhookSubscription: (("url",), lambda url: _("the webhook to %(url)s") % {"url": url}),
    Taxonomy: (
        ("key", "version"),
        lambda key, version: _("taxonomy %(key)s %(version)s") % {"key": key, "version": version},
    ),
    ImportJob: (
        ("pk", "dataset_name"),
        lambda pk, name: _("import job %(id)s (dataset “%(name)s”)") % {"id": pk, "name": name},
    ),
    Exam: (("dataset__name", "external_id"), _exam_words),
    BatchExam: (("batch__name", *_EXAM), lambda batch, *exam: _in_batch(_exam_words(*exam), batch)),
    Adjudication: (("batch__name", *_EXAM), lambda batch, *exam: _in_batch(_exam_words(*exam), batch)),
    Assignment: (
        ("batch__name", "reader__username", *_EXAM),
        lambda batch, reader, *exam: _in_batch(_exam_words(*exam), batch, reader),
    ),
    Annotation: (
        ("assignment__batch__name", "assignment__reader__username", *(f"assignment__{f}" for f in _EXAM)),
        lambda batch, reader, *exam: (
            _("the read of %(what)s") % {"what": _in_batch(_exam_words(*exam), batch, reader)}
        ),
    ),
    SuggestionExposure: (
        ("suggestion__provider", *(f"assignment__{f}" for f in _EXAM)),
        lambda provider, *exam: (
            _("the suggestion of %(provider)s for %(exam)s")
            % {"provider": provider, "exam": _exam_words(*exam)}
        ),
    ),
    Suggestion: (
        ("provider", *_EXAM),
        lambda provider, *exam: (
            _("the suggestion of %(provider)s for %(exam)s")
            % {"provider": provider, "exam": _exam_words(*exam)}
        ),
    ),
}


def _objects_named(events: list[AuditEvent]) -> dict[tuple[str, str], str]:
    wanted: dict[str, set[int]] = defaultdict(set)
    for event in events:
        if event.target_type and event.target_id.isdigit():
            wanted[event.target_type].add(int(event.target_id))
    kinds: dict[str, tuple[tuple[str, ...], Callable[..., str]]] = {
        model._meta.label_lower: spec for model, spec in _KINDS.items()
    }
    user = get_user_model()
    kinds[user._meta.label_lower] = (
        (user.USERNAME_FIELD,),
        lambda name: _("account “%(name)s”") % {"name": name},
    )
    named: dict[tuple[str, str], str] = {}
    for target_type, ids in wanted.items():
        spec = kinds.get(target_type)
        if spec is None:
            continue
        fields, words = spec
        model = apps.get_model(target_type)
        for pk, *values in model.objects.filter(pk__in=ids).values_list("pk", *fields):
            named[(target_type, str(pk))] = words(*values)
    return named


def _changes(event: AuditEvent) -> list[tuple[str, str]]:
    """Each field the event recorded: "before → after" where it changed, else its value."""
    before = event.before if isinstance(event.before, dict) else {}
    after = event.after if isinstance(event.after, dict) else {}
    choices = _field_choices(event.target_type)
    lines = []
    for key in [*before, *(k for k in after if k not in before)]:
        labels = choices.get(key)
        if key in before and key in after and before[key] != after[key]:
            text = f"{_value(before[key], labels)} → {_value(after[key], labels)}"
        elif key in after:
            text = _value(after[key], labels)
        else:
            text = f"{_value(before[key], labels)} → —"
        lines.append((key.replace("_", " "), text))
    if not lines:  # a value recorded bare (a list, a number)
        lines += [(_("before"), _value(event.before, None))] if event.before not in (None, {}) else []
        lines += [(_("after"), _value(event.after, None))] if event.after not in (None, {}) else []
    return lines


def _field_choices(target_type: str) -> dict[str, dict[str, Any]]:
    """The target model's fields with choices (a batch's status), whose stored values read as labels."""
    try:
        model = apps.get_model(target_type) if target_type else None
    except (LookupError, ValueError):
        model = None
    if model is None:
        return {}
    found = {}
    for field in model._meta.concrete_fields:
        if field.choices:
            found[field.name] = dict(field.flatchoices)
    return found


def _value(value: object, labels: dict[str, Any] | None) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if labels and isinstance(value, str) and value in labels:
        return str(labels[value])
    if isinstance(value, list):
        return ", ".join(_value(item, labels) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{key.replace('_', ' ')}: {_value(item, None)}" for key, item in value.items())
    if isinstance(value, str):
        return _moment(value)
    return str(localize(value))


def _moment(text: str) -> str:
    """An ISO date or moment recorded as text, as the page writes dates; any other text as it is."""
    if len(text) >= 10 and text[4:5] == "-" and text[:4].isdigit():
        try:
            moment = parse_datetime(text) if len(text) > 10 else None
            day = parse_date(text) if len(text) == 10 else None
        except ValueError:
            return text
        if isinstance(moment, datetime):
            if timezone.is_aware(moment):
                moment = timezone.localtime(moment)
            return date_format(moment, "SHORT_DATETIME_FORMAT")
        if isinstance(day, date):
            return date_format(day, "SHORT_DATE_FORMAT")
    return text
