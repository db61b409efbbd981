"""The audit trail as a coordinator reads it: who did what to which object, in words ("diego created batch
“Demo”"), the values before and after as a readable list, never raw JSON or model names; the action filter
is a list of the actions in words. Over HTTP, and in Chromium in English and Portuguese."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from annotations.models import AuditEvent
from annotations.roles import Role
from annotations.selectors.audit.words import ACTION_SENTENCES
from annotations.services.batches.lifecycle import batch_close
from annotations.services.users import user_set_roles
from tests.browser import screenshot_path
from tests.factories import DatasetFactory, batch_for, make_exam
from tests.reading.test_browser_reader import log_in

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def trail(ana, bruno, diego, tnmg):
    exam = make_exam(DatasetFactory(name="ptb"), "s0010")
    batch = batch_for(tnmg, diego, [ana], [exam], name="Demo")
    batch_close(batch=batch, actor=diego)
    user_set_roles(user=bruno, roles={Role.READER, Role.ADJUDICATOR}, actor=diego)
    return batch, exam


def _rows(html: str) -> list[str]:
    table = html.split('id="audit-events"', 1)[1].split("</table>", 1)[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in table.split("<tr")[2:]]


@pytest.mark.django_db
def test_each_event_reads_as_a_sentence_with_its_changes(client_for, diego, trail):
    html = client_for(diego).get("/audit/").content.decode()
    rows = _rows(html)
    closed = next(row for row in rows if "closed batch “Demo”" in row)
    assert "diego closed batch “Demo”" in closed and "status: Active → Closed" in closed
    roles = next(row for row in rows if "changed the roles of" in row)
    assert "diego changed the roles of account “bruno”" in roles
    assert "roles: reader → adjudicator, reader" in roles
    assert any("The system added exam ptb s0010" in row for row in rows)
    table = html.split('id="audit-events"', 1)[1]
    for raw in ("annotations.reviewbatch", "auth.user", '{"', "&quot;status&quot;"):
        assert raw not in table, raw


@pytest.mark.django_db
def test_the_action_filter_lists_the_actions_in_words(client_for, diego, trail):
    client = client_for(diego)
    html = client.get("/audit/").content.decode()
    select = re.search(r'<select name="action"[^>]*>(.*?)</select>', html, re.S).group(1)
    options = dict(re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select))
    assert options[""] == "every action"
    assert options["batch.close"] == "someone closed a batch"
    assert set(ACTION_SENTENCES) <= set(options)
    closed = _rows(client.get("/audit/?action=batch.close").content.decode())
    assert len(closed) == 1 and "closed batch “Demo”" in closed[0]
    chosen = client.get("/audit/?action=batch.close").content.decode()
    assert re.search(r'<option value="batch.close" selected>', chosen)


def test_every_action_the_code_records_has_words():
    """A new audited action gets its sentence here (annotations/selectors/audit/words.py) or reads as raw."""
    recorded = set()
    for path in (ROOT / "annotations").rglob("*.py"):
        recorded |= set(re.findall(r'action="([a-z_]+\.[a-z_]+)"', path.read_text(encoding="utf-8")))
    recorded |= {f"import_job.{status}" for status in ("queued", "running", "done", "failed")}
    recorded |= {f"taxonomy.{outcome}" for outcome in ("created", "updated", "unchanged")}
    recorded |= {"annotation.save_draft", "annotation.submit", "auth.login_failed", "auth.login_locked"}
    assert sorted(recorded - set(ACTION_SENTENCES)) == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_coordinator_reads_the_trail_in_words_and_filters_it_in_chromium(
    live_server, page, diego, trail, tmp_path
):
    log_in(page, live_server, "diego")
    page.goto(f"{live_server.url}/audit/")
    page.select_option("select[name=action]", "batch.close")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/audit/?*action=batch.close*")
    rows = page.locator("#audit-events tbody tr")
    assert rows.count() == 1
    text = rows.first.inner_text()
    assert "diego closed batch “Demo”" in text and "status: Active → Closed" in text
    assert re.search(r"\b20\d\d-\d\d-\d\d \d\d:\d\d\b", text)
    path = tmp_path / "audit.png"
    page.screenshot(path=path, full_page=True)
    shutil.copy(path, screenshot_path("audit-in-words"))
    # In Portuguese: the sentence, the changes and the date in the page's language.
    page.select_option("select[name=language]", "pt-br")
    page.click("form.language button[type=submit]")
    page.goto(f"{live_server.url}/audit/?action=batch.close")
    text = page.locator("#audit-events tbody tr").first.inner_text()
    assert "diego encerrou o lote “Demo”" in text and "status: Ativo → Encerrado" in text
    assert re.search(r"\b\d\d/\d\d/20\d\d \d\d:\d\d\b", text)
    assert AuditEvent.objects.filter(action="batch.close").count() == 1
