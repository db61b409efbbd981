"""Who may see a batch as its coordinator, and who belongs to it as a reader."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.formats import date_format
from django.utils.translation import gettext

from annotations.errors import Forbidden, Invalid, NotFound
from annotations.models import Assignment, ReviewBatch
from annotations.roles import Role, has_role
from annotations.selectors.users import coordinators_until

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def require_coordinator(user: User) -> None:
    if not has_role(user, Role.COORDINATOR):
        raise Forbidden


def batch_for_coordinator(user: User, batch_id: int) -> ReviewBatch:
    require_coordinator(user)
    batch = ReviewBatch.objects.select_related("taxonomy").filter(pk=batch_id).first()
    if batch is None:
        # Django's own words and translation, as get_object_or_404 answered
        raise NotFound(gettext("No %s matches the given query.") % "ReviewBatch")
    return batch


def batch_reader_ids(batch: ReviewBatch) -> set[int]:
    """The batch's readers: those it was designed with or given later, and anyone holding a slot."""
    # Asked per account (an index probe each), not as DISTINCT over the batch's slots: 300k of them.
    holding = set(
        get_user_model()
        .objects.filter(Exists(Assignment.objects.filter(batch=batch, reader_id=OuterRef("pk"))))
        .values_list("pk", flat=True)
    )
    return holding | set((batch.design or {}).get("reader_ids", []))


def reading_reader_ids(reader_ids: Iterable[int]) -> set[int]:
    """Of these accounts, those that may be handed a read now: active, with the reader role, and no
    coordinator. A reader who left (deactivated, or the role taken away) keeps what they submitted and is
    handed nothing new; so is a reader made coordinator once their reads were done, who now sees every
    reader's labels (selectors.users.blind_refusal) and would read the batch's later exams,
    added or escalated, with the others' labels in reach, and one who was a coordinator for a while and
    is a reader again (selectors.users.coordinators_until)."""
    users = get_user_model().objects
    reading = set(
        users.filter(pk__in=list(reader_ids), is_active=True, groups__name=Role.READER.value)
        .exclude(groups__name=Role.COORDINATOR.value)
        .values_list("pk", flat=True)
    )
    return reading - set(coordinators_until(reading))


def batch_readers(batch: ReviewBatch) -> QuerySet[User]:
    """The batch's readers as accounts, by name, deactivated ones included (their unread exams must stay
    movable)."""
    return get_user_model().objects.filter(pk__in=batch_reader_ids(batch)).order_by("username")


def _why_no_reader(user_id: int, accounts: dict[int, Any]) -> str:
    """Why an account id names no active reader: no such account, deactivated, or without the role."""
    account = accounts.get(user_id)
    if account is None:
        return gettext("no account with id %(id)s") % {"id": user_id}
    if not account.is_active:
        return gettext("%(name)s is deactivated") % {"name": account.get_username()}
    if has_role(account, Role.READER) and has_role(account, Role.COORDINATOR):
        return gettext(
            "%(name)s is a coordinator: a coordinator sees every reader's labels, so cannot read blind"
        ) % {"name": account.get_username()}
    until = coordinators_until([user_id]).get(user_id)
    if has_role(account, Role.READER) and until is not None:
        return gettext(
            "%(name)s was a coordinator until %(date)s: a coordinator sees every reader's labels, so "
            "cannot read blind"
        ) % {"name": account.get_username(), "date": date_format(until.date(), "SHORT_DATE_FORMAT")}
    return gettext("%(name)s is not a reader") % {"name": account.get_username()}


def newcomers_named(batch: ReviewBatch, user_ids: list[int]) -> list[Any]:
    """The accounts these ids name, each an active reader not yet in the batch, in the order given; Invalid
    naming every id that is not (the API's "add readers", which the page offers from the same set)."""
    wanted = list(dict.fromkeys(user_ids))
    accounts = get_user_model().objects.in_bulk(wanted)
    members = batch_reader_ids(batch)
    reading = reading_reader_ids(wanted)
    problems = [
        gettext("%(name)s already reads this batch") % {"name": accounts[i].get_username()}
        if i in members
        else _why_no_reader(i, accounts)
        for i in wanted
        if i in members or i not in reading
    ]
    if problems:
        raise Invalid("; ".join(problems))
    return [accounts[i] for i in wanted]


def reassign_pair(batch: ReviewBatch, from_id: int, to_id: int) -> tuple[Any, ...]:
    """The reader whose unread exams move (any reader of the batch, a deactivated one included) and the
    active reader who takes them; Invalid saying what is wrong with either (the API's "reassign")."""
    accounts = get_user_model().objects.in_bulk([from_id, to_id])
    problems = []
    if from_id not in batch_reader_ids(batch):
        problems.append(
            gettext("%(name)s does not read this batch") % {"name": accounts[from_id].get_username()}
            if from_id in accounts
            else gettext("no account with id %(id)s") % {"id": from_id}
        )
    if to_id not in reading_reader_ids([to_id]):
        problems.append(_why_no_reader(to_id, accounts))
    if from_id == to_id and not problems:
        problems.append(gettext("choose two different readers"))
    if problems:
        raise Invalid("; ".join(problems))
    return accounts[from_id], accounts[to_id]
