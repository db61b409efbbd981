"""Tracings in shards: how a large release's rows are cut into files, and what each shard task is told.

A release of more exams than its shard size keeps the tracings in ``tracings-000.hdf5``,
``tracings-001.hdf5``, ...: consecutive rows of ``consensus.csv``, each file written by its own task so
that several workers share the work. ``tracings-index.csv`` gives every row's file and row inside it.

The split depends on the row count and the shard size alone, and a shard's file on its plan alone (the
exams' waveform keys, rates and gains, frozen when the labels were read), so every shard has the same
bytes whichever worker writes it, in whatever order, however often.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

INDEX = "tracings-index.csv"
INDEX_COLUMNS = ["row", "dataset", "exam_id", "file", "file_row"]
PLAN_FOLDER = "build"  # the shards' plans and the card awaiting them, removed once the release is done
PENDING_CARD = f"{PLAN_FOLDER}/card.json"
_SHARD = re.compile(r"tracings-(\d{3,})\.hdf5")


@dataclass(frozen=True)
class Shard:
    index: int
    name: str
    first_row: int
    rows: int

    @property
    def plan_name(self) -> str:
        return plan_name(self.name)


def plan_name(name: str) -> str:
    """Where a shard's plan waits, beside the release's files."""
    return f"{PLAN_FOLDER}/{name.removesuffix('.hdf5')}.jsonl"


def shard_name(index: int, count: int) -> str:
    """tracings-000.hdf5 ...: three digits, more when a release needs over a thousand shards, so that
    the names sort in row order."""
    width = max(3, len(str(max(count - 1, 0))))
    return f"tracings-{index:0{width}d}.hdf5"


def is_shard_name(name: str) -> bool:
    return bool(_SHARD.fullmatch(name))


def shard_split(n_rows: int, per_shard: int) -> list[Shard]:
    """Rows 0..n_rows-1 in consecutive shards of per_shard rows (the last one shorter)."""
    if per_shard < 1:
        raise ValueError("a shard holds at least one row")
    count = -(-n_rows // per_shard)
    return [
        Shard(i, shard_name(i, count), i * per_shard, min(per_shard, n_rows - i * per_shard))
        for i in range(count)
    ]


def plan_header(shard: Shard, count: int, geometry: dict[str, Any]) -> str:
    """The first line of a shard's plan: where it sits and the shape of its rows."""
    header = {"shard": shard.index, "shards": count, "first_row": shard.first_row, "rows": shard.rows}
    return json.dumps({**header, **geometry}, sort_keys=True) + "\n"


def plan_line(dataset: str, exam_id: str, key: str, rate_hz: float, gain_uv: float) -> str:
    """One exam of a shard's plan: what the shard task needs to write its row, and nothing else."""
    return json.dumps([dataset, exam_id, key, float(rate_hz), float(gain_uv)]) + "\n"


def plan_read(text: str) -> tuple[dict[str, Any], list[list[Any]]]:
    """(header, [[dataset, exam_id, key, rate, gain], ...]) of a shard's plan."""
    lines = text.splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
