"""A recording longer than the sheet's 10 s (CPSC-2018 records run to 60 s, PTB's to 38 s) is read a window
at a time: the reader sees every second of it, not only the first ten the model also read past."""

from __future__ import annotations

import numpy as np
import pytest

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.ecg.synthetic import synthetic_ecg
from annotations.services.exams.create import ExamInput, exam_create
from annotations.services.exams.waveforms import waveform_load
from tests.browser import screenshot_path, strips_js
from tests.factories import DatasetFactory, batch_for
from tests.reading.helpers import queue, ref
from tests.reading.test_browser_reader import log_in, wait_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def rhythm_strip(page) -> np.ndarray:
    return np.asarray(page.evaluate(f"{strips_js('ecg')}.find(s => s.name === 'II (rhythm)').y"))


def test_a_reader_pages_through_a_43_second_recording_and_every_sample_is_drawn(
    live_server, page, ana, diego, tnmg
):
    signals, _ = synthetic_ecg(heart_rate_bpm=64, duration_s=43.0, seed=3)
    exam = exam_create(
        dataset=DatasetFactory(),
        data=ExamInput(
            external_id="A1986-like", signals_mv=signals, sampling_rate=500.0, lead_names=list(STANDARD_LEADS)
        ),
    )
    batch = batch_for(tnmg, diego, [ana], [exam], name="Long")
    slot = queue(batch, ana)[0]
    lead_ii = waveform_load(exam.waveform_key)[1] * exam.gain_uv / 1000.0

    def shows(start_s: float) -> None:
        """The rhythm strip is lead II's 10 s from start_s, sample for sample (10 mm/mV)."""
        drawn = rhythm_strip(page)
        first = round(start_s * 500)
        expected = lead_ii[first : first + 5000]
        assert len(drawn) == len(expected)
        assert np.allclose(drawn - drawn[0], (expected - expected[0]) * 10, atol=1e-3)

    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(slot)}/")
    wait_drawn(page, slot)
    assert page.is_visible("#time-window")
    assert page.inner_text("#window-readout") == "0.0\u201310.0 s of 43.0 s"
    assert page.is_disabled("#window-earlier") and not page.is_disabled("#window-later")
    shows(0)
    page.keyboard.press("]")
    page.wait_for_function("document.getElementById('window-readout').textContent.startsWith('10.0')")
    shows(10)
    for _ in range(3):
        page.keyboard.press("]")
    page.wait_for_function("document.getElementById('window-readout').textContent.startsWith('33.0')")
    assert page.inner_text("#window-readout") == "33.0\u201343.0 s of 43.0 s"  # the last window ends with it
    assert page.is_disabled("#window-later")
    shows(33)
    page.screenshot(path=str(screenshot_path("reader-long-recording")), full_page=True)
    page.click("#window-earlier")
    page.wait_for_function("document.getElementById('window-readout').textContent.startsWith('23.0')")
    shows(23)


def test_a_ten_second_recording_shows_no_window_control(live_server, page, ana, diego, tnmg):
    from tests.factories import make_exam

    batch = batch_for(tnmg, diego, [ana], [make_exam()], name="Short")
    slot = queue(batch, ana)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(slot)}/")
    wait_drawn(page, slot)
    assert not page.is_visible("#time-window")


def test_a_cart_s_odd_rate_reads_rounded_and_a_few_ms_past_the_sheet_show_no_window_control(
    live_server, page, ana, diego, tnmg
):
    """A Welch Allyn SCP file stores 599.88 Hz: its 6,000 samples run 2 ms past the sheet's 10 s, which
    is no second window to page to, and the rate reads as the cart prints it."""
    signals, _ = synthetic_ecg(heart_rate_bpm=70, sampling_rate=599.88, duration_s=6000 / 599.88, seed=5)
    exam = exam_create(
        dataset=DatasetFactory(),
        data=ExamInput(
            external_id="welch-like",
            signals_mv=signals,
            sampling_rate=599.88,
            lead_names=list(STANDARD_LEADS),
        ),
    )
    assert exam.n_samples == 6000
    batch = batch_for(tnmg, diego, [ana], [exam], name="Odd rate")
    slot = queue(batch, ana)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(slot)}/")
    wait_drawn(page, slot)
    assert page.inner_text("#exam-context").endswith("10.0 s at 600 Hz")
    assert not page.is_visible("#time-window")
