"""A reader's comment keeps its lines where it is shown: on the adjudicator's case page and on the
reader's own printout ("PR 240 ms in II" on one line, "check V1" on the next, not run together)."""

from __future__ import annotations

import pytest

from annotations.models import Assignment
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.reading import LabelInput, annotation_save_draft, annotation_submit
from tests.adjudication.test_adjudication import case_url
from tests.factories import UserFactory, batch_for, make_exam
from tests.reading.helpers import ref
from tests.reading.test_browser_reader import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
COMMENT = "PR 240 ms in II\ncheck V1"


def _read(reader, batch, exam, codes, comment=""):
    slot = Assignment.objects.get(batch=batch, exam=exam, reader=reader)
    draft = annotation_save_draft(actor=reader, assignment=slot, labels=[], revision=0)
    annotation_submit(
        actor=reader,
        assignment=slot,
        labels=[LabelInput(code) for code in codes],
        comment=comment,
        revision=draft.revision,
    )
    return slot


def test_a_comments_lines_stay_apart_on_the_case_page_and_the_printout(live_server, page, carla, diego, tnmg):
    one, two = (UserFactory(username=f"lines-{i}", roles=["reader"]) for i in range(2))
    exam = make_exam()
    batch = batch_for(tnmg, diego, [one, two], [exam], name="Lines")
    slot = _read(one, batch, exam, ["SB", "1dAVb"], COMMENT)
    _read(two, batch, exam, ["SB"])
    batch_agreement_compute(batch.pk)
    log_in(page, live_server, "carla")
    page.goto(live_server.url + case_url(batch, exam))
    assert page.locator(".reader-comment").inner_text() == COMMENT
    page.context.clear_cookies()
    log_in(page, live_server, one.username)
    page.goto(f"{live_server.url}/read/{ref(slot)}/print/")
    assert page.locator("#print-comment").inner_text() == f"Comment: {COMMENT}"
