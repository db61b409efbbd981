"""Accounts as the People page lists them, and whether an account must replace a handed-out password."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib.auth import SESSION_KEY, get_user_model
from django.db.models import Count, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from annotations.errors import Forbidden, NotFound
from annotations.models import Assignment, AuditEvent, ReviewBatch
from annotations.roles import Role, has_role

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.http import HttpRequest

PASSWORD_EVENTS = ("user.create", "user.password_reset", "user.password_change")
CONSOLE_ACTOR = "system:console"  # services.users.CONSOLE_ACTOR: an account opened on the server's console


def coordinators_until(user_ids: Iterable[int]) -> dict[int, datetime]:
    """user id -> when the coordinator role was last taken from them, for those of `user_ids` who held it
    once and hold it no more. Every role change is audited by services.users ("user.roles", with the roles
    before and after), which is the only record of it; the few rows per account are read whole, since
    the JSON containment lookup is not in the embedded SQLite's Django."""
    ids = {str(int(pk)): int(pk) for pk in user_ids}
    if not ids:
        return {}
    changes = AuditEvent.objects.filter(action="user.roles", target_type="auth.user", target_id__in=list(ids))
    until: dict[int, datetime] = {}
    for target, before, after, when in changes.order_by("occurred_at", "pk").values_list(
        "target_id", "before", "after", "occurred_at"
    ):
        held = Role.COORDINATOR.value in ((before or {}).get("roles") or [])
        kept = Role.COORDINATOR.value in ((after or {}).get("roles") or [])
        if held and not kept:
            until[ids[target]] = when
        elif kept:
            until.pop(ids[target], None)  # made coordinator again: refused as such while it lasts
    return until


def reader_unread_batches(user: User, account: User) -> list[dict[str, Any]]:
    """The running batches where `account` still holds exams it has not submitted or skipped (not
    started, or a draft), with how many: what nobody reads once the account stops reading."""
    if not has_role(user, Role.COORDINATOR):
        raise Forbidden
    rows = (
        Assignment.objects.filter(
            reader=account,
            batch__status=ReviewBatch.Status.ACTIVE,
            status__in=[Assignment.Status.PENDING, Assignment.Status.IN_PROGRESS],
        )
        .values("batch_id", "batch__name")
        .annotate(unread=Count("id"))
        .order_by("batch__name", "batch_id")
    )
    return [{"id": row["batch_id"], "name": row["batch__name"], "unread": row["unread"]} for row in rows]


def people_list(user: User) -> list[dict[str, Any]]:
    """Every account with its roles, for coordinators."""
    if not has_role(user, Role.COORDINATOR):
        raise Forbidden
    accounts = get_user_model().objects.prefetch_related("groups").order_by("username")
    return [
        {
            "id": account.pk,
            "username": account.get_username(),
            "first_name": account.first_name,
            "last_name": account.last_name,
            "full_name": account.get_full_name(),
            "email": account.email,
            "is_active": account.is_active,
            "roles": sorted(g.name for g in account.groups.all() if g.name in {r.value for r in Role}),
            "last_login": account.last_login,
            "is_self": account.pk == user.pk,
        }
        for account in accounts
    ]


def reader_has_open_reads(user: User) -> bool:
    """Whether the account still has reads to do in a running batch: the coordinator role, which shows
    everyone's labels, is withheld from it until they are done."""
    open_reads: bool = Assignment.objects.filter(
        reader=user,
        status__in=[Assignment.Status.PENDING, Assignment.Status.IN_PROGRESS],
        batch__status=ReviewBatch.Status.ACTIVE,
    ).exists()
    return open_reads


def username_taken(username: str, *, exclude_pk: int | None = None) -> bool:
    """Another account holds this name in some case: the login matches names case-folded."""
    accounts = get_user_model().objects.filter(username__iexact=username)
    return accounts.exclude(pk=exclude_pk).exists() if exclude_pk is not None else accounts.exists()


def password_must_change(user: User) -> bool:
    """True when the account's last password event is one someone else made for it (an account opened
    or a password reset by a coordinator, or an account opened on the server's console): the password was
    handed over and must be replaced."""
    last = (
        AuditEvent.objects.filter(
            target_type=user._meta.label_lower, target_id=str(user.pk), action__in=PASSWORD_EVENTS
        )
        .order_by("-occurred_at", "-id")
        .values("action", "actor_id", "actor_username")
        .first()
    )
    if last is None or last["action"] == "user.password_change":
        return False
    if last["actor_id"] is None:
        return last["actor_username"] == CONSOLE_ACTOR
    return last["actor_id"] != user.pk


def active_readers() -> QuerySet[Any]:
    """Accounts that may be handed reads: active, with the reader role, by name."""
    return (
        get_user_model().objects.filter(is_active=True, groups__name=Role.READER.value).order_by("username")
    )


def account_of(value: Any) -> User | None:
    """The account whose id is `value` (as submitted: any text), active or not, or None."""
    try:
        user_id = int(value)
    except (TypeError, ValueError):
        return None
    if not 1 <= user_id <= 2**63 - 1:
        return None
    return get_user_model().objects.filter(pk=user_id).first()


def account_get(user: User, user_id: Any) -> Any:
    """The account a coordinator acts on from the People page, active or not: NotFound (the 404 page) for
    an id that names none, however large; Forbidden for anyone but a coordinator."""
    if not has_role(user, Role.COORDINATOR):
        raise Forbidden
    account = account_of(user_id)
    if account is None:
        raise NotFound
    return account


def active_account(user_id: int) -> User | None:
    """The active account with this id, or None."""
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


def session_account_deactivated(request: HttpRequest) -> bool:
    """Whether the request's session was signed in by an account deactivated since: Django then treats the
    request as anonymous, and the caller can say why instead of asking for credentials it had."""
    session = getattr(request, "session", None)
    user_id = session.get(SESSION_KEY) if session is not None else None
    if user_id is None:
        return False
    return get_user_model().objects.filter(pk=user_id, is_active=False).exists()


def blind_refusal(readers: Sequence[Any]) -> str:
    """Why these accounts cannot read blind, or "": a coordinator sees every reader's labels (the
    agreement CSVs, releases, exam pages), so no coordinator is given a read in any batch, nor anyone who
    was one: taking the role away does not take away what was seen with it."""
    names = [r.get_username() for r in readers if has_role(r, Role.COORDINATOR)]
    until = coordinators_until(r.pk for r in readers if not has_role(r, Role.COORDINATOR))
    former = [
        _("%(name)s was a coordinator until %(date)s")
        % {"name": r.get_username(), "date": f"{until[r.pk]:%Y-%m-%d}"}
        for r in readers
        if r.pk in until
    ]
    reasons = []
    if names:
        reasons.append(
            ngettext(
                "%(names)s is a coordinator: a coordinator sees every reader's labels, so cannot read blind; "
                "take the coordinator role away first, or choose another reader",
                "%(names)s are coordinators: a coordinator sees every reader's labels, so cannot read blind; "
                "take the coordinator role away first, or choose another reader",
                len(names),
            )
            % {"names": ", ".join(names)}
        )
    if former:
        reasons.append(
            ngettext(
                "%(accounts)s: a coordinator sees every reader's labels, so this account cannot read blind; "
                "choose another reader",
                "%(accounts)s: a coordinator sees every reader's labels, so these accounts cannot read "
                "blind; choose another reader",
                len(former),
            )
            % {"accounts": ", ".join(former)}
        )
    return "; ".join(reasons)
