"""A webhook from the page to a lab's receiver, in Chromium, on the two ways the product is run
(tests/stacks.py: `make run`'s embedded default, where the web process delivers after the response, and
PostgreSQL with a real Celery worker).

The coordinator subscribes a real local receiver (http.server in a thread) to "batch completed" on the
Webhooks page and copies the secret shown once; closes the demo batch on its page; the receiver gets one
delivery whose HMAC signature verifies with that secret and which names no reader, label or batch name;
the page's delivery log shows it delivered with the receiver's 200."""

from __future__ import annotations

import sys

import pytest
from playwright.sync_api import expect

from tests.browser import screenshot_path
from tests.stacks import Walk
from tests.webhooks.receiver import receiver, verify

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def shot(walk: Walk, page, step: str) -> None:
    page.screenshot(path=str(screenshot_path(f"webhooks-{walk.stack.name}-{step}")), full_page=True)


def subscribe(walk: Walk, url: str) -> str:
    page = walk.log_in("diego")
    page.click("#nav-webhooks")
    page.wait_for_url(f"{walk.stack.url}/webhooks/")
    page.fill("#id_url", url)
    page.locator("#id_events label", has_text="Batch completed").locator("input").check()
    page.click("#webhook-form button[type=submit]")
    secret = page.inner_text("#webhook-secret-value").strip()
    assert secret.startswith("whsec_")
    expect(page.locator("#webhook-subscriptions tbody tr")).to_contain_text(url)
    shot(walk, page, "1-subscribed")
    page.goto(f"{walk.stack.url}/webhooks/")  # shown once: a second look has no secret
    assert page.locator("#webhook-secret-value").count() == 0
    return secret


def close_the_demo_batch(walk: Walk) -> int:
    page = walk.log_in("diego")
    page.goto(f"{walk.stack.url}/batches/")
    page.locator("a", has_text="Demo batch").first.click()
    page.wait_for_url(f"{walk.stack.url}/batches/*/")
    batch_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#close-batch")
    page.wait_for_load_state()
    return batch_id


def test_a_coordinator_subscribes_and_the_receiver_gets_a_signed_delivery(browser, stack, tmp_path):
    walk = Walk(browser, stack, tmp_path)
    try:
        with receiver(200) as hook:
            secret = subscribe(walk, hook.url)
            batch_id = close_the_demo_batch(walk)
            (got,) = hook.wait_for(1, timeout=90)
        assert verify(secret, got), got.headers
        body = got.json
        assert body["event"] == "batch.completed" and body["data"]["batch"]["id"] == batch_id
        assert body["data"]["batch"]["url"] == f"{stack.url}/batches/{batch_id}/"
        assert body["data"]["closed"] is True
        text = got.body.decode()
        for word in ("ana", "bruno", "carla", "diego", "Demo batch"):
            assert word not in text, word
        page = walk.log_in("diego")
        page.goto(f"{stack.url}/webhooks/")
        row = page.locator("#webhook-deliveries tbody tr").first
        expect(row).to_have_attribute("data-state", "delivered")
        expect(row).to_contain_text("Batch completed")
        expect(row).to_contain_text("200")
        shot(walk, page, "2-delivered")
        ((state, attempts),) = stack.query("SELECT state, attempts FROM annotations_webhookdelivery")
        assert (state, attempts) == ("delivered", 1)
        assert walk.errors == []
    except Exception:
        walk.shoot_all("failed")
        print(stack.log_tail(), file=sys.stderr)
        raise
    finally:
        walk.close()
