"""dataset_card.md is a Markdown table per section: a batch named by a coordinator with a '|' (or a line
break) must stay one cell, or every column after it shifts and the card misreports the study's design."""

from __future__ import annotations

import pytest

from annotations.models import Release
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.releases.builds import release_build
from tests.factories import UserFactory, batch_for, make_exam
from tests.reading.helpers import queue
from tests.releases.test_release_empty_reads import _submit

pytestmark = pytest.mark.django_db


def test_a_batch_name_with_a_pipe_stays_one_cell_of_the_cards_table(client_for, diego, tnmg):
    readers = [UserFactory(username=name, roles=["reader"]) for name in ("one", "two")]
    exam = make_exam(seed=1)
    batch = batch_for(tnmg, diego, readers, [exam], name="=cmd|H\nsecond line", readers_per_exam=2)
    for reader in readers:
        _submit(client_for(reader), queue(batch, reader)[0], ["SR"])
    batch_agreement_compute(batch.pk)
    client = client_for(diego)
    created = client.post(
        "/api/v1/releases/", {"batches": [batch.pk], "hdf5": False}, content_type="application/json"
    )
    release = release_build(Release.objects.get(pk=created.json()["id"]).pk)
    card = b"".join(client.get(f"/releases/{release.pk}/files/dataset_card.md").streaming_content).decode()
    header = next(line for line in card.splitlines() if line.startswith("| Batch | Name |"))
    row = next(line for line in card.splitlines() if line.startswith(f"| {batch.pk} |"))
    cells = [cell.strip() for cell in row.replace("\\|", "\0").strip("|").split("|")]
    assert len(cells) == header.count("|") - 1
    assert cells[1].replace("\0", "|") == "=cmd|H second line"
    assert cells[2] == "2"  # readers per exam, in its own column
