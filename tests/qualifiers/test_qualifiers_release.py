"""Qualifiers reach the release: reads.csv carries each read's territory and age in their own columns,
consensus.jsonl the qualifiers the readers of a present statement chose (votes, and those a majority of
them chose), and the dataset card says so. Reads go through the reading API; files are read back with csv
and json."""

from __future__ import annotations

import csv
import json

import pytest

from annotations.models import Assignment
from annotations.selectors.releases.plan import export_plan
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.releases.export import ExportOptions, export_write
from tests.reading.helpers import ref, shared_batch

pytestmark = pytest.mark.django_db
READING = "/api/v1/reading/assignments"


def submit(client, assignment, chosen):
    answer = client.post(
        f"{READING}/{ref(assignment)}/submit/",
        json.dumps({"labels": chosen, "revision": 0}),
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content


@pytest.fixture
def released(client_for, ana, bruno, carla_reader, diego, tnmg, tmp_path):
    """Three readers read one exam: all mark the inactive area, two of them inferior and lateral (one
    adding acute), the third inferior alone; one marks sinus rhythm."""
    readers = [ana, bruno, carla_reader]
    batch = shared_batch(readers=readers, coordinator=diego, taxonomy=tnmg, exams=1)
    chosen = {
        ana: [{"code": "EIA", "qualifiers": ["inferior", "lateral", "acute"]}, {"code": "SR"}],
        bruno: [{"code": "EIA", "qualifiers": ["lateral", "inferior"]}],
        carla_reader: [{"code": "EIA", "qualifiers": ["inferior"]}],
    }
    for reader, labels in chosen.items():
        submit(client_for(reader), Assignment.objects.get(batch=batch, reader=reader), labels)
    batch_agreement_compute(batch.pk)
    out = tmp_path / "release"
    export_write(
        export_plan([batch.pk]), out, ExportOptions(), title="t", release_date="2026-01-01T00:00:00Z"
    )
    return out


@pytest.fixture
def carla_reader(db):
    from annotations.roles import Role
    from tests.factories import UserFactory

    return UserFactory(username="carla_reader", roles=[Role.READER])


def test_reads_csv_carries_territory_and_age_in_their_own_columns(released):
    with open(released / "reads.csv", newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert {"territory", "age"} <= set(table[0])
    eia = sorted((row["territory"], row["age"]) for row in table if row["code"] == "EIA")
    assert eia == [("inferior", ""), ("inferior lateral", ""), ("inferior lateral", "acute")]
    assert [(row["territory"], row["age"]) for row in table if row["code"] == "SR"] == [("", "")]


def test_consensus_jsonl_gives_the_qualifier_votes_of_a_present_statement_and_the_majoritys(released):
    (line,) = [json.loads(text) for text in (released / "consensus.jsonl").read_text().splitlines()]
    eia = next(label for label in line["labels"] if label["code"] == "EIA")
    assert eia["value"] == 1
    assert eia["qualifier_votes"] == {"inferior": 3, "lateral": 2, "acute": 1}
    assert eia["qualifiers"] == ["inferior", "lateral"]  # chosen by more than half of its 3 readers
    sr = next(label for label in line["labels"] if label["code"] == "SR")
    assert "qualifiers" not in sr


def test_the_card_documents_the_qualifier_columns(released):
    card = json.loads((released / "dataset_card.json").read_text())
    text = json.dumps(card)
    assert "territory" in text and "qualifier_votes" in text
    assert "territory" in (released / "dataset_card.md").read_text()
