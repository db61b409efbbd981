"""The reader page in Debian's headless Chromium against the live server: drawing, keys, drafts, blinding."""

from __future__ import annotations

import itertools

import pytest

from annotations.lib.ecg.synthetic import synthetic_ecg
from annotations.models import (
    Annotation,
    Assignment,
    ReviewBatch,
    Suggestion,
    SuggestionExposure,
    SuggestionScore,
)
from tests.browser import STRIPS_OF, screenshot_path, strips_js
from tests.factories import PASSWORD
from tests.reading.helpers import queue, ref, shared_batch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("main h1")


def wait_drawn(page, assignment: Assignment) -> None:
    page.wait_for_selector(f"#ecg[data-drawn='{ref(assignment)}']")


def lead_traces(page) -> list[str]:
    return page.evaluate(f"{strips_js('ecg')}.map(s => s.name)")


def test_a_reader_opens_the_worklist_and_sees_twelve_leads_and_a_rhythm_strip_on_paper(
    live_server, page, ana, bruno, diego, tnmg
):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, age=61, sex="F")
    first = queue(batch, ana)[0]
    log_in(page, live_server, "ana")
    page.click("#worklist a.continue")
    wait_drawn(page, first)
    assert page.url.endswith(f"/read/{ref(first)}/")
    assert lead_traces(page) == [
        "I",
        "aVR",
        "V1",
        "V4",
        "II",
        "aVL",
        "V2",
        "V5",
        "III",
        "aVF",
        "V3",
        "V6",
        "II (rhythm)",
    ]
    # Drawn in the DOM: one Plotly trace (faster to draw than 13) whose 13 strips are 13 SVG line paths,
    # each with real geometry, none joined to the next (how closely each follows its samples:
    # test_the_strips_follow_every_sample_to_a_fraction_of_a_pixel); on a grid drawn as paths (minor and
    # major lines, beneath the figure), with the calibration pulses and column separators as the figure's
    # shapes.
    assert page.locator("#ecg .scatterlayer .trace").count() == 1
    assert (
        page.evaluate(
            "Array.from(document.querySelectorAll('#ecg .scatterlayer .trace path.js-line'),"
            " p => p.getBBox().width > 100)"
        )
        == [True] * 13
    )
    assert page.evaluate(
        "Array.from(document.querySelectorAll('#ecg svg.paper-grid path'))"
        ".map(p => p.getBoundingClientRect().width > 600)"
    ) == [True, True]
    assert page.locator("#ecg .shapelayer path").count() == 2
    assert "Age 61" in page.inner_text("#exam-context")
    # No inline code (the CSP allows none); the page's one data block (the sheet) is JSON, which never runs.
    assert page.locator("script:not([src]):not([type='application/json'])").count() == 0
    assert page.locator("script[type='application/json']").count() == 1
    page.screenshot(path=screenshot_path("reader-3x4"), full_page=True)


# Each strip's drawn line against its samples in view, in the figure's pixels: the most any sample lies from
# the line (perpendicular, to the nearest of the segments around it), the most a strip's highest or lowest
# sample lies from the line's nearest vertex in height, and how many vertices the lines have.
FOLLOWS = (
    "() => { const gd = document.getElementById('ecg'), xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;"
    " const [lo, hi] = xa.range, [bottom, top] = ya.range; const strips = " + STRIPS_OF + "(gd);"
    " const paths = Array.from(gd.querySelectorAll('.scatterlayer .trace path.js-line'), p =>"
    "   p.getAttribute('d').slice(1).split('L').map(v => v.split(',').map(Number)));"
    # The distance from (x, y) to a line, over its segments within 2 px of x (the line runs left to right).
    " const near = (line, x, y) => { let a = 0, b = line.length - 1;"
    "  while (b - a > 1) { const m = (a + b) >> 1; if (line[m][0] < x - 2) a = m; else b = m; }"
    "  let d = Infinity;"
    "  for (let j = a; j < line.length - 1 && line[j][0] <= x + 2; j++) {"
    "   const [ax, ay] = line[j], [bx, by] = line[j + 1], dx = bx - ax, dy = by - ay;"
    "   const along = ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy);"
    "   const f = dx || dy ? Math.max(0, Math.min(1, along)) : 0;"
    "   d = Math.min(d, Math.hypot(ax + f * dx - x, ay + f * dy - y)); }"
    "  return d; };"
    " let worst = 0, extremes = 0, samples = 0;"
    " const vertices = paths.reduce((n, p) => n + p.length, 0);"
    " for (const s of strips) {"
    "  const px = Array.from(s.x, v => xa.l2p(v)), py = Array.from(s.y, v => ya.l2p(v));"
    "  const shown = [...s.x.keys()].filter(i =>"
    "    s.x[i] >= lo && s.x[i] <= hi && s.y[i] >= bottom && s.y[i] <= top);"
    "  if (!shown.length) continue;"
    # The strip's own line: the one nearest to its first, middle and last samples in view.
    "  const probes = [shown[0], shown[shown.length >> 1], shown[shown.length - 1]];"
    "  const gap = (p) => probes.reduce((sum, i) => sum + near(p, px[i], py[i]), 0);"
    "  const line = paths.reduce((a, b) => gap(a) <= gap(b) ? a : b);"
    "  samples += shown.length;"
    "  const ys = shown.map(i => py[i]);"
    "  const miss = (y) => Math.min(...line.map(v => Math.abs(v[1] - y)));"
    "  extremes = Math.max(extremes, miss(Math.min(...ys)), miss(Math.max(...ys)));"
    "  for (const i of shown) worst = Math.max(worst, near(line, px[i], py[i]));"
    " }"
    " return {worst, extremes, vertices, samples}; }"
)


TRACE_POINTS = "() => document.getElementById('ecg').data[0].x.length"
# How many of the trace's points lie between 30 and 70 mm across the sheet.
POINTS_30_70 = "() => document.getElementById('ecg').data[0].x.filter(x => x >= 30 && x <= 70).length"


def test_the_strips_follow_every_sample_to_a_fraction_of_a_pixel(live_server, page, ana, bruno, diego, tnmg):
    """The strips are drawn at the screen's resolution: within 0.75 px of every sample (and a hundredth of a
    pixel for the path's rounding), each strip's peaks within a quarter of a pixel, through far fewer
    vertices than samples (several samples fall in one pixel at the standard sheet; the vertices are most
    of the drawing's cost). At the sheet's own scale Plotly is handed only those vertices, not every sample
    to simplify itself: its passes over each sample were most of the first drawing. Zoomed in, the line is
    simplified again for the zoom's scale and view, so the detail comes back; a reset brings the sheet's
    own line back."""
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    sheet = page.evaluate(FOLLOWS)
    assert sheet["samples"] == 12 * 1250 + 5000
    assert sheet["worst"] < 0.76 and sheet["extremes"] == 0, sheet
    assert sheet["vertices"] < 0.5 * sheet["samples"], sheet
    handed, across = page.evaluate(TRACE_POINTS), page.evaluate(POINTS_30_70)
    assert handed == sheet["vertices"] + 13 < 0.25 * sheet["samples"]  # each strip's vertices and its gap
    # A second or two of the rhythm strip and the row above it, magnified: again within a pixel.
    page.evaluate("() => Plotly.relayout('ecg', {'xaxis.range': [30, 70], 'yaxis.range': [0, 30]})")
    page.wait_for_function(
        "() => { const r = document.getElementById('ecg')._fullLayout.xaxis.range;"
        " return r[1] - r[0] < 100; }"
    )
    zoomed = page.evaluate(FOLLOWS)
    assert zoomed["worst"] < 0.8 and zoomed["extremes"] < 0.25, zoomed
    assert 0 < zoomed["samples"] < sheet["samples"] / 2
    assert zoomed["vertices"] > sheet["vertices"] / 2, zoomed
    # Only the view's part of each strip, at the zoom's own scale: far more points within it than before.
    assert page.evaluate(TRACE_POINTS) < handed and page.evaluate(POINTS_30_70) > 2 * across
    page.keyboard.press("r")  # the reset key: the whole sheet at its own scale again
    page.wait_for_function(f"() => ({TRACE_POINTS})() === {handed}")
    assert page.evaluate(FOLLOWS) == sheet


def chosen(page) -> str:
    return page.inner_text("#chosen")


def test_a_reader_labels_by_keyboard_alone_submits_and_lands_on_the_next_exam(
    live_server, page, ana, bruno, diego, tnmg
):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg)
    first, second = queue(batch, ana)
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/next/?batch={batch.pk}")
    wait_drawn(page, first)
    page.keyboard.press("/")
    page.keyboard.type("bradicardia")  # the Portuguese name finds it too
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")  # the focus stays on the statement just chosen
    page.keyboard.press("j")  # from sinus bradycardia down to the next statement, sinus arrhythmia
    page.keyboard.press(" ")
    page.keyboard.press("u")
    assert chosen(page) == "SB, SA?"  # in the taxonomy's order
    page.keyboard.press("?")
    assert page.locator("#help").is_visible()
    page.screenshot(path=screenshot_path("reader-help"))
    page.keyboard.press("Escape")
    with page.expect_response(lambda response: "/submit/" in response.url) as submitted:
        page.keyboard.press("Enter")
    assert submitted.value.status == 200
    wait_drawn(page, second)
    assert page.url.endswith(f"/read/{ref(second)}/")
    first.refresh_from_db()
    assert first.status == Assignment.Status.SUBMITTED
    read = first.annotations.get()
    assert sorted((label.diagnostic_class.code, label.uncertain) for label in read.labels.all()) == [
        ("SA", True),
        ("SB", False),
    ]
    assert read.time_on_task_ms > 0
    assert chosen(page) == "nothing yet"


def test_a_draft_survives_a_reload_and_keys_are_letters_in_the_comment_box(
    live_server, page, ana, bruno, diego, tnmg
):
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg), ana)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    page.keyboard.press("/")
    page.keyboard.type("LBBB")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.click("#comment")
    page.keyboard.type("notched R in V6, n and j are text here")
    page.wait_for_function("() => document.getElementById('save-state').textContent === 'Draft saved'")
    page.reload()
    wait_drawn(page, first)
    assert chosen(page) == "LBBB"
    assert page.input_value("#comment") == "notched R in V6, n and j are text here"
    first.refresh_from_db()
    assert first.status == Assignment.Status.IN_PROGRESS
    assert first.annotations.get().status == Annotation.Status.DRAFT


def test_an_exclusive_set_violation_is_refused_with_its_message(live_server, page, ana, bruno, diego, tnmg):
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg), ana)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    page.keyboard.press("n")
    page.keyboard.press("/")
    page.keyboard.type("sinus brady")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    message = page.locator("#message")
    assert message.is_visible()
    assert message.inner_text() == (
        "Normal ECG (within normal limits for age and sex) (NORM) and Sinus bradycardia (SB) "
        "cannot be chosen together."
    )
    page.screenshot(path=screenshot_path("reader-exclusive"))
    first.refresh_from_db()
    assert first.status != Assignment.Status.SUBMITTED
    assert page.url.endswith(f"/read/{ref(first)}/")


def test_every_exclusive_pair_chosen_is_named_on_the_page(live_server, page, ana, bruno, diego, tnmg):
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    for code in ("SR", "AF", "SB"):
        page.keyboard.press("/")
        page.keyboard.type(code)
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
    text = page.locator("#message").inner_text()
    assert "Sinus rhythm (SR) and Atrial fibrillation (AF) cannot be chosen together." in text
    assert "Sinus rhythm (SR) and Sinus bradycardia (SB) cannot be chosen together." in text


CLASHING = (
    "Array.from(document.querySelectorAll('#statements .stmt.conflict'),"
    " r => [r.dataset.code, r.getAttribute('aria-invalid')])"
)


def test_a_refused_submit_marks_the_clashing_statements_and_puts_one_in_focus(
    live_server, page, ana, bruno, diego, tnmg
):
    """A red line above the list named the pair, and the reader had to find both in 73 statements, the
    search box perhaps still narrowing the list to one of them. Now both rows are marked in the list, the
    whole list is back, and the first of them is in focus: Space takes it out, Enter submits."""
    first, second = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg), ana)
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    page.keyboard.press("n")
    page.keyboard.press("/")
    page.keyboard.type("sinus brady")
    page.keyboard.press("Enter")  # chosen from the search, which still lists sinus bradycardia alone
    assert page.locator("#statements").evaluate("el => el.classList.contains('searching')") is True
    page.click("#submit")
    assert page.locator("#message").is_visible()
    assert page.evaluate(CLASHING) == [["NORM", "true"], ["SB", "true"]]
    assert page.locator("#statements").evaluate("el => el.classList.contains('searching')") is False
    assert page.input_value("#search") == ""
    assert page.evaluate("document.querySelector('#statements .stmt.focus').dataset.code") == "NORM"
    page.screenshot(path=screenshot_path("reader-clash-in-focus"))
    page.keyboard.press(" ")
    assert chosen(page) == "SB"
    assert page.evaluate(CLASHING) == []
    assert page.locator("#message").is_hidden()
    with page.expect_response(lambda response: "/submit/" in response.url) as submitted:
        page.keyboard.press("Enter")
    assert submitted.value.status == 200
    wait_drawn(page, second)
    assert chosen_codes_in(first) == ["SB"]


def test_a_second_reader_of_the_same_exam_sees_none_of_the_first_readers_work(
    live_server, page, browser, ana, bruno, diego, tnmg
):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1)
    anas, brunos = queue(batch, ana)[0], queue(batch, bruno)[0]
    marker = "MARKER-first-reader-4411"
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(anas)}/")
    wait_drawn(page, anas)
    page.keyboard.press("/")
    page.keyboard.type("WPW")
    page.keyboard.press("Enter")
    page.fill("#comment", marker)
    page.keyboard.press("Control+Enter")
    page.wait_for_url(f"{live_server.url}/")
    anas.refresh_from_db()
    assert anas.status == Assignment.Status.SUBMITTED

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    other = context.new_page()
    bodies = []
    other.on("response", lambda r: bodies.append(r.body()) if r.status < 300 and is_text(r) else None)
    log_in(other, live_server, "bruno")
    other.click("#worklist a.continue")
    wait_drawn(other, brunos)
    assert other.goto(f"{live_server.url}/read/{ref(anas)}/").status == 404
    assert other.goto(f"{live_server.url}/api/v1/reading/assignments/{ref(anas)}/").status == 404
    context.close()
    assert len(bodies) >= 4
    for body in bodies:
        assert marker.encode() not in body
        assert b'WPW", "uncertain' not in body
    assert chosen_codes_in(brunos) == []


def is_text(response) -> bool:
    kind = response.headers.get("content-type", "")
    return "text" in kind or "json" in kind


def chosen_codes_in(assignment) -> list[str]:
    return [label.diagnostic_class.code for a in assignment.annotations.all() for label in a.labels.all()]


def choose(page, query: str, uncertain: bool = False) -> None:
    """Choose the statement a search finds first, by keyboard, as a reader does ("/", type, Enter, Esc)."""
    page.keyboard.press("/")
    page.keyboard.type(query)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    if uncertain:
        page.keyboard.press("u")


def open_two_stage_exam(page, live_server, ana, bruno, diego, tnmg) -> Assignment:
    """ana's one exam of a two-stage batch, on screen; its suggestion (AF, 0.87) waits for her blind read."""
    batch = shared_batch(
        readers=[ana, bruno],
        coordinator=diego,
        taxonomy=tnmg,
        exams=1,
        mode=ReviewBatch.SuggestionMode.TWO_STAGE,
    )
    first = queue(batch, ana)[0]
    suggestion = Suggestion.objects.create(exam=first.exam, provider="demo-model", provider_version="2")
    SuggestionScore.objects.create(
        suggestion=suggestion, diagnostic_class=tnmg.classes.get(code="AF"), score=0.87
    )
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    return first


def test_in_two_stage_mode_the_blind_read_is_stored_before_the_suggestion_appears(
    live_server, page, ana, bruno, diego, tnmg
):
    first = open_two_stage_exam(page, live_server, ana, bruno, diego, tnmg)
    assert not page.locator("#suggestion").is_visible()
    page.keyboard.press("/")
    page.keyboard.type("sinus brady")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    page.wait_for_selector("#suggestion:not([hidden])")
    assert "AF" in page.inner_text("#suggestion")
    blind = Annotation.objects.get(assignment=first, stage=Annotation.Stage.BLIND)
    exposure = SuggestionExposure.objects.get(assignment=first)
    assert blind.status == Annotation.Status.SUBMITTED
    assert blind.submitted_at <= exposure.shown_at
    page.screenshot(path=screenshot_path("reader-two-stage"))
    # Skipping now would withdraw a read that counts: the page says so instead of ignoring the key.
    page.keyboard.press("s")
    assert not page.locator("#skip-dialog").is_visible()
    assert page.inner_text("#message") == (
        "Your blind read is submitted and counts; it cannot be skipped now. Submit the revision "
        "(unchanged if you wish)."
    )
    assert page.get_attribute("#skip", "title") == page.inner_text("#message")
    # The revision starts from the blind read's statements: the reader, persuaded, takes sinus
    # bradycardia back (chosen again, it is removed) and names atrial fibrillation instead.
    for query in ("sinus brady", "atrial fib"):
        page.keyboard.press("/")
        page.keyboard.type(query)
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/")
    revised = Annotation.objects.get(assignment=first, stage=Annotation.Stage.REVISED)
    assert sorted(label.diagnostic_class.code for label in revised.labels.all()) == ["AF"]
    assert [label.diagnostic_class.code for label in blind.labels.all()] == ["SB"]


def figure(page, script: str):
    return page.evaluate(
        "() => { const gd = document.getElementById('ecg'); const xa = gd._fullLayout.xaxis;"
        " const ya = gd._fullLayout.yaxis; const box = gd.getBoundingClientRect();" + script + "}"
    )


def click_rhythm_strip(page, at: float) -> None:
    """Click the rhythm strip's trace `at` (0..1) of its way along, as a reader places a caliper."""
    x, y = figure(
        page,
        f"const t = {STRIPS_OF}(gd).find(d => d.name === 'II (rhythm)');"
        f" const i = Math.round(t.x.length * {at});"
        " return [box.left + xa._offset + xa.l2p(t.x[i]), box.top + ya._offset + ya.l2p(t.y[i])];",
    )
    page.mouse.click(x, y)


def test_calipers_read_the_rr_interval_of_a_synthetic_exam_within_one_sample(
    live_server, page, ana, bruno, diego, tnmg
):
    first = queue(
        shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1, heart_rate=75), ana
    )[0]
    _, peaks = synthetic_ecg(heart_rate_bpm=75, seed=0)
    rr_ms = (peaks[4] - peaks[3]) * 1000 / 500
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    # Zoom on the two beats by dragging a box, as a reader does: a pixel then spans under a sample.
    (x0, y0), (x1, y1) = (
        figure(
            page,
            f"const t = {STRIPS_OF}(gd).find(d => d.name === 'II (rhythm)'); const i = {int(peak)};"
            f" return [box.left + xa._offset + xa.l2p(t.x[i] + {dx}),"
            f" box.top + ya._offset + ya.l2p(t.y[i] + {dy})];",
        )
        for peak, dx, dy in ((peaks[3], -1.5, 4), (peaks[4], 1.5, -14))
    )
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)
    page.mouse.move(x1, y1, steps=4)
    page.mouse.up()
    page.wait_for_function(
        "() => { const r = document.getElementById('ecg')._fullLayout.xaxis.range; return r[1] - r[0] < 60; }"
    )
    page.keyboard.press("c")
    for peak in (peaks[3], peaks[4]):
        # Where the rhythm strip's R peak is drawn, nudged by a fifth of a sample off it.
        x, y = figure(
            page,
            f"const t = {STRIPS_OF}(gd).find(d => d.name === 'II (rhythm)'); const i = {int(peak)};"
            " return [box.left + xa._offset + xa.l2p(t.x[i] + 0.01), box.top + ya._offset + ya.l2p(t.y[i])];",
        )
        page.mouse.click(x, y)
    # Each point lies where it was clicked, not only a right interval between two shifted points: the
    # calipers' marks stand within a sample (0.05 mm at 25 mm/s, 500 Hz) of the two R peaks' paper x.
    peaks_x = figure(
        page,
        f"const t = {STRIPS_OF}(gd).find(d => d.name === 'II (rhythm)');"
        f" return [t.x[{int(peaks[3])}], t.x[{int(peaks[4])}]];",
    )
    marks = figure(
        page, "return gd.layout.shapes.filter(s => s.name === 'caliper' && s.y0 !== s.y1).map(s => s.x0);"
    )
    assert len(marks) == 2 and all(abs(m - x) <= 0.051 for m, x in zip(sorted(marks), peaks_x, strict=True))
    readout = page.locator("#caliper-readout")
    assert abs(float(readout.get_attribute("data-interval-ms")) - rr_ms) <= 2.0
    assert abs(float(readout.get_attribute("data-rate-bpm")) - 60000 / rr_ms) < 0.5
    assert abs(float(readout.get_attribute("data-amplitude-mv"))) < 0.05  # both on an R peak of II
    page.keyboard.press("m")
    marches = figure(page, "return gd.layout.shapes.filter(s => s.name === 'march').map(s => s.x0);")
    assert len(marches) >= 5
    spacing = [b - a for a, b in itertools.pairwise(marches)]
    # The march repeats the interval the calipers measured (within a sample of the RR, above): a click
    # places a point on the nearest sample, which a pixel's rounding can make the R peak's neighbour.
    measured = float(readout.get_attribute("data-interval-ms"))
    assert all(abs(step - measured / 1000 * 25) < 1e-4 for step in spacing)
    page.screenshot(path=screenshot_path("reader-calipers"))


# The major grid lines where the browser draws them (their path's own transform to the screen), a major
# square's size on screen, and how far any major line lies from where the figure's axes put the same
# millimetre of paper (the strips are drawn through those axes).
GRID = (
    "const major = gd.querySelector('svg.paper-grid path.grid-major'), ctm = major.getScreenCTM();"
    " const d = major.getAttribute('d');"
    " const xs = [...d.matchAll(/M([\\d.]+),0V/g)].map(m => +m[1]);"
    " const ys = [...d.matchAll(/M0,([\\d.]+)H/g)].map(m => +m[1]);"
    " const sx = (x) => ctm.a * x + ctm.e, sy = (y) => ctm.d * y + ctm.f;"
    " const square = [sx(xs[1]) - sx(xs[0]), sy(ys[0]) - sy(ys[1])];"
    " const off = Math.max(...xs.map(x => Math.abs(sx(x) - box.left - xa._offset - xa.l2p(x))),"
    "   ...ys.map(y => Math.abs(sy(y) - box.top - ya._offset - ya.l2p(y))));"
    f" const t = {STRIPS_OF}(gd).find(d => d.name === 'II (rhythm)');"
)


@pytest.mark.parametrize(("speed", "gain"), [("25", "10"), ("50", "20"), ("12.5", "5")])
def test_the_grid_is_calibrated_to_the_chosen_speed_and_gain(
    live_server, page, ana, bruno, diego, tnmg, speed, gain
):
    from annotations.lib.ecg.waveform import to_mv
    from annotations.services.exams.waveforms import waveform_load

    first = queue(
        shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1, heart_rate=75), ana
    )[0]
    _, peaks = synthetic_ecg(heart_rate_bpm=75, seed=0)
    lead_ii = to_mv(waveform_load(first.exam.waveform_key)[1], first.exam.gain_uv)
    peak, flat = int(peaks[2]), int(peaks[2]) - 60  # an R peak, and 120 ms before it (PR segment)
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    page.select_option("#speed", speed)
    page.select_option("#gain", gain)
    page.wait_for_function(
        "() => { const t = " + strips_js("ecg") + "[12];"
        f" return Math.abs(t.x[1] - t.x[0] - {float(speed) / 500}) < 1e-6; }}"
    )
    square, px_200ms, px_per_mv = figure(
        page,
        GRID + f" return [square, xa.l2p(t.x[100]) - xa.l2p(t.x[0]),"
        f" (ya.l2p(t.y[{flat}]) - ya.l2p(t.y[{peak}])) / {lead_ii[peak] - lead_ii[flat]}];",
    )
    width, height = square
    assert width > 4 and abs(width - height) < 0.02  # a major square is square on screen
    # One major square (5 mm): 200 ms at 25 mm/s, 100 ms at 50 mm/s, 400 ms at 12.5 mm/s ...
    assert abs(px_200ms - width * float(speed) / 25) < 0.05  # l2p rounds to 0.01 px
    # ... and 0.5 mV at 10 mm/mV, 0.25 mV at 20 mm/mV, 1 mV at 5 mm/mV.
    assert abs(px_per_mv * 0.5 - height * float(gain) / 10) < 0.05
    assert figure(page, GRID + " return off;") < 0.05  # every major line on the paper's millimetre
    if speed == "25":
        page.screenshot(path=screenshot_path("reader-calibrated"))
    # Zoomed in, the grid follows the strips: a major square grows with them, every line still in place.
    page.evaluate("() => Plotly.relayout('ecg', {'xaxis.range': [30, 70], 'yaxis.range': [20, 50]})")
    page.wait_for_function(
        "() => { const r = document.getElementById('ecg')._fullLayout.xaxis.range;"
        " return r[1] - r[0] < 100; }"
    )
    zoomed, off = figure(page, GRID + " return [square, off];")
    assert zoomed[0] > width * 2 and abs(zoomed[0] - zoomed[1]) < 0.02
    assert off < 0.05


def test_the_other_layouts_draw_twelve_leads(live_server, page, ana, bruno, diego, tnmg):
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    page.select_option("#layout", "6x2")
    page.wait_for_function(f"() => {strips_js('ecg')}.length === 12")
    assert lead_traces(page) == ["I", "V1", "II", "V2", "III", "V3", "aVR", "V4", "aVL", "V5", "aVF", "V6"]
    page.screenshot(path=screenshot_path("reader-6x2"), full_page=True)
    page.keyboard.press("l")
    page.wait_for_function(f"() => {strips_js('ecg')}.every(s => s.x.length === 5000)")
    assert len(lead_traces(page)) == 12


# Statements whose code runs into its name or out of its column (the long technical-quality codes did).
CODES_OVERLAPPING_JS = """() => [...document.querySelectorAll("#statements .stmt")].filter((row) => {
  const code = row.querySelector(".code"), name = row.querySelector(".name");
  return code.scrollWidth > code.clientWidth + 1
    || code.getBoundingClientRect().right > name.getBoundingClientRect().left + 0.5;
}).map((row) => row.dataset.code)"""


def test_no_statement_code_runs_into_its_name(live_server, page, ana, bruno, diego, tnmg):
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    log_in(page, live_server, "ana")
    for width in (1400, 900):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/read/{ref(first)}/")
        wait_drawn(page, first)
        assert page.locator("#statements .stmt").count() == 74
        assert page.evaluate(CODES_OVERLAPPING_JS) == []
    page.locator('[data-code="Q_NOSIGNAL_BLOCKING"]').scroll_into_view_if_needed()
    page.locator(".label-pane").screenshot(path=screenshot_path("reader-long-codes"))


def test_the_reader_page_raises_no_console_error_and_uses_its_preloads(
    live_server, page, ana, bruno, diego, tnmg
):
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    messages = []
    page.on("console", lambda m: messages.append(m.text) if m.type in ("error", "warning") else None)
    log_in(page, live_server, "ana")
    waveform_requests = []
    page.on("request", lambda r: waveform_requests.append(r.url) if "/waveform/" in r.url else None)
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    page.wait_for_timeout(1200)  # preload warnings arrive a few seconds late at most; not a timing assertion
    assert [m for m in messages if "preload" in m or "Content Security" in m] == []
    assert len(waveform_requests) == 1


def test_a_submit_the_server_refuses_brings_the_reader_back_with_their_choices(
    live_server, page, ana, bruno, diego, tnmg
):
    """The next exam is drawn while the submit travels; a refusal (here a stale revision, as when the
    exam was saved from another tab) must return the reader to the exam, choices and message intact."""
    from annotations.services.reading import annotation_save_draft

    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg)
    first, second = queue(batch, ana)
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/next/?batch={batch.pk}")
    wait_drawn(page, first)
    page.keyboard.press("n")
    with page.expect_response(lambda response: "/draft/" in response.url):
        pass  # the autosave stores revision 1
    annotation = Annotation.objects.get(assignment=first)
    annotation_save_draft(actor=ana, assignment=first, labels=[], revision=annotation.revision)  # other tab
    with page.expect_response(lambda response: "/submit/" in response.url) as submitted:
        page.keyboard.press("Enter")
    assert submitted.value.status == 409
    page.wait_for_url(f"**/read/{ref(first)}/")
    wait_drawn(page, first)
    page.wait_for_selector("#message:not(:empty)")
    assert chosen(page) == "NORM"
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status != Assignment.Status.SUBMITTED and second.status == Assignment.Status.PENDING


@pytest.mark.parametrize("mode", [ReviewBatch.SuggestionMode.HIDDEN, ReviewBatch.SuggestionMode.TWO_STAGE])
def test_a_submit_pressed_while_the_draft_autosave_is_in_flight_is_stored(
    live_server, page, ana, bruno, diego, tnmg, mode
):
    """A quick reader chooses and presses Enter while the autosave of that choice is still travelling (a
    busy server): the submit waits for the save and must carry the revision that save produced, not the
    one from before it, or the server refuses the reader's own read as "saved elsewhere"."""
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, mode=mode), ana)[0]
    held = []
    page.route("**/draft/", lambda route: held.append(route))  # the save is sent, its answer waits
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    page.keyboard.press("n")
    page.wait_for_timeout(1000)  # past the autosave's delay: the draft request is out
    assert len(held) == 1
    page.keyboard.press("Enter")
    with page.expect_response(lambda response: "/submit/" in response.url) as submitted:
        held.pop().continue_()
    assert submitted.value.status == 200, submitted.value.text()
    read = Annotation.objects.get(assignment=first, stage=Annotation.Stage.BLIND)
    assert read.status == Annotation.Status.SUBMITTED
    assert [label.diagnostic_class.code for label in read.labels.all()] == ["NORM"]


def test_calipers_measure_the_rr_interval_from_the_keyboard_alone(live_server, page, ana, bruno, diego, tnmg):
    """A reader who reads by keyboard measures too: c, then arrows move the active point one small box
    (40 ms at 25 mm/s) or, with Shift, one sample (2 ms at 500 Hz); x moves the other one. With the
    calipers off the arrows are left to the page."""
    first = queue(
        shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1, heart_rate=75), ana
    )[0]
    _, peaks = synthetic_ecg(heart_rate_bpm=75, seed=0)
    rr_samples = int(peaks[4] - peaks[3])
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    readout = page.locator("#caliper-readout")
    page.keyboard.press("ArrowRight")  # calipers off: nothing placed
    assert readout.get_attribute("data-interval-ms") is None
    page.keyboard.press("c")
    assert "move them with ← →" in readout.inner_text()
    page.keyboard.press("ArrowRight")  # both points at the rhythm strip's start; the second moves 1 mm
    assert float(readout.get_attribute("data-interval-ms")) == 40.0
    # The first point to the first R peak: x, then big steps and single samples.
    page.keyboard.press("x")
    for _ in range(int(peaks[3]) // 20):
        page.keyboard.press("ArrowRight")
    for _ in range(int(peaks[3]) % 20):
        page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("x")  # the second point, from 40 ms, to the next R peak
    target = int(peaks[4]) - 20
    for _ in range(target // 20):
        page.keyboard.press("ArrowRight")
    for _ in range(target % 20):
        page.keyboard.press("Shift+ArrowRight")
    assert float(readout.get_attribute("data-interval-ms")) == rr_samples * 2.0
    assert abs(float(readout.get_attribute("data-rate-bpm")) - 60000 / (rr_samples * 2.0)) < 0.05
    assert readout.inner_text().startswith(f"{rr_samples * 2} ms")
    heavy = figure(
        page, "return gd.layout.shapes.filter(s => s.name === 'caliper' && s.line.width > 2).length;"
    )
    assert heavy == 1  # the point the arrows move is drawn heavier
    page.screenshot(path=screenshot_path("reader-calipers-keyboard"))
    # The statements list keeps its keys: the down arrow still moves through it.
    before = page.evaluate("document.querySelector('#statements .stmt.focus').dataset.code")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.querySelector('#statements .stmt.focus').dataset.code") != before
