"""Two-factor sign-in: a TOTP authenticator app (django-otp's TOTPDevice) and single-use recovery codes.

Enrolment is two writes: a new, unconfirmed device (its secret shown as a QR code), then its confirmation
with a first code, which also hands out the recovery codes, shown once and stored as digests. Every
attempt at sign-in counts towards the same lockout as passwords (services.auth), per account and address.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.crypto import hash_token

from annotations.errors import Forbidden, Invalid
from annotations.models import RecoveryCode
from annotations.roles import Role, has_role
from annotations.services.audit import audit_record

if TYPE_CHECKING:
    from django.contrib.auth.models import User

RECOVERY_CODES = 10
# Lower-case letters and digits without the look-alikes (0/o, 1/l/i): typed from paper.
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_STAFF = (Role.COORDINATOR, Role.ADJUDICATOR)


def two_factor_device(user: User, *, confirmed: bool = True) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=confirmed).order_by("-id").first()


def two_factor_enrolled(user: User) -> bool:
    enrolled: bool = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    return enrolled


def two_factor_required(user: User) -> bool:
    """Whether the operator requires this account to use a second factor (TWO_FACTOR_REQUIRED_FOR_STAFF)."""
    return settings.TWO_FACTOR_REQUIRED_FOR_STAFF and any(has_role(user, role) for role in _STAFF)


def _normal(code: str) -> str:
    return "".join((code or "").split()).replace("-", "").lower()


def _new_recovery_codes(user: User) -> list[str]:
    RecoveryCode.objects.filter(user=user).delete()
    codes = [get_random_string(10, _CODE_ALPHABET) for _ in range(RECOVERY_CODES)]
    RecoveryCode.objects.bulk_create(RecoveryCode(user=user, digest=hash_token(code)) for code in codes)
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def totp_device_start(*, user: User, ip: str | None = None) -> TOTPDevice:
    """A new unconfirmed device for the account (replacing an earlier unconfirmed one)."""
    if two_factor_enrolled(user):
        raise Invalid(_("Two-factor sign-in is already on; turn it off first to enrol another app."))
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name=_("Authenticator app"), confirmed=False)
        audit_record(actor=user, action="two_factor.start", target=user, ip_address=ip)
    return device


def totp_device_confirm(*, user: User, code: str, ip: str | None = None) -> list[str]:
    """Confirm the unconfirmed device with a code it shows; returns the recovery codes (shown once)."""
    device = two_factor_device(user, confirmed=False)
    if device is None:
        raise Invalid(_("Start the enrolment again: no authenticator app is waiting for a code."))
    with transaction.atomic():
        if not device.verify_token(_normal(code)):
            raise Invalid(_("That code is not the one the app shows now. Check the phone's clock."))
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _new_recovery_codes(user)
        audit_record(actor=user, action="two_factor.enrol", target=user, ip_address=ip)
    return codes


def recovery_codes_renew(*, user: User, ip: str | None = None) -> list[str]:
    if not two_factor_enrolled(user):
        raise Invalid(_("Two-factor sign-in is off for this account."))
    with transaction.atomic():
        codes = _new_recovery_codes(user)
        audit_record(actor=user, action="two_factor.recovery_codes", target=user, ip_address=ip)
    return codes


def two_factor_disable(*, actor: User, user: User, ip: str | None = None) -> None:
    """Turn the second factor off: for one's own account, or a coordinator's reset of another's (a lost
    phone). Where the operator requires it, the account enrols again at its next sign-in."""
    if actor.pk != user.pk and not has_role(actor, Role.COORDINATOR):
        raise Forbidden(_("Only coordinators reset another account's two-factor sign-in."))
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
        audit_record(actor=actor, action="two_factor.disable", target=user, ip_address=ip)


def two_factor_check(user: User, code: str) -> str | None:
    """Whether the code is the account's current TOTP code ("totp") or one of its unused recovery codes
    ("recovery", then used up); None otherwise. The caller counts failures towards the lockout."""
    code = _normal(code)
    if not code or len(code) > 20:
        return None
    device = two_factor_device(user)
    if device is not None and code.isdigit() and device.verify_token(code):
        return "totp"
    with transaction.atomic():
        used = RecoveryCode.objects.filter(user=user, digest=hash_token(code), used_at__isnull=True).update(
            used_at=timezone.now()
        )
        if used:
            audit_record(actor=user, action="two_factor.recovery_code_used", target=user)
            return "recovery"
    return None
