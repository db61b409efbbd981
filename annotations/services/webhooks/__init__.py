"""Webhooks: subscriptions (services.webhooks.subscriptions), the events (services.webhooks.events) and their
signed deliveries (services.webhooks.deliveries)."""
