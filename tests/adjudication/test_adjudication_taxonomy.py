"""Adjudication cannot contradict the taxonomy: decisions obey the exclusive sets against the exam's final
label set; an adjudicator may add a statement no reader marked (flagged as such in the release); the
readers' uncertainty marks and comments reach the adjudicator under the batch's pseudonyms."""

import csv
import io
import json

import pytest
from django.urls import reverse

from annotations.models import Adjudication, Assignment, Consensus
from annotations.selectors.blinding import batch_pseudonyms
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.reading import LabelInput, annotation_save_draft, annotation_submit
from annotations.services.releases.builds import release_build
from tests.factories import UserFactory, batch_for, make_exam

pytestmark = pytest.mark.django_db

SECRET_READERS = ("zq-reader-one", "zq-reader-two")


def read(reader, batch, exam, codes, *, uncertain=(), comment=""):
    assignment = Assignment.objects.get(batch=batch, exam=exam, reader=reader)
    draft = annotation_save_draft(actor=reader, assignment=assignment, labels=[], revision=0)
    annotation_submit(
        actor=reader,
        assignment=assignment,
        labels=[LabelInput(c, uncertain=c in uncertain) for c in codes],
        comment=comment,
        revision=draft.revision,
    )


@pytest.fixture
def readers(db):
    return [UserFactory(username=name, roles=["reader"]) for name in SECRET_READERS]


def study(readers, diego, tnmg, first, second, **read_options):
    one, two = readers
    exam = make_exam()
    batch = batch_for(tnmg, diego, [one, two], [exam], name="Disputes")
    read(one, batch, exam, first, **read_options)
    read(two, batch, exam, second)
    batch_agreement_compute(batch.pk)
    return batch, exam


def decide(client, batch, exam, decisions, version=0, rationale=""):
    return client.post(
        reverse("api-adjudication-case", args=[batch.pk, exam.pk]),
        {
            "decisions": [{"code": c, "value": v} for c, v in decisions],
            "version": version,
            "rationale": rationale,
        },
        content_type="application/json",
    )


def test_norm_and_lvh_together_are_refused_naming_both_and_nothing_is_stored(
    readers, diego, carla, tnmg, client
):
    batch, exam = study(readers, diego, tnmg, ["NORM"], ["LVH_V"])
    client.force_login(carla)
    refused = decide(client, batch, exam, [("NORM", True), ("LVH_V", True)])
    assert refused.status_code == 400
    detail = refused.json()["detail"]
    assert "NORM" in detail and "LVH_V" in detail
    assert not Adjudication.objects.filter(batch=batch).exists()
    # The page answers the same, and names both statements.
    page = client.post(
        reverse("adjudication-case", args=[batch.pk, exam.pk]),
        {"version": "0", "decision-NORM": "present", "decision-LVH_V": "present"},
    )
    assert page.status_code == 400
    assert "NORM" in page.content.decode() and "LVH_V" in page.content.decode()
    assert not Adjudication.objects.filter(batch=batch).exists()
    assert decide(client, batch, exam, [("NORM", False), ("LVH_V", True)]).status_code == 200


def test_a_refused_page_keeps_the_adjudicators_choices_and_rationale(readers, diego, carla, tnmg, client):
    """The refusal names the conflict; the form comes back as the adjudicator left it (each answer, the
    added statement, the rationale typed), so they change the one answer, not redo the case."""
    import re

    batch, exam = study(readers, diego, tnmg, ["NORM"], ["LVH_V"])
    client.force_login(carla)
    page = client.post(
        reverse("adjudication-case", args=[batch.pk, exam.pk]),
        {
            "version": "0",
            "decision-NORM": "present",
            "decision-LVH_V": "present",
            "add-statement": "SR",
            "rationale": "MARK voltage criteria in V5",
        },
    ).content.decode()
    checked = set(re.findall(r'name="decision-([A-Z_0-9]+)" value="(present|absent)" checked', page))
    assert checked == {("NORM", "present"), ("LVH_V", "present")}
    assert re.search(r'<option value="SR" selected>', page)
    assert ">MARK voltage criteria in V5</textarea>" in page
    assert not Adjudication.objects.filter(batch=batch).exists()


def test_a_decision_may_not_contradict_an_earlier_adjudication_of_the_exam(
    readers, diego, carla, tnmg, client
):
    batch, exam = study(readers, diego, tnmg, ["NORM"], ["LVH_V"])
    client.force_login(carla)
    assert decide(client, batch, exam, [("NORM", True)]).status_code == 200
    refused = decide(client, batch, exam, [("LVH_V", True)], version=1)
    assert refused.status_code == 400 and "NORM" in refused.json()["detail"]
    # Correcting the earlier decision in the same signature is consistent (reversing it says why).
    corrected = decide(client, batch, exam, [("NORM", False), ("LVH_V", True)], 1, "LVH criteria met in V5")
    assert corrected.status_code == 200


def test_a_decision_may_not_contradict_the_undisputed_consensus(readers, diego, carla, tnmg, client):
    batch, exam = study(readers, diego, tnmg, ["SR", "1dAVb"], ["SR"])  # SR agreed, 1dAVb tied
    assert Consensus.objects.get(batch=batch, exam=exam, diagnostic_class__code="SR").value is True
    client.force_login(carla)
    # Sinus bradycardia, which no reader marked, beside the agreed sinus rhythm: refused, naming both.
    refused = decide(client, batch, exam, [("1dAVb", True), ("SB", True)])
    assert refused.status_code == 400
    assert "SR" in refused.json()["detail"] and "SB" in refused.json()["detail"]
    assert not Adjudication.objects.filter(batch=batch).exists()
    assert decide(client, batch, exam, [("1dAVb", True)]).status_code == 200


def test_an_adjudicator_adds_a_statement_no_reader_marked_and_the_release_flags_it(
    readers, diego, carla, tnmg, client
):
    batch, exam = study(readers, diego, tnmg, ["SR", "1dAVb"], ["SR"])
    client.force_login(carla)
    case = client.get(reverse("api-adjudication-case", args=[batch.pk, exam.pk])).json()
    assert "RAD" in {s["code"] for s in case["addable"]}
    assert "SR" not in {s["code"] for s in case["addable"]}  # marked by readers: not "added"
    added = decide(client, batch, exam, [("1dAVb", True), ("RAD", True)])
    assert added.status_code == 200, added.content
    assert [s["code"] for s in added.json()["added"]] == ["RAD"]
    row = Consensus.objects.get(batch=batch, exam=exam, diagnostic_class__code="RAD")
    assert (row.value, row.method, row.positive_votes) == (True, "adjudicated", 0)
    # Adding must obey the exclusive sets too: NORM beside the agreed SR is fine, beside 1dAVb it is not.
    refused = decide(client, batch, exam, [("NORM", True)], version=1)
    assert refused.status_code == 400 and "NORM" in refused.json()["detail"]

    client.force_login(diego)
    created = client.post(
        reverse("api-release-list"), {"batches": [batch.pk], "hdf5": False}, content_type="application/json"
    ).json()
    release_build(created["id"])

    def file(name):
        response = client.get(reverse("api-release-file", args=[created["id"], name]))
        return b"".join(response.streaming_content).decode()

    (line,) = [json.loads(x) for x in file("consensus.jsonl").splitlines()]
    flags = {label["code"]: label["added_by_adjudicator"] for label in line["labels"]}
    assert flags["RAD"] is True and flags["1dAVb"] is False and flags["SR"] is False
    (row,) = list(csv.DictReader(io.StringIO(file("consensus.csv"))))
    assert row["added_by_adjudicator"] == "RAD" and row["RAD"] == "1"


def test_a_statement_readers_marked_and_agreed_on_is_still_not_adjudicable(
    readers, diego, carla, tnmg, client
):
    batch, exam = study(readers, diego, tnmg, ["SR", "1dAVb"], ["SR"])
    client.force_login(carla)
    refused = decide(client, batch, exam, [("SR", False)])
    assert refused.status_code == 400 and "SR" in refused.json()["detail"]
    assert decide(client, batch, exam, [("NOPE", True)]).status_code == 400


def test_uncertainty_marks_and_comments_reach_the_adjudicator_under_pseudonyms(
    readers, diego, carla, tnmg, client
):
    batch, exam = study(
        readers, diego, tnmg, ["SB", "1dAVb"], ["SB"], uncertain=("1dAVb",), comment="PR looks long in II"
    )
    one, _ = readers
    letter = batch_pseudonyms(batch)[one.pk]
    client.force_login(carla)
    case = client.get(reverse("api-adjudication-case", args=[batch.pk, exam.pk])).json()
    (dispute,) = [d for d in case["disputed"] if d["code"] == "1dAVb"]
    assert dispute["uncertain"] == [letter]
    notes = {note["reader"]: note for note in case["readers"]}
    assert notes[letter]["comment"] == "PR looks long in II"
    assert notes[letter]["uncertain"] == ["1dAVb"]
    page = client.get(reverse("adjudication-case", args=[batch.pk, exam.pk])).content.decode()
    assert "PR looks long in II" in page
    assert f"{letter}: present (uncertain)" in page
    for text in (page, json.dumps(case)):
        assert not any(name in text for name in SECRET_READERS)


def test_the_case_page_adds_a_statement_and_lists_it_for_correction(readers, diego, carla, tnmg, client):
    batch, exam = study(readers, diego, tnmg, ["SR", "1dAVb"], ["SR"])
    client.force_login(carla)
    url = reverse("adjudication-case", args=[batch.pk, exam.pk])
    page = client.get(url).content.decode()
    assert 'name="add-statement"' in page and '<option value="RAD">' in page
    signed = client.post(url, {"version": "0", "decision-1dAVb": "present", "add-statement": "RAD"})
    assert signed.status_code == 302
    assert Consensus.objects.get(batch=batch, exam=exam, diagnostic_class__code="RAD").value is True
    page = client.get(url).content.decode()
    assert 'name="decision-RAD"' in page and "added by an adjudicator" in page
    # Taken back: the added statement decided absent from the same page (reversing it says why).
    client.post(
        url,
        {"version": "1", "decision-1dAVb": "present", "decision-RAD": "absent", "rationale": "axis -20°"},
    )
    assert Consensus.objects.get(batch=batch, exam=exam, diagnostic_class__code="RAD").value is False


def test_the_statements_an_adjudicator_may_add_are_grouped_as_the_taxonomy_groups_them(
    readers, diego, carla, tnmg, client
):
    """About seventy statements in one flat list read as unsorted (EIA, RBBB, LBBB...); under the
    taxonomy's own groups, in its order, as the reader's list shows them, they are found."""
    batch, exam = study(readers, diego, tnmg, ["SR", "1dAVb"], ["SR"])
    client.force_login(carla)
    case = client.get(reverse("api-adjudication-case", args=[batch.pk, exam.pk])).json()
    groups = [s["group"] for s in case["addable"]]
    assert groups[0] == "Normal" and "Rhythm" in groups
    assert groups == sorted(groups, key=groups.index)  # each group's statements together
    page = client.get(reverse("adjudication-case", args=[batch.pk, exam.pk])).content.decode()
    select = page.split('id="add-statement"', 1)[1].split("</select>", 1)[0]
    assert '<optgroup label="Rhythm">' in select and '<optgroup label="Normal">' in select
    assert select.index('<optgroup label="Normal">') < select.index('<optgroup label="Rhythm">')
    assert '<option value="RAD">' in select


def test_a_finding_the_adjudicator_adds_may_take_away_the_agreed_statements_it_excludes(
    readers, diego, carla, tnmg, client
):
    """Both readers read sinus rhythm and a normal ECG, one also baseline wander (the dispute). The
    adjudicator sees atrial fibrillation nobody marked: SR and NORM, though agreed, must go in the same
    signing (the exclusive sets leave no other correct answer). An agreed statement in no conflict with
    what is decided present stays the readers'."""
    batch, exam = study(readers, diego, tnmg, ["SR", "NORM"], ["SR", "NORM", "Q_BASELINE"])
    client.force_login(carla)
    refused = decide(client, batch, exam, [("Q_BASELINE", False), ("AF", True)])
    assert refused.status_code == 400 and "AF" in refused.json()["detail"]
    signed = decide(
        client,
        batch,
        exam,
        [("Q_BASELINE", False), ("AF", True), ("SR", False), ("NORM", False)],
        rationale="irregular, no P waves",
    )
    assert signed.status_code == 200, signed.content
    values = dict(
        Consensus.objects.filter(batch=batch, exam=exam).values_list("diagnostic_class__code", "value")
    )
    assert (values["AF"], values["SR"], values["NORM"]) == (True, False, False)
    row = Consensus.objects.get(batch=batch, exam=exam, diagnostic_class__code="NORM")
    assert (row.method, row.positive_votes, row.total_votes) == ("adjudicated", 2, 2)


def test_an_agreed_statement_in_no_conflict_stays_the_readers(readers, diego, carla, tnmg, client):
    batch, exam = study(readers, diego, tnmg, ["SR", "NORM"], ["SR", "NORM", "Q_BASELINE"])
    client.force_login(carla)
    refused = decide(client, batch, exam, [("Q_BASELINE", False), ("NORM", False)], rationale="x")
    assert refused.status_code == 400 and "not adjudicable" in refused.json()["detail"]
    assert not Adjudication.objects.filter(batch=batch).exists()
