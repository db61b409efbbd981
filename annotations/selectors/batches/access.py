"""Who may see a batch as its coordinator, and who belongs to it as a reader."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext

from annotations.errors import Forbidden, NotFound
from annotations.models import Assignment, ReviewBatch
from annotations.roles import Role, has_role


def require_coordinator(user) -> None:
    if not has_role(user, Role.COORDINATOR):
        raise Forbidden


def batch_for_coordinator(user, batch_id: int) -> ReviewBatch:
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


def reading_reader_ids(reader_ids) -> set[int]:
    """Of these accounts, those that may be handed a read now: active, with the reader role. A reader who
    left (deactivated, or the role taken away) keeps what they submitted and is handed nothing new."""
    return set(
        get_user_model()
        .objects.filter(pk__in=list(reader_ids), is_active=True, groups__name=Role.READER.value)
        .values_list("pk", flat=True)
    )


def batch_readers(batch: ReviewBatch):
    """The batch's readers as accounts, by name, deactivated ones included (their unread exams must stay
    movable)."""
    return get_user_model().objects.filter(pk__in=batch_reader_ids(batch)).order_by("username")
