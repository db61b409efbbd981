"""Each reader against consensus on the agreement page, its CSV and its API: the release's computation
(reader_accuracy.csv and the card's readers_vs_consensus) for the batch, equal to the release's figures to
the last digit, readers by username instead of pseudonym."""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from annotations.selectors.agreement.reader_accuracy import ROW_COLUMNS
from annotations.selectors.releases.accuracy import READER_ACCURACY_COLUMNS
from annotations.services.agreement.compute import batch_agreement_compute
from tests.exporting import labelled_study
from tests.releases.test_release_reader_accuracy import (  # noqa: F401 (fixtures)
    Flags,
    built,
    card,
    carol,
    simulated,
    table,
)

pytestmark = pytest.mark.django_db
NUMBERS = ROW_COLUMNS[4:]


def _usernames(release, users) -> dict[str, str]:
    """Release pseudonym -> username."""
    by_id = {user.pk: user.username for user in users}
    return {name: by_id[user_id] for name, user_id in release.pseudonym_key.items() if user_id in by_id}


def _release_rows(release, users) -> list[dict]:
    names = _usernames(release, users)
    return [{**row, "reader": names[row["reader"]]} for row in table(release)]


def _as_text(value) -> str:
    """A JSON value as the CSV writes it (floats as repr, None as nothing)."""
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)


class _Rows(HTMLParser):
    """The page's per-class rows: each <tr data-row> with its <td data-key> cells' text."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.inside, self.rows, self.key = table_id, False, [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.inside = attrs.get("id") == self.table_id
        elif self.inside and tag == "tr" and "data-row" in attrs:
            self.rows.append(dict(zip(ROW_COLUMNS[:4], attrs["data-row"].split("|"), strict=True)))
        elif self.inside and "data-key" in attrs and self.rows:
            self.key = attrs["data-key"]
            self.rows[-1][self.key] = ""

    def handle_endtag(self, tag):
        self.key = None
        if tag == "table":
            self.inside = False

    def handle_data(self, data):
        if self.key:
            self.rows[-1][self.key] += data.strip()


def _number(text: str) -> float | None:
    return None if text in ("", "—") else float(text)


def page_rows(html: str) -> list[dict]:
    parser = _Rows("reader-accuracy-classes")
    parser.feed(html)
    return parser.rows


def test_the_rows_have_the_release_file_s_columns():
    assert ROW_COLUMNS == READER_ACCURACY_COLUMNS


def test_page_csv_api_and_release_agree_to_the_last_digit(client, ana, bruno, carol, carla, diego, tnmg):  # noqa: F811
    study = labelled_study(readers=[ana, bruno, carol], coordinator=diego, adjudicator=carla, taxonomy=tnmg)
    batch_agreement_compute(study.batch.pk)  # after the adjudication: the figures are current
    release = built(diego, study.batch)
    expected = _release_rows(release, [ana, bruno, carol])
    client.force_login(diego)

    api = client.get(reverse("api-batch-agreement", args=[study.batch.pk])).json()["reader_accuracy"]
    assert api["refused"] == ""
    got = [{key: _as_text(row[key]) for key in ROW_COLUMNS} for row in api["rows"]]
    assert sorted(got, key=lambda r: tuple(r.values())) == sorted(expected, key=lambda r: tuple(r.values()))

    download = client.get(reverse("batch-agreement-csv", args=[study.batch.pk]) + "?table=reader_accuracy")
    text = download.content.decode()
    assert text.splitlines()[0] == ",".join(READER_ACCURACY_COLUMNS)
    from_csv = list(csv.DictReader(io.StringIO(text, newline="")))
    assert sorted(from_csv, key=lambda r: tuple(r.values())) == sorted(
        expected, key=lambda r: tuple(r.values())
    )

    html = client.get(reverse("batch-agreement", args=[study.batch.pk])).content.decode()
    shown = page_rows(html)
    by_key = {tuple(r[k] for k in ROW_COLUMNS[:4]): r for r in expected}
    # The page leaves out the classes a reader never marked and the reference never holds present.
    in_play = [r for r in expected if int(r["tp"]) + int(r["fp"]) + int(r["fn"])]
    assert len(shown) == len(in_play) > 0
    for row in shown:
        want = by_key[tuple(row[k] for k in ROW_COLUMNS[:4])]
        for key in NUMBERS:
            assert _number(row.get(key, "")) == _number(want[key]), (
                row,
                want,
                key,
            )
    # ana's pooled figures against consensus, as the card gives them.
    names = _usernames(release, [ana, bruno, carol])
    card_readers = {names[r["reader"]]: r for r in card(release)["readers_vs_consensus"]["readers"]}
    api_readers = {r["reader"]: r for r in api["readers"]}
    for username, entry in card_readers.items():
        assert {**api_readers[username], "reader": entry["reader"]} == entry
    assert re.search(r'id="reader-accuracy-readers"', html)


def test_suggestion_exposure_and_drift_reach_the_api_and_the_page(client, simulated, diego):  # noqa: F811
    batch, readers, _, _ = simulated
    batch_agreement_compute(batch.pk)
    release = built(diego, batch)
    client.force_login(diego)
    api = client.get(reverse("api-batch-agreement", args=[batch.pk])).json()["reader_accuracy"]
    expected = _release_rows(release, readers.values())
    got = [{key: _as_text(row[key]) for key in ROW_COLUMNS} for row in api["rows"]]
    assert sorted(got, key=lambda r: tuple(r.values())) == sorted(expected, key=lambda r: tuple(r.values()))
    assert {r["exposure"] for r in api["rows"]} == {"all", "shown", "not_shown"}
    names = _usernames(release, readers.values())
    card_readers = {names[r["reader"]]: r for r in card(release)["readers_vs_consensus"]["readers"]}
    api_readers = {r["reader"]: r for r in api["readers"]}
    for username, entry in card_readers.items():
        assert {**api_readers[username], "reader": entry["reader"]} == entry
    assert api_readers["r2"]["drift"]["flagged"] is True and api_readers["r1"]["drift"]["flagged"] is False
    assert api_readers["r3"]["suggestion_share"] == 0.5

    html = client.get(reverse("batch-agreement", args=[batch.pk])).content.decode()
    flagged = re.search(r'<tr data-reader="r2"[^>]*>.*?</tr>', html, re.S).group(0)
    assert 'class="drift-flag"' in flagged
    steady = re.search(r'<tr data-reader="r1"[^>]*>.*?</tr>', html, re.S).group(0)
    assert 'class="drift-flag"' not in steady
    assert {r["exposure"] for r in page_rows(html)} == {"all", "shown", "not_shown"}


def test_before_the_first_computation_there_are_no_figures(client, ana, bruno, diego, tnmg):
    from tests.factories import batch_for

    batch = batch_for(tnmg, diego, [ana, bruno], name="Fresh")
    client.force_login(diego)
    body = client.get(reverse("api-batch-agreement", args=[batch.pk])).json()
    assert "reader_accuracy" not in body
