"""How the reader page gets what it draws, in headless Chromium: the first exam from the page itself (no
round trip for its context or the view preferences), the next one in a "shown" batch from its prefetched
context, its suggestion and median beat following from the request that records them as shown."""

from __future__ import annotations

import re

import pytest

from annotations.models import ReviewBatch, SuggestionExposure
from annotations.services.reading import reader_preferences_set
from tests.reading.helpers import queue, shared_batch
from tests.reading.test_browser_reader import log_in, wait_drawn
from tests.reading.test_browser_reader_median import _suggest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CONTEXT = re.compile(r"/api/v1/reading/assignments/\d+/(\?.*)?$")


def _api_requests(page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/api/v1/reading/" in r.url else None)
    return seen


def test_the_first_exam_is_drawn_without_asking_for_its_context_or_the_preferences(
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
    page.goto(f"{live_server.url}/read/{first.pk}/")
    wait_drawn(page, first)
    assert page.locator("#median-panel polyline").count() == 12
    assert "openecg-codec" in page.inner_text("#suggestion")
    assert page.input_value("#layout") == "6x2"
    assert len(page.evaluate("document.getElementById('ecg').data")) == 12  # drawn 6x2, no rhythm strip
    assert [url for url in requests if CONTEXT.search(url) or "/preferences/" in url] == []
    assert SuggestionExposure.objects.filter(assignment=first, reader=ana).count() == 1


def test_the_page_reads_the_first_exams_samples_while_the_server_still_builds_its_context(
    live_server, page, ana, bruno, diego, tnmg, monkeypatch
):
    """The waveform is preloaded from the page's head; the page takes its bytes in hand at once rather than
    when its context has arrived, so drawing starts as soon as the context is there."""
    import threading

    from annotations.views import reading

    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    release, built = threading.Event(), reading.reading_context_opened

    def held_back(*args, **kwargs):
        release.wait(20)
        return built(*args, **kwargs)

    monkeypatch.setattr("annotations.views.reading.reading_context_opened", held_back)
    log_in(page, live_server, "ana")
    waveforms: list[str] = []
    page.on("request", lambda r: waveforms.append(r.url) if "/waveform/" in r.url else None)
    try:
        page.goto(f"{live_server.url}/read/{first.pk}/", wait_until="commit")
        page.wait_for_function("() => window.ReadingWaveform && window.ReadingWaveform.samples")
        held = page.evaluate("window.ReadingWaveform.samples.then(buffer => buffer.byteLength)")
        assert held == 12 * first.exam.n_samples * 2
        assert page.locator("#reading-context").count() == 0  # the context is still being built
    finally:
        release.set()
    wait_drawn(page, first)
    assert len(waveforms) == 1  # the preload's one request serves both


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
    requests = _api_requests(page)
    page.goto(f"{live_server.url}/read/{first.pk}/")
    wait_drawn(page, first)
    page.wait_for_load_state("networkidle")  # the next exam's waveform and context are prefetched
    assert [u for u in requests if CONTEXT.search(u)] == [
        f"{live_server.url}/api/v1/reading/assignments/{following.pk}/?prefetch=1&from={first.pk}"
    ]
    # Prefetched, not shown: its suggestion is neither sent nor recorded yet.
    assert not SuggestionExposure.objects.filter(assignment=following).exists()
    page.keyboard.press("n")
    page.keyboard.press("Enter")
    wait_drawn(page, following)
    # The suggestion and the median beat come with the request made as it opened, which records them.
    page.wait_for_selector("#median-panel polyline")
    assert page.locator("#median-panel polyline").count() == 12
    assert "openecg-codec" in page.inner_text("#suggestion")
    assert f"{live_server.url}/api/v1/reading/assignments/{following.pk}/" in requests
    assert SuggestionExposure.objects.filter(assignment=following, reader=ana).count() == 1
    # Drawn once, at the width of the first exam's strips: the panel held its place meanwhile.
    draws = page.evaluate("window.__draws")
    assert [d for d in draws if d[0] == following.pk] == [[following.pk, draws[0][1]]]


def test_a_page_whose_context_failed_on_the_way_draws_the_exam_from_the_api(
    live_server, page, ana, bruno, diego, tnmg, monkeypatch
):
    """The page leaves before its context is built; when building it fails then, the status line has
    already said 200, so the page asks the API for the context and preferences and draws as usual."""
    batch = shared_batch(
        readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1, mode=ReviewBatch.SuggestionMode.SHOWN
    )
    first = queue(batch, ana)[0]
    _suggest(first.exam, tnmg)
    reader_preferences_set(actor=ana, values={"layout": "6x2"})

    def lost(*args, **kwargs):
        raise RuntimeError("connection lost while the page was on its way")

    monkeypatch.setattr("annotations.views.reading.reading_context_opened", lost)
    log_in(page, live_server, "ana")
    requests = _api_requests(page)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_server.url}/read/{first.pk}/")
    wait_drawn(page, first)
    assert page.locator("#reading-context").count() == 0  # nothing embedded
    assert [url for url in requests if CONTEXT.search(url)] and [u for u in requests if "/preferences/" in u]
    assert page.input_value("#layout") == "6x2" and "openecg-codec" in page.inner_text("#suggestion")
    assert not page.locator("#message").is_visible() and errors == []
    assert SuggestionExposure.objects.filter(assignment=first, reader=ana).count() == 1  # by the API
