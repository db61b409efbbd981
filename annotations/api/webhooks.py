"""Webhooks: a coordinator's subscriptions (the signing secret shown once), revoked by DELETE, and each
one's delivery log. docs/webhooks.md describes the events, their payloads and the signature."""

from __future__ import annotations

from typing import Any

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.errors import StrictSerializer
from annotations.api.permissions import IsCoordinator
from annotations.models import WebhookDelivery, WebhookEvent
from annotations.selectors.webhooks import webhook_deliveries, webhooks_visible
from annotations.services.webhooks.subscriptions import CreatedWebhook, webhook_revoke, webhook_subscribe
from annotations.views.access import _client_ip


class WebhookSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEvent.choices))
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)


class WebhookCreatedSerializer(WebhookSerializer):
    """Reads a CreatedWebhook: the subscription as listed, and beside it the signing secret."""

    secret = serializers.CharField(help_text="The signing secret, shown in this response only.")

    def to_representation(self, instance: CreatedWebhook) -> dict[str, Any]:
        listed = WebhookSerializer(instance.subscription, context=self.context).data
        return {**listed, "secret": self.fields["secret"].to_representation(instance.secret)}


class WebhookCreateSerializer(StrictSerializer):
    url = serializers.CharField(max_length=500, help_text="http(s) address of the receiver.")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices), allow_empty=False, max_length=20
    )


class WebhookAttemptSerializer(serializers.Serializer):
    attempt = serializers.IntegerField()
    at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    retry_in_s = serializers.IntegerField(allow_null=True, help_text="The back-off before the next attempt.")


class WebhookDeliverySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="uid", help_text="Sent as X-ECGReview-Delivery, the same on every try.")
    event = serializers.ChoiceField(choices=WebhookEvent.choices)
    state = serializers.ChoiceField(choices=WebhookDelivery.State.choices)
    attempts = serializers.IntegerField()
    status_code = serializers.IntegerField(allow_null=True)
    response_excerpt = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    history = WebhookAttemptSerializer(many=True)
    payload = serializers.JSONField(help_text="The body sent, as docs/webhooks.md describes it.")


class WebhookListView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(responses=WebhookSerializer(many=True))
    def get(self, request):
        """List webhooks

        Coordinators: their own subscriptions, newest first, revoked ones included. Never the secret."""
        return Response(WebhookSerializer(webhooks_visible(request.user), many=True).data)

    @extend_schema(request=WebhookCreateSerializer, responses={201: WebhookCreatedSerializer})
    def post(self, request):
        """Subscribe a webhook

        Coordinators. `events`: one or more of batch.completed, exam.escalated, release.built,
        import.finished, import.failed, benchmark.result_ready. The response holds the signing secret once.
        400 for an address that is not http(s), has credentials in it, or names a loopback or private
        host the operator has not allowed."""
        payload = WebhookCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        created = webhook_subscribe(
            actor=request.user,
            url=payload.validated_data["url"],
            events=payload.validated_data["events"],
            link_base=request.build_absolute_uri("/"),
            ip=_client_ip(request),
        )
        return Response(WebhookCreatedSerializer(created).data, status=status.HTTP_201_CREATED)


class WebhookDetailView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        """Revoke a webhook

        Coordinators, their own (another's answers 404). Deliveries still waiting are cancelled; the log
        stays. Revoking twice is not an error."""
        webhook_revoke(actor=request.user, subscription_id=pk, ip=_client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveryListView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(responses=WebhookDeliverySerializer(many=True))
    def get(self, request, pk: int):
        """A webhook's delivery log

        Coordinators, their own webhook's: the newest 100 deliveries, each with its attempts."""
        return Response(WebhookDeliverySerializer(webhook_deliveries(request.user, pk), many=True).data)


urlpatterns = [
    path("v1/webhooks/", WebhookListView.as_view(), name="api-webhook-list"),
    path("v1/webhooks/<int:pk>/", WebhookDetailView.as_view(), name="api-webhook-detail"),
    path(
        "v1/webhooks/<int:pk>/deliveries/", WebhookDeliveryListView.as_view(), name="api-webhook-deliveries"
    ),
]
