"""'My reads' lists each read's statements as the reader chose them: a statement marked uncertain says so
there too, or the list reads as surer than the read was."""

from __future__ import annotations

import re

import pytest

from tests.factories import batch_for, make_exam
from tests.reading.helpers import queue, ref

pytestmark = pytest.mark.django_db
API = "/api/v1/reading/assignments"


def test_my_reads_marks_the_uncertain_statements(client_for, ana, diego, tnmg):
    batch = batch_for(tnmg, diego, [ana], [make_exam(seed=1)], name="Sure?")
    slot = queue(batch, ana)[0]
    client = client_for(ana)
    labels = [{"code": "SR", "uncertain": False}, {"code": "NORM", "uncertain": True}]
    saved = client.put(
        f"{API}/{ref(slot)}/draft/", {"labels": labels, "revision": 0}, content_type="application/json"
    )
    done = client.post(
        f"{API}/{ref(slot)}/submit/",
        {"labels": labels, "revision": saved.json()["revision"]},
        content_type="application/json",
    )
    assert done.status_code == 200, done.content
    page = client.get(f"/read/batches/{batch.pk}/").content.decode()
    cell = re.search(r"<td>(NORM[^\n]*?)</td><td>", page).group(1)
    assert "NORM (uncertain)" in cell and "SR (uncertain)" not in cell, cell
    client.cookies["django_language"] = "pt-br"
    assert "NORM (incerto)" in client.get(f"/read/batches/{batch.pk}/").content.decode()


def test_my_reads_names_each_statement_in_the_readers_language(client_for, ana, diego, tnmg):
    """A Brazilian reader saw bare codes (RBBB, LVH_RE) in 'Minhas leituras': each now has its name, as
    TNMG reports write it in Portuguese."""
    batch = batch_for(tnmg, diego, [ana], [make_exam(seed=2)], name="Names")
    slot = queue(batch, ana)[0]
    client = client_for(ana)
    labels = [{"code": "RBBB", "uncertain": False}]
    assert (
        client.put(
            f"{API}/{ref(slot)}/draft/", {"labels": labels, "revision": 0}, content_type="application/json"
        ).status_code
        == 200
    )
    assert "Right bundle branch block" in client.get(f"/read/batches/{batch.pk}/").content.decode()
    client.cookies["django_language"] = "pt-br"
    assert "Bloqueio de ramo direito" in client.get(f"/read/batches/{batch.pk}/").content.decode()


def test_my_reads_lists_each_reads_statements_in_the_taxonomys_order(client_for, ana, diego, tnmg):
    """A cardiologist's walk found each exam's statements in no consistent order from one row to the next;
    they follow the statement list's order: diagnoses first, by the taxonomy's groups, then its order."""
    exams = [make_exam(seed=3), make_exam(seed=4)]
    batch = batch_for(tnmg, diego, [ana], exams, name="Order")
    client = client_for(ana)
    group = {group: i for i, group in enumerate(tnmg.groups)}
    order = {c.code: (c.kind != "diagnostic", group[c.group], c.position) for c in tnmg.classes.all()}
    chosen = sorted(["SR", "LAD", "RBBB", "VPB", "LAFB"], key=order.get)
    for slot, codes in zip(queue(batch, ana), (chosen[::-1], chosen[2:] + chosen[:2]), strict=True):
        labels = [{"code": code, "uncertain": False} for code in codes]
        saved = client.put(
            f"{API}/{ref(slot)}/draft/", {"labels": labels, "revision": 0}, content_type="application/json"
        )
        assert saved.status_code == 200, saved.content
    page = client.get(f"/read/batches/{batch.pk}/").content.decode()
    rows = re.findall(r'<tr class="read-[^"]*"[^>]*>(.*?)</tr>', page, re.S)
    assert len(rows) == 2, page
    for row in rows:
        assert re.findall(r"\b([A-Z][A-Z0-9_]+) <span class=\"muted\">", row) == chosen, row


def test_my_reads_lists_the_statements_as_the_reader_pages_list_does(client_for, ana, diego, tnmg):
    """By the taxonomy's groups, diagnoses first: a walk saw "Chosen: NORM, SR" on the reader page and
    "SR, NORM" in My reads (SR was added to TNMG after the mined statements, so it comes late by position,
    yet its group, the rhythm, comes after the normal ECG's). The reader page's list is built group by
    group (static/js/pages/reading.js, buildStatements)."""
    batch = batch_for(tnmg, diego, [ana], [make_exam(seed=3)], name="Order")
    slot = queue(batch, ana)[0]
    client = client_for(ana)
    labels = [{"code": code, "uncertain": False} for code in ("Q_POOR", "SR", "NORM")]
    answer = client.put(
        f"{API}/{ref(slot)}/draft/", {"labels": labels, "revision": 0}, content_type="application/json"
    )
    assert answer.status_code == 200, answer.content
    page = client.get(f"/read/batches/{batch.pk}/").content.decode()
    (row,) = re.findall(r'<tr class="read-[^"]*"[^>]*>(.*?)</tr>', page, re.S)
    assert re.findall(r"\b([A-Z][A-Z0-9_]+) <span class=\"muted\">", row) == ["NORM", "SR", "Q_POOR"], row
