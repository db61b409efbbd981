"""What a release holds: its files' names and columns, the export options, and the rules every writer of
annotations.services.releases shares (the CSV dialect, the fewest reads a consensus needs)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from annotations.lib.csv_text import CsvWriter, Writable
from annotations.lib.formats.base import DEVICE_MEASUREMENTS
from annotations.selectors.agreement.rules import consensus_settings
from annotations.selectors.releases.plan import ExportPlan

CONSENSUS_CSV = "consensus.csv"
CONSENSUS_JSONL = "consensus.jsonl"
READS_CSV = "reads.csv"
ADJUDICATIONS_CSV = "adjudications.csv"
READ_HISTORY_CSV = "read_history.csv"
READER_ACCURACY_CSV = "reader_accuracy.csv"
TRACINGS = "tracings.hdf5"
CARD_JSON = "dataset_card.json"
CARD_MD = "dataset_card.md"
SUMS = "SHA256SUMS"
DEVICE_CSV = "device_measurements.csv"
SUGGESTIONS_CSV = "suggestions.csv"
META_COLUMNS = ["row", "dataset", "exam_id", "age", "is_male", "batch", "reads"]
# Last column of consensus.csv: the statements (batch taxonomy codes, space-separated) an adjudicator
# added as present on the exam although no reader marked them.
ADDED_COLUMN = "added_by_adjudicator"
READ_COLUMNS = [
    "reader",
    "dataset",
    "exam_id",
    "batch",
    "read_round",
    "stage",
    "is_current",
    "code",
    "uncertain",
    "submitted_at",
    "time_on_task_ms",
    "suggestion_shown",
    "status",
    "skip_reason",
    "skip_code",
    "revision",
    "comment",
    # Where the statement's finding is and how old (annotations.lib.qualifiers): services.releases.tables.
    "territory",
    "age",
]
# Every recorded revision of every read (services.releases.history): a submit, an amendment, a return.
READ_HISTORY_COLUMNS = [
    "reader",
    "dataset",
    "exam_id",
    "batch",
    "read_round",
    "stage",
    "revision",
    "kind",
    "codes",
    "uncertain",
    "comment",
    "reason",
    "recorded_at",
]
ADJUDICATION_COLUMNS = [
    "adjudicator",
    "dataset",
    "exam_id",
    "batch",
    "code",
    "value",
    "version",
    "decided_at",
    "rationale",
]
# Per file, the columns people wrote as prose (what the card lists, and what is escaped as a spreadsheet
# cell): the reader's comment and skip words, the adjudicator's rationale. Every other column is a code,
# an identifier, a number or a time.
FREE_TEXT_COLUMNS = {
    READS_CSV: ["skip_reason", "comment"],
    CONSENSUS_JSONL: ["comments[].comment"],
    ADJUDICATIONS_CSV: ["rationale"],
    READ_HISTORY_CSV: ["comment", "reason"],
}
AGREEMENT_FIELDS = (
    "prevalence",
    "observed_agreement",
    "fleiss_kappa",
    "gwet_ac1",
    "krippendorff_alpha",
    "pabak",
)
# The recording carts' own measurements, one column per key the importers keep (annotations/lib/formats).
DEVICE_COLUMNS = ["row", "dataset", "exam_id", *DEVICE_MEASUREMENTS]
# The model suggestions behind the exams: one row per exam, suggestion and statement it suggested (score
# at or above its threshold); no 'suggested' column, every row being one.
SUGGESTION_COLUMNS = [
    "row",
    "dataset",
    "exam_id",
    "provider",
    "provider_version",
    "computed_at",
    "code",
    "score",
    "threshold",
    "criterion",
    "source",
    "finding",
    "shown_to_readers",
]
# The columns of SUGGESTIONS_CSV a provider wrote as prose: escaped as spreadsheet cells, as a reader's
# skip reason is, unlike the identifiers and numbers of every other column.
SUGGESTION_TEXT_COLUMNS = ["criterion", "source", "finding"]
WAVEFORM_CHUNK = 256
INSUFFICIENT = "insufficient reads"

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ExportOptions:
    hdf5: bool = True
    native_rate: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"hdf5": self.hdf5, "native_rate": self.native_rate}


def csv_writer(handle: Writable) -> CsvWriter:
    return CsvWriter(handle)


def min_reads(plan: ExportPlan) -> dict[int, int]:
    """Per batch, the fewest submitted reads an exam needs for a consensus (the agreement service's rule:
    an exam read fewer times gets none, and the release says so instead of calling its classes absent)."""
    return {batch.pk: consensus_settings(batch)["min_reads"] for batch in plan.batches}
