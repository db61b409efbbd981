"""A file whose every record is a copy of one already imported (CinC 2021 holds PTB-XL's 21,837 records)
gives one duplicate warning a record. The job page and the progress it polls list the first rows only,
say how many more there are, and offer the whole report as a CSV file; the counts stay whole."""

import csv
import io

import pytest

from annotations.models import ImportJob

pytestmark = pytest.mark.django_db

DUPLICATES = 2500


@pytest.fixture
def long_job(diego):
    message = "same waveform as ptbxl/x"
    outcomes = [
        {"file": "cinc.hdf5", "record": f"HR{i:05d}", "outcome": "duplicate", "message": message,
         "same_as": [i + 1], "exam": 10_000 + i}
        for i in range(DUPLICATES)
    ]  # fmt: skip
    return ImportJob.objects.create(
        coordinator=diego, dataset_name="cinc", paths=["cinc.hdf5"], status="done", total=DUPLICATES,
        created=DUPLICATES, outcomes=outcomes,
    )  # fmt: skip


def test_the_job_page_lists_the_first_rows_and_offers_the_whole_report(client_for, diego, long_job):
    client = client_for(diego)
    page = client.get(f"/imports/{long_job.pk}/").content.decode()
    body = page.split('id="job-outcomes"', 1)[1].split("</tbody>", 1)[0]
    assert body.count("<tr>") == 1000
    hidden = page.split('id="job-hidden"', 1)[1].split("</p>", 1)[0]
    assert "1500" in hidden and f"/imports/{long_job.pk}/report.csv" in hidden
    assert len(page) < 600_000

    progress = client.get(f"/imports/{long_job.pk}/progress/").json()
    assert (len(progress["outcomes"]), progress["outcomes_hidden"], progress["duplicates"]) == (
        1000,
        1500,
        DUPLICATES,
    )

    report = client.get(f"/imports/{long_job.pk}/report.csv")
    assert report["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(report.streaming_content).decode())))
    assert len(rows) == DUPLICATES and rows[-1]["record"] == f"HR{DUPLICATES - 1:05d}"
    assert rows[0]["same_as"] == "1" and rows[0]["outcome"] == "duplicate"


def test_the_report_is_the_coordinators_only(client_for, ana, long_job):
    assert client_for(ana).get(f"/imports/{long_job.pk}/report.csv").status_code in (403, 404)
