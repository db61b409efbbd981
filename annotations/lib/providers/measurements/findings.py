"""What each family of criteria hands the provider: scores and rationale per code, and measurements
to store beside them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from annotations.lib.providers.base import RATIONALE_MAX, Rationale


@dataclass
class Findings:
    scores: dict[str, float] = field(default_factory=dict)
    rationale: dict[str, Rationale] = field(default_factory=dict)
    measurements: dict[str, Any] = field(default_factory=dict)

    def add(self, code: str, score: float, criterion: str, source: str, finding: str) -> None:
        """A score clipped to [0, 1], and a finding cut to what a rationale may hold."""
        self.scores[code] = float(min(1.0, max(0.0, score)))
        self.rationale[code] = Rationale(criterion, source, finding[:RATIONALE_MAX])
