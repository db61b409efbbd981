"""Credentials beyond the password: API tokens and two-factor recovery codes.

Only a digest of each secret is stored (knox's hash: SHA-512 of a 256-bit random string), so a copy of
the database signs nobody in. The TOTP devices themselves are django-otp's (otp_totp.TOTPDevice).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TokenScope(models.TextChoices):
    """What a token may do, always within its user's roles (a scope restricts, never widens)."""

    READ_ONLY = "read_only", _("Read only")
    READER = "reader", _("Reader")
    ADJUDICATOR = "adjudicator", _("Adjudicator")
    COORDINATOR = "coordinator", _("Coordinator")
    # A submitter's token for one benchmark: that benchmark's tracings and their own submissions to it.
    BENCHMARK = "benchmark", _("One benchmark")


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=20, choices=TokenScope.choices)
    # The object a scope names (a benchmark's id for a one-benchmark scope); none for the role scopes.
    scope_object_id = models.PositiveBigIntegerField(null=True, blank=True)
    # The token's first characters, shown in lists and used to find the row before comparing digests.
    token_key = models.CharField(max_length=15, db_index=True)
    digest = models.CharField(max_length=128, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="api_tokens_created"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(scope__in=TokenScope.values),
                name="api_token_scope_known",
            ),
            models.CheckConstraint(
                condition=Q(scope="benchmark", scope_object_id__isnull=False)
                | (~Q(scope="benchmark") & Q(scope_object_id__isnull=True)),
                name="api_token_object_names_its_benchmark",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")), name="api_token_expires_later"
            ),
            models.CheckConstraint(condition=~Q(name=""), name="api_token_named"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.token_key}…)"


class RecoveryCode(models.Model):
    """A single-use code that stands in for the authenticator app at sign-in."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    digest = models.CharField(max_length=128, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"recovery code {self.pk} of {self.user_id}"


class SsoIdentity(models.Model):
    """A person at an OpenID provider (its issuer and the subject it names them by), linked to the local
    account they sign in as. The subject, never the email address, identifies them: an address can be
    changed or given to someone else at the provider, the subject cannot."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identities"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="sso_identity_unique_subject"),
            models.UniqueConstraint(fields=["user", "issuer"], name="sso_identity_one_per_provider"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"


class SsoSession(models.Model):
    """A session of this app signed in through the provider, by the provider's session id (`sid` in the
    ID token) when it gives one: what a back-channel logout from the provider names, so that the
    sessions it opened here end with it."""

    identity = models.ForeignKey(SsoIdentity, on_delete=models.CASCADE, related_name="sessions")
    session_key = models.CharField(max_length=40, unique=True)
    sid = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["identity", "sid"], name="sso_session_by_sid")]

    def __str__(self) -> str:
        return f"session of {self.identity} ({self.sid or 'no sid'})"
