"""In Chromium, a window 900 px wide (a laptop's screen shared with another window): no page of the app is
wider than the window, so nothing (the language switch, Log out, a table's last columns) hides off to the
right behind a horizontal scroll."""

from __future__ import annotations

import pytest

from tests.adjudication.test_adjudication import read
from tests.browser import screenshot_path
from tests.factories import batch_for, make_exam
from tests.reading.test_browser_reader import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NARROW = {"width": 900, "height": 800}

# The page's width beyond the window, and the elements that stick out past its right edge.
OVERFLOW_JS = """() => {
  const edge = document.documentElement.clientWidth;
  const out = [...document.querySelectorAll("body *")]
    .filter((el) => el.getBoundingClientRect().right > edge + 1 && !el.closest(".scroll-x"))
    .slice(0, 5).map((el) => `${el.tagName.toLowerCase()}.${el.className}`);
  return {extra: document.documentElement.scrollWidth - edge, out};
}"""


def overflow(page, url: str) -> dict:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    return page.evaluate(OVERFLOW_JS)


def test_no_page_is_wider_than_a_900_px_window(live_server, page, diego, ana, bruno, tnmg):
    exams = [make_exam(seed=i) for i in range(2)]
    batch = batch_for(tnmg, diego, [ana, bruno], exams, name="Narrow")
    read(ana, batch, exams[0], ["SB"])
    page.set_viewport_size(NARROW)
    log_in(page, live_server, "diego")
    pages = [
        "/",
        "/exams/",
        f"/exams/{exams[0].pk}/",
        "/batches/",
        "/batches/new/",
        f"/batches/{batch.pk}/",
        f"/batches/{batch.pk}/agreement/",
        "/imports/",
        "/releases/",
        "/audit/",
        "/people/",
        "/taxonomies/",
    ]
    wide = {url: found for url in pages if (found := overflow(page, live_server.url + url))["extra"] > 0}
    page.goto(f"{live_server.url}/audit/")
    page.screenshot(path=screenshot_path("narrow-window-audit"), full_page=True)
    assert wide == {}
