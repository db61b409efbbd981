"""The reader's print page: their own assignment only, with their own current statements and nothing of
another reader's; the sheet's drawing is tested in Chromium (test_browser_reader_print.py)."""

from __future__ import annotations

import re

import pytest

from annotations.services.reading import (
    LabelInput,
    annotation_save_draft,
    annotation_submit,
    reader_preferences_set,
)
from tests.reading.helpers import page_html, queue, ref, shared_batch

pytestmark = pytest.mark.django_db
BRUNO_MARKER = "MARKER-bruno-never-on-anas-print"


@pytest.fixture
def reads(ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1, age=58, sex="F")
    mine, theirs = queue(batch, ana)[0], queue(batch, bruno)[0]
    assert mine.exam_id == theirs.exam_id
    annotation_submit(
        actor=bruno, assignment=theirs, labels=[LabelInput("AF")], comment=BRUNO_MARKER, revision=0
    )
    return mine, theirs


def print_url(assignment) -> str:
    return f"/read/{ref(assignment)}/print/"


def test_the_print_page_carries_the_readers_draft_and_the_exam_as_the_reader_sees_it(client_for, ana, reads):
    mine, _ = reads
    annotation_save_draft(
        actor=ana, assignment=mine, labels=[LabelInput("SB"), LabelInput("RBBB", uncertain=True)], revision=0
    )
    page = client_for(ana).get(print_url(mine))
    assert page.status_code == 200
    html = page.content.decode()
    printout = page.context["printout"]
    assert [(s.code, s.uncertain) for s in printout.statements] == [("SB", False), ("RBBB", True)]
    assert printout.status == "draft"
    assert 'id="print-statements"' in html and "RBBB" in html and "Sinus bradycardia" in html
    assert f'data-waveform-url="/api/v1/reading/assignments/{ref(mine)}/waveform/"' in html
    assert 'id="print-button"' in html and "js/pages/print.js" in html
    assert "58" in html and mine.exam.external_id not in html and mine.exam.dataset.name not in html
    assert "<script>" not in html


def test_the_print_page_shows_the_submitted_read(client_for, ana, reads):
    mine, _ = reads
    annotation_submit(actor=ana, assignment=mine, labels=[LabelInput("SB")], comment="mine", revision=0)
    printout = client_for(ana).get(print_url(mine)).context["printout"]
    assert printout.status == "submitted"
    assert [s.code for s in printout.statements] == ["SB"] and printout.comment == "mine"


def test_another_readers_read_never_appears_and_their_assignment_is_404(client_for, ana, bruno, diego, reads):
    mine, theirs = reads
    html = client_for(ana).get(print_url(mine)).content.decode()
    assert BRUNO_MARKER not in html and ">AF<" not in html and "Atrial fibrillation" not in html
    assert client_for(ana).get(print_url(theirs)).status_code == 404
    assert client_for(diego).get(print_url(mine)).status_code == 403
    assert client_for(ana).get("/read/999999/print/").status_code == 404


def test_the_reader_page_links_to_the_print_page(client_for, ana, reads):
    mine, _ = reads
    html = page_html(client_for(ana).get(f"/read/{ref(mine)}/"))
    assert 'id="print-link"' in html and print_url(mine) in html


@pytest.mark.parametrize(
    ("saved", "shown"), [(None, "3\u00d74 + rhythm"), ("6x2", "6\u00d72"), ("12x1", "12\u00d71")]
)
def test_the_print_sheet_takes_the_readers_saved_layout(client_for, ana, reads, saved, shown):
    mine, _ = reads
    if saved:
        reader_preferences_set(actor=ana, values={"layout": saved})
    html = client_for(ana).get(print_url(mine)).content.decode()
    svg = re.search(r'<svg id="print-ecg"[^>]*>', html).group(0)
    assert f'data-layout="{saved or "3x4"}"' in svg
    assert f"25 mm/s · 10 mm/mV · {shown}" in html


@pytest.mark.parametrize(("saved", "expected"), [(None, "I"), ("DI", "DI"), ("I", "I")])
def test_the_print_sheet_names_the_leads_as_the_reader_chose(client_for, ana, reads, saved, expected):
    """Brazilian reports write DI, DII, DIII: the sheet follows the reader's lead-name setting."""
    mine, _ = reads
    if saved:
        reader_preferences_set(actor=ana, values={"lead_names": saved})
    html = client_for(ana).get(print_url(mine)).content.decode()
    svg = re.search(r'<svg id="print-ecg"[^>]*>', html).group(0)
    assert f'data-lead-names="{expected}"' in svg


def test_a_skipped_exams_print_says_skipped_in_the_readers_words_with_the_reason(client_for, ana, reads):
    from annotations.services.reading import assignment_skip

    mine, _ = reads
    assignment_skip(actor=ana, assignment=mine, reason="Traçado ilegível")
    client = client_for(ana)
    client.cookies["django_language"] = "pt-br"
    html = client.get(print_url(mine), HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    heading = html.split('<section class="print-read">', 1)[1].split("</h2>", 1)[0]
    assert "pulado" in heading and "ignorad" not in heading, heading
    assert 'id="print-skip-reason"' in html and "Traçado ilegível" in html


@pytest.mark.parametrize("asked, drawn", [("III", "III"), ("V1", "V1"), ("X9", "II"), ("", "II")])
def test_the_print_sheet_takes_the_rhythm_lead_the_reader_chose_on_screen(
    client_for, ana, reads, asked, drawn
):
    mine, _ = reads
    html = client_for(ana).get(print_url(mine), {"rhythm": asked}).content.decode()
    assert f'data-rhythm-lead="{drawn}"' in html


def test_the_print_stamp_is_written_as_the_language_writes_dates(client_for, ana, reads):
    mine, _ = reads
    client = client_for(ana)
    client.cookies["django_language"] = "pt-br"
    html = client.get(print_url(mine), HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    scale = html.split('class="print-scale">', 1)[1].split("</p>", 1)[0]
    assert re.search(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", scale), scale
