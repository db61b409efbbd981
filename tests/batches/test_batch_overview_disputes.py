"""A coordinator sees, on the home page, the batch list and the batches API, how many of each batch's exams
wait on an adjudicator; the count falls as decisions are signed and links the dashboard's disputed exams."""

from __future__ import annotations

import pytest

from annotations.services.adjudication import Decision, adjudication_decide
from tests.disputes import tied_batch

pytestmark = pytest.mark.django_db


@pytest.fixture
def batches(diego, tnmg):
    """Three exams of which two tie on 1dAVb, and a second batch with no dispute."""
    tied = tied_batch(coordinator=diego, taxonomy=tnmg, exams=3, tied=2)
    calm = tied_batch(coordinator=diego, taxonomy=tnmg, exams=1, tied=0, name="Calm")
    return tied.batch, calm.batch, tied.exams


def _rows(client) -> dict[str, int]:
    return {row["name"]: row["exams_disputed"] for row in client.get("/api/v1/batches/").json()}


def _cell(html: str, table_id: str, batch) -> str:
    """The 'awaiting adjudication' cell of the batch's row in the table."""
    table = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    row = table.split(f'href="/batches/{batch.pk}/"', 1)[1].split("</tr>", 1)[0]
    return row.split('class="disputed"', 1)[1].split("</td>", 1)[0]


def test_each_batch_counts_its_exams_awaiting_adjudication_until_they_are_decided(
    client_for, diego, carla, batches
):
    disputed, calm, exams = batches
    client = client_for(diego)
    assert _rows(client) == {"Disputes": 2, "Calm": 0}
    home, listing = client.get("/").content.decode(), client.get("/batches/").content.decode()
    for html, table in ((home, "batches"), (listing, "batch-list")):
        cell = _cell(html, table, disputed)
        assert f'href="/batches/{disputed.pk}/?exam_status=disputed#exams"' in cell and ">2</a>" in cell
        assert "href" not in _cell(html, table, calm) and "0" in _cell(html, table, calm)

    adjudication_decide(
        actor=carla, batch=disputed, exam_id=exams[0].pk, decisions=[Decision("1dAVb", True)], version=0
    )
    assert _rows(client) == {"Disputes": 1, "Calm": 0}
    adjudication_decide(
        actor=carla, batch=disputed, exam_id=exams[1].pk, decisions=[Decision("1dAVb", False)], version=0
    )
    assert _rows(client) == {"Disputes": 0, "Calm": 0}
    assert "exam_status=disputed" not in _cell(client.get("/").content.decode(), "batches", disputed)


def test_the_dashboard_link_lists_exactly_the_counted_exams(client_for, diego, batches):
    disputed, _, exams = batches
    html = client_for(diego).get(f"/batches/{disputed.pk}/?exam_status=disputed").content.decode()
    listed = {int(part.split('"', 1)[0]) for part in html.split('data-exam="')[1:]}
    assert listed == {exams[0].pk, exams[1].pk}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_coordinator_follows_the_count_from_home_to_the_disputed_exams(live_server, page, diego, batches):
    from tests.browser import screenshot_path
    from tests.reading.test_browser_reader import log_in

    disputed, _, exams = batches
    log_in(page, live_server, "diego")
    page.click(f'#batches a[href="/batches/{disputed.pk}/?exam_status=disputed#exams"]')
    page.wait_for_selector("#exam-status")
    assert page.input_value("#exam-status-filter") == "disputed"
    shown = page.eval_on_selector_all(
        "#exam-status tbody tr[data-exam]", "rows => rows.map(r => r.dataset.exam)"
    )
    assert sorted(map(int, shown)) == sorted([exams[0].pk, exams[1].pk])
    page.screenshot(path=screenshot_path("home-disputed-link"), full_page=True)
