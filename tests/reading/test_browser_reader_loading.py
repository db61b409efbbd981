"""How the reader page gets what it draws, in headless Chromium: the first exam's strips from the page itself
(its geometry and the view preferences) and its preloaded waveform, its context from the one preloaded API
request; a page the browser kept is drawn without the server, with a fresh context; the next exam in a
"shown" batch from its prefetched context, its suggestion and median beat following from the request that
records them as shown."""

from __future__ import annotations

import re

import pytest

from annotations.models import ReviewBatch, SuggestionExposure
from annotations.services.reading import reader_preferences_set
from tests.browser import STRIPS_OF, strips_js
from tests.reading.helpers import queue, ref, shared_batch
from tests.reading.test_browser_reader import GRID, figure, log_in, wait_drawn
from tests.reading.test_browser_reader_median import _suggest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CONTEXT = re.compile(r"/api/v1/reading/assignments/[A-Za-z0-9_-]{22}/(\?.*)?$")


def _api_requests(page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/api/v1/reading/" in r.url else None)
    return seen


def _answered(page) -> list[str]:
    """The reading API's requests the page has had answered, as they finish."""
    done: list[str] = []
    page.on("requestfinished", lambda r: done.append(r.url) if "/api/v1/reading/" in r.url else None)
    return done


def _wait_answered(page, done: list[str], url: str, timeout_s: float = 15.0) -> None:
    """Until the page has had `url` answered. Waiting for the "networkidle" state instead raced with the
    prefetch, which the page starts a little after the draw, when the browser is idle."""
    for _ in range(int(timeout_s / 0.05)):
        if url in done:
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"{url} was not answered within {timeout_s:.0f} s; answered: {done}")


def test_the_first_exam_is_drawn_asking_once_for_its_context_and_never_for_the_preferences(
    live_server, page, ana, bruno, diego, tnmg
):
    batch = shared_batch(
        readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1, mode=ReviewBatch.SuggestionMode.SHOWN
    )
    first = queue(batch, ana)[0]
    _suggest(first.exam, tnmg)
    reader_preferences_set(actor=ana, values={"layout": "6x2"})
    log_in(page, live_server, "ana")
    requests = _api_requests(page)
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    assert page.locator("#median-panel polyline").count() == 12
    assert "openecg-codec" in page.inner_text("#suggestion")
    assert page.input_value("#layout") == "6x2"
    assert len(page.evaluate(strips_js("ecg"))) == 12  # drawn 6x2, no rhythm strip
    # The head's preload and the script's request are one.
    context = f"{live_server.url}/api/v1/reading/assignments/{ref(first)}/"
    assert [url for url in requests if CONTEXT.search(url) or "/preferences/" in url] == [context]
    assert SuggestionExposure.objects.filter(assignment=first, reader=ana).count() == 1


def test_the_page_reads_the_first_exams_samples_while_the_server_still_builds_its_context(
    live_server, page, ana, bruno, diego, tnmg, monkeypatch
):
    """The waveform is preloaded from the page's head; the page takes its bytes in hand at once rather than
    when its context has arrived."""
    import threading

    from annotations.api import reading

    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    release, built = threading.Event(), reading.reading_context_opened

    def held_back(*args, **kwargs):
        release.wait(20)
        return built(*args, **kwargs)

    monkeypatch.setattr("annotations.api.reading.reading_context_opened", held_back)
    log_in(page, live_server, "ana")
    waveforms: list[str] = []
    page.on("request", lambda r: waveforms.append(r.url) if "/waveform/" in r.url else None)
    try:
        page.goto(f"{live_server.url}/read/{ref(first)}/", wait_until="commit")
        # The head's async module has arrived (and so run: it imports nothing); importing it again hands
        # over the page's own instance, whose request is the one already on its way.
        page.wait_for_function(
            "() => performance.getEntriesByType('resource')"
            ".some(e => e.name.endsWith('/static/js/pages/reading-waveform.js'))"
        )
        held = page.evaluate(
            "import('/static/js/pages/reading-waveform.js')"
            ".then(m => m.preloaded.samples).then(buffer => buffer.byteLength)"
        )
        assert held == 12 * first.exam.n_samples * 2
        assert page.locator("#statements .stmt").count() == 0  # the context is still being built
    finally:
        release.set()
    wait_drawn(page, first)
    assert len(waveforms) == 1  # the preload's one request serves both


@pytest.mark.parametrize("failure", ["no answer", "server error"])
def test_a_first_waveform_that_fails_is_asked_for_again_and_drawn(
    live_server, page, ana, bruno, diego, tnmg, failure
):
    """The head's request for the first exam's samples fails (the connection drops, or the server answers
    503): the page asks once more, draws the strips from that answer, and says nothing went wrong."""
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    log_in(page, live_server, "ana")
    asked: list[str] = []

    def first_fails(route):
        asked.append(route.request.url)
        if len(asked) > 1:
            return route.continue_()
        if failure == "no answer":
            return route.abort("connectionreset")
        return route.fulfill(status=503, body="busy")

    page.route("**/waveform/", first_fails)
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    assert len(asked) == 2
    assert len(page.evaluate(strips_js("ecg"))) == 13
    assert page.is_hidden("#message")


def test_the_strips_are_drawn_calibrated_before_the_context_arrives_and_stay_where_they_are(
    live_server, page, ana, bruno, diego, tnmg, monkeypatch
):
    """The page carries the exam's geometry and the reader's view preferences: the 13 strips are drawn
    from them and the preloaded samples while the server still builds the context, the median beat panel
    of a "shown" batch holding its place beside them; the context then fills the rest without drawing the
    strips again."""
    import threading

    from annotations.api import reading

    batch = shared_batch(
        readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1, mode=ReviewBatch.SuggestionMode.SHOWN
    )
    first = queue(batch, ana)[0]
    _suggest(first.exam, tnmg)
    release, built = threading.Event(), reading.reading_context_opened

    def held_back(*args, **kwargs):
        release.wait(20)
        return built(*args, **kwargs)

    monkeypatch.setattr("annotations.api.reading.reading_context_opened", held_back)
    page.add_init_script(
        "window.__draws = 0; let P; Object.defineProperty(window, 'Plotly', { configurable: true,"
        " get() { return P; }, set(v) { P = v; const react = v.react; v.react = function (gd) {"
        "   if (gd.id === 'ecg') window.__draws += 1; return react.apply(this, arguments); }; } });"
    )
    log_in(page, live_server, "ana")
    try:
        page.goto(f"{live_server.url}/read/{ref(first)}/", wait_until="commit")
        page.wait_for_function(
            "() => { const gd = document.getElementById('ecg'); return gd && gd.dataset.drawnAt"
            f" && gd.data && {STRIPS_OF}(gd).length === 13; }}"
        )
        # The context is still being built.
        assert page.locator("#statements .stmt").count() == 0 and not page.is_visible("#suggestion")
        square, px_200ms = figure(page, GRID + " return [square, xa.l2p(t.x[100]) - xa.l2p(t.x[0])];")
        assert square[0] > 4 and abs(square[0] - square[1]) < 0.02  # a major square is square on screen
        assert abs(px_200ms - square[0]) < 0.05  # 5 mm is 200 ms at 25 mm/s
        panel = page.evaluate(
            "(() => { const box = document.getElementById('median-panel');"
            " return { shown: !box.hidden, beats: box.querySelectorAll('polyline').length,"
            " width: box.getBoundingClientRect().width,"
            " strips: document.querySelector('#ecg .main-svg').getAttribute('width') }; })()"
        )
        assert panel["shown"] and panel["beats"] == 0  # its place is held, empty
        assert not page.locator("#ecg[data-drawn]").count()  # not ready to be read before its context
    finally:
        release.set()
    wait_drawn(page, first)
    page.wait_for_selector("#statements .stmt")
    assert page.locator("#median-panel polyline").count() == 12
    assert "openecg-codec" in page.inner_text("#suggestion")
    now = page.evaluate(
        "({ width: document.getElementById('median-panel').getBoundingClientRect().width,"
        " strips: document.querySelector('#ecg .main-svg').getAttribute('width') })"
    )
    assert now["width"] == pytest.approx(panel["width"], abs=0.5) and now["strips"] == panel["strips"]
    assert page.evaluate("window.__draws") == 1  # the strips were not drawn again


def test_the_strips_reach_the_screen_before_the_statement_rows_are_built(
    live_server, page, ana, bruno, diego, tnmg, monkeypatch
):
    """The reader looks at the tracing first: once the first exam's strips are drawn, the browser paints a
    frame before the 70-odd statement rows are built, also when the context arrived before the samples
    (as on a warm load, the samples being the larger), rather than both after one long task. Here the
    samples are held back until the context has been answered. What the page's animation frames saw, from
    the page's first script on: the strips drawn, and the rows there or not."""
    import threading

    from annotations.api import reading
    from annotations.views import reading as reading_views

    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    answered = threading.Event()
    built, served = reading.reading_context_opened, reading_views.waveform_response

    def context_first(*args, **kwargs):
        try:
            return built(*args, **kwargs)
        finally:
            answered.set()

    def samples_after(*args, **kwargs):
        answered.wait(20)
        threading.Event().wait(0.3)  # the context's answer on its way to the page
        return served(*args, **kwargs)

    monkeypatch.setattr("annotations.api.reading.reading_context_opened", context_first)
    monkeypatch.setattr("annotations.views.reading.waveform_response", samples_after)
    page.add_init_script(
        "window.__frames = []; (function look() { const gd = document.getElementById('ecg');"
        " const strips = gd ? gd.querySelectorAll('.scatterlayer path.js-line').length : 0;"
        " const rows = document.querySelectorAll('#statements .stmt').length;"
        " window.__frames.push([strips, rows]); if (!(strips && rows)) requestAnimationFrame(look); })();"
    )
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    page.wait_for_function("() => window.__frames.some(([strips, rows]) => strips && rows)")
    frames = page.evaluate("window.__frames")
    assert any(strips == 13 and rows == 0 for strips, rows in frames), frames
    assert page.locator("#statements .stmt").count() > 60


def test_in_a_shown_batch_the_next_exam_opens_from_its_prefetch_and_its_suggestion_follows(
    live_server, page, ana, bruno, diego, tnmg
):
    batch = shared_batch(
        readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2, mode=ReviewBatch.SuggestionMode.SHOWN
    )
    first, following = queue(batch, ana)
    _suggest(first.exam, tnmg)
    _suggest(following.exam, tnmg)
    page.add_init_script(
        "window.__draws = []; document.addEventListener('ecg:drawn', e => window.__draws.push("
        "[e.detail, document.querySelector('#ecg .main-svg').getAttribute('width')]));"
    )
    log_in(page, live_server, "ana")
    requests, answered = _api_requests(page), _answered(page)
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    prefetch = f"{live_server.url}/api/v1/reading/assignments/{ref(following)}/?prefetch=1&from={ref(first)}"
    # The next exam's waveform and context are prefetched.
    _wait_answered(page, answered, f"{live_server.url}/api/v1/reading/assignments/{ref(following)}/waveform/")
    _wait_answered(page, answered, prefetch)
    opened = f"{live_server.url}/api/v1/reading/assignments/{ref(first)}/"
    assert [u for u in requests if CONTEXT.search(u)] == [opened, prefetch]
    # Prefetched, not shown: its suggestion is neither sent nor recorded yet.
    assert not SuggestionExposure.objects.filter(assignment=following).exists()
    page.keyboard.press("n")
    page.keyboard.press("Enter")
    wait_drawn(page, following)
    # The suggestion and the median beat come with the request made as it opened, which records them.
    page.wait_for_selector("#median-panel polyline")
    assert page.locator("#median-panel polyline").count() == 12
    assert "openecg-codec" in page.inner_text("#suggestion")
    assert f"{live_server.url}/api/v1/reading/assignments/{ref(following)}/" in requests
    assert SuggestionExposure.objects.filter(assignment=following, reader=ana).count() == 1
    # Drawn once, at the width of the first exam's strips: the panel held its place meanwhile.
    draws = page.evaluate("window.__draws")
    assert [d for d in draws if d[0] == ref(following)] == [[ref(following), draws[0][1]]]


def _navigation(page) -> dict:
    """How the document on screen came: its transfer size (0 when the browser used a copy it kept)."""
    return page.evaluate(
        "(() => { const n = performance.getEntriesByType('navigation')[0];"
        " return { transfer: n.transferSize, type: n.type }; })()"
    )


def _reopen(page, live_server, assignment) -> None:
    """Away to the home page and back to the exam by its address, as a link from "My reads" does."""
    page.goto(f"{live_server.url}/")
    page.wait_for_selector("main h1")
    page.goto(f"{live_server.url}/read/{ref(assignment)}/")
    wait_drawn(page, assignment)


def test_a_reopened_page_is_drawn_from_the_kept_copy_with_the_read_as_saved_since(
    live_server, page, ana, bruno, diego, tnmg
):
    """The browser keeps the reader page and uses it without asking the server when the exam is opened
    again; what the page shows of the read comes from the API each time, so a draft saved after the page
    was kept is there, and the suggestion shown is recorded once."""
    batch = shared_batch(
        readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1, mode=ReviewBatch.SuggestionMode.SHOWN
    )
    first = queue(batch, ana)[0]
    _suggest(first.exam, tnmg)
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    assert _navigation(page)["transfer"] > 0  # the first time from the server
    page.keyboard.press("n")  # "Normal ECG", saved as a draft
    page.wait_for_selector("#save-state:has-text('Draft saved')")
    documents: list[str] = []
    page.on("request", lambda r: documents.append(r.url) if r.resource_type == "document" else None)
    requests = _api_requests(page)
    _reopen(page, live_server, first)
    assert _navigation(page)["transfer"] == 0  # the kept copy
    assert f"{live_server.url}/read/{ref(first)}/" in documents  # asked of the cache, not the server:
    context = f"{live_server.url}/api/v1/reading/assignments/{ref(first)}/"
    assert [u for u in requests if CONTEXT.search(u)] == [context]  # the context, fresh
    page.wait_for_selector("#statements .stmt.on")
    assert "NORM" in page.inner_text("#chosen")
    assert "openecg-codec" in page.inner_text("#suggestion")
    assert SuggestionExposure.objects.filter(assignment=first, reader=ana).count() == 1


def test_a_page_kept_before_the_preferences_changed_is_not_used_again(
    live_server, page, ana, bruno, diego, tnmg
):
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    _reopen(page, live_server, first)
    assert _navigation(page)["transfer"] == 0 and page.input_value("#layout") == "3x4"
    with page.expect_response("**/api/v1/reading/preferences/"):
        page.select_option("#layout", "6x2")
    _reopen(page, live_server, first)
    assert _navigation(page)["transfer"] > 0  # asked afresh: the view cookie changed
    assert page.input_value("#layout") == "6x2"
    assert len(page.evaluate(strips_js("ecg"))) == 12  # drawn 6x2, no rhythm strip


def test_after_logging_out_the_kept_page_is_shown_to_no_one(live_server, page, ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1)
    first = queue(batch, ana)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    page.click(".logout button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    assert "/accounts/login/" in page.url  # not the kept page: the session cookie is gone
    log_in(page, live_server, "bruno")
    answer = page.goto(f"{live_server.url}/read/{ref(first)}/")
    assert answer.status == 404  # bruno's session: asked of the server, which says no
    assert page.locator("#ecg").count() == 0
