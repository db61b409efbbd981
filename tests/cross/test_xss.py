"""Hostile free text in every field a person can type, rendered in a real browser: nothing runs."""

import pytest

from annotations.models import Assignment
from annotations.services.reading import annotation_save_draft
from tests.browser import screenshot_path
from tests.factories import PASSWORD, DatasetFactory, ExamFactory, batch_for, make_exam
from tests.reading.helpers import ref
from tests.xss_payloads import PAYLOADS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_there_are_more_than_fifty_payloads_and_all_differ():
    assert len(set(PAYLOADS)) == len(PAYLOADS) > 50


def watch(page) -> list[str]:
    """Collect every sign of execution: dialogs, and CSP violations (a script that got into the page)."""
    events: list[str] = []
    page.on("dialog", lambda dialog: (events.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.on("console", lambda m: events.append(m.text) if "Content Security Policy" in m.text else None)
    return events


def log_in(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("main h1")


def visit(page, url) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("() => window.__xss") is None, url


def test_payloads_in_names_ids_comments_and_login_names_execute_nothing(
    live_server, page, ana, diego, tnmg, client
):
    dataset = DatasetFactory(name="hostile")
    # The first five get real waveforms: their reader pages are opened and drawn below.
    exams = [make_exam(dataset, payload[:200], seed=i) for i, payload in enumerate(PAYLOADS[:5])]
    exams += [ExamFactory(dataset=dataset, external_id=payload[:200]) for payload in PAYLOADS[5:]]
    for index, payload in enumerate(PAYLOADS):
        batch_for(tnmg, diego, [ana], [exams[index]], name=payload, seed=index)
    for payload in PAYLOADS:  # failed logins put the typed name into the audit trail
        client.post("/accounts/login/", {"username": payload[:150], "password": "x"}, REMOTE_ADDR="10.9.9.9")
    drafts = list(Assignment.objects.filter(reader=ana, exam__in=exams[:5]).order_by("pk"))
    for assignment, payload in zip(drafts, PAYLOADS[:5], strict=True):
        annotation_save_draft(actor=ana, assignment=assignment, labels=[], comment=payload, revision=0)

    events = watch(page)
    log_in(page, live_server, "diego")
    for path in (
        "/",
        "/batches/",
        "/exams/?dataset=hostile",
        f"/batches/{drafts[0].batch_id}/",
        "/admin/annotations/auditevent/",
        "/admin/annotations/reviewbatch/",
        "/admin/annotations/exam/",
    ):
        visit(page, f"{live_server.url}{path}")
    assert page.locator("text=<script>window.__xss=1</script>").count() >= 1  # shown as text, not run
    page.screenshot(path=screenshot_path("xss-admin-exams"), full_page=False)

    page.context.clear_cookies()
    log_in(page, live_server, "ana")
    visit(page, f"{live_server.url}/")
    for assignment in drafts:
        visit(page, f"{live_server.url}/read/{ref(assignment)}/")
        page.wait_for_selector(f"#ecg[data-drawn='{ref(assignment)}']")
        assert page.input_value("#comment") == assignment.annotations.get().comment
    assert events == []
