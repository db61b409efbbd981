"""What a suggestion provider is, what it must return, and how providers are built from configuration.

A provider turns one exam (12 standard leads in millivolts, any sampling rate) into per-class scores in
[0, 1] plus optional measurements. Results are stored per (exam, provider name, provider version) by
the caller, so a provider's version must change whenever its output for the same input can change.

Pure: no Django here. The Celery task and the settings (SUGGESTION_PROVIDERS) live elsewhere and pass
plain lists and arrays in.
"""

from __future__ import annotations

import importlib
import json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from annotations.lib.ecg.leads import STANDARD_LEADS

# Names end up in URLs, logs and a database column: keep them to a safe alphabet.
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,59}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,79}$")
DEFAULT_THRESHOLD = 0.5
Exams = Sequence[tuple[np.ndarray, float]]  # (signals_mv, sampling_rate) per exam


class ProviderError(Exception):
    """A provider could not produce a result for this exam (bad input, or an invalid result)."""


class ProviderConfigError(ProviderError):
    """A provider cannot be built: unknown class, bad options, a model file that fails its checks."""


@dataclass(frozen=True)
class ProviderResult:
    """scores: code -> score in [0, 1], only for codes the provider could assess on this exam (a code
    left out means "not assessable here", which is not the same as a score of 0). measurements: a
    JSON-serialisable dict, numbers in ms, mV, degrees and bpm, None where not measurable. relevance:
    code -> (1 or 12, n) non-negative floats on the exam's own time axis (n samples as given to run),
    where a model says its score came from; any scale (lib.providers.relevance normalises it).
    rationale: code -> Rationale, why a rule-based provider scored a code as it did (the criterion, its
    published source and the measured values that met it); codes a model scored have none."""

    scores: dict[str, float]
    measurements: dict[str, Any] = field(default_factory=dict)
    relevance: dict[str, np.ndarray] = field(default_factory=dict)
    rationale: dict[str, Rationale] = field(default_factory=dict)


@dataclass(frozen=True)
class Rationale:
    """criterion: the rule's short name ("Sokolow-Lyon voltage"); source: where the rule is published
    ("AHA/ACCF/HRS 2009, part V"); finding: the measured values that met it, as a reader would write
    them ("QRS 148 ms, rSR' in V1, broad S in I and V6"). Plain text, shown to readers and exported."""

    criterion: str
    source: str
    finding: str

    def as_json(self) -> dict[str, str]:
        return {"criterion": self.criterion, "source": self.source, "finding": self.finding}


@dataclass(frozen=True)
class Patient:
    """What some criteria need beside the signal: Cornell's LVH limit and the QTc limit depend on sex,
    several voltage limits on age. sex is "M", "F" or None (unknown); age in years or None."""

    sex: str | None = None
    age_years: float | None = None


class Provider(ABC):
    """Subclasses set name, version and codes (the taxonomy codes they may score), and implement run.

    thresholds: the operating point per code at which a score counts as a suggestion; defaults to 0.5.
    Callers use evaluate(), which checks the input and the result around run().
    """

    name: str
    version: str
    codes: tuple[str, ...]
    thresholds: Mapping[str, float] = {}

    @abstractmethod
    def run(self, signals_mv: np.ndarray, sampling_rate: float) -> ProviderResult:
        """signals_mv: float (12, n) in STANDARD_LEADS order; sampling_rate in Hz."""

    def threshold(self, code: str) -> float:
        return float(self.thresholds.get(code, DEFAULT_THRESHOLD))

    def suggested(self, result: ProviderResult) -> list[str]:
        """Codes whose score reaches their threshold, in the provider's code order."""
        return [
            code
            for code in self.codes
            if code in result.scores and result.scores[code] >= self.threshold(code)
        ]

    def run_for(self, signals_mv: np.ndarray, sampling_rate: float, patient: Patient) -> ProviderResult:
        """run, told who the patient is; providers whose criteria depend on sex or age override this."""
        return self.run(signals_mv, sampling_rate)

    def evaluate(
        self, signals_mv: np.ndarray, sampling_rate: float, patient: Patient | None = None
    ) -> ProviderResult:
        signals = check_signals(signals_mv, sampling_rate)
        return check_result(self, self.run_for(signals, float(sampling_rate), patient or Patient()))

    def run_many(self, exams: Exams) -> list[ProviderResult]:
        """run on each (signals_mv, sampling_rate), results in the same order. A provider that can
        share work across exams (one model call for several) overrides this; the results must be
        what run gives each exam alone."""
        return [self.run(signals, rate) for signals, rate in exams]

    def evaluate_many(self, exams: Exams) -> list[ProviderResult | ProviderError]:
        """evaluate for several exams: a checked result per exam, or the ProviderError of an exam that
        fails its input or result checks (it fails alone; the others still run together)."""
        out: list[ProviderResult | ProviderError | None] = [None] * len(exams)
        checked: list[tuple[int, np.ndarray, float]] = []
        for index, (signals_mv, sampling_rate) in enumerate(exams):
            try:
                checked.append((index, check_signals(signals_mv, sampling_rate), float(sampling_rate)))
            except ProviderError as error:
                out[index] = error
        results = self.run_many([(signals, rate) for _, signals, rate in checked])
        for (index, _, _), result in zip(checked, results, strict=True):
            try:
                out[index] = check_result(self, result)
            except ProviderError as error:
                out[index] = error
        return [item for item in out if item is not None]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.version}>"


def check_signals(signals_mv: np.ndarray, sampling_rate: float) -> np.ndarray:
    """The input contract: (12, n) finite floats, a positive rate, at least 2 s of signal."""
    signals = np.asarray(signals_mv, dtype=np.float64)
    if signals.ndim != 2 or signals.shape[0] != len(STANDARD_LEADS):
        raise ProviderError(f"expected ({len(STANDARD_LEADS)}, samples) signals, got shape {signals.shape}")
    if not (isinstance(sampling_rate, int | float) and math.isfinite(sampling_rate) and sampling_rate > 0):
        raise ProviderError(f"sampling rate {sampling_rate!r} is not a positive number")
    if signals.shape[1] < 2 * sampling_rate:
        raise ProviderError(f"{signals.shape[1] / sampling_rate:.2f} s of signal; at least 2 s is needed")
    if not np.isfinite(signals).all():
        raise ProviderError("signals contain NaN or infinite samples")
    return signals


def check_provider(provider: Provider) -> Provider:
    """Declared identity and codes are well-formed; called once when the provider is built."""
    where = type(provider).__name__
    if not isinstance(getattr(provider, "name", None), str) or not _NAME.match(provider.name):
        raise ProviderConfigError(f"{where}: name {getattr(provider, 'name', None)!r} is not a short slug")
    if not isinstance(getattr(provider, "version", None), str) or not _VERSION.match(provider.version):
        raise ProviderConfigError(f"{where}: version {getattr(provider, 'version', None)!r} is not valid")
    codes = getattr(provider, "codes", ())
    # A provider of scalars only (a regression network: ECG age, potassium) scores no class.
    if (not codes and not getattr(provider, "scalars", ())) or not all(
        isinstance(c, str) and c for c in codes
    ):
        raise ProviderConfigError(f"{where}: codes must be a non-empty sequence of taxonomy codes")
    if len(set(codes)) != len(codes):
        raise ProviderConfigError(f"{where}: codes are declared twice")
    for code, value in dict(provider.thresholds).items():
        if code not in codes:
            raise ProviderConfigError(f"{where}: threshold for undeclared code {code!r}")
        if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
            raise ProviderConfigError(f"{where}: threshold {value!r} for {code} is not in [0, 1]")
    return provider


def check_result(provider: Provider, result: ProviderResult) -> ProviderResult:
    """Scores are finite, in [0, 1] and for declared codes; measurements are storable as JSON."""
    if not isinstance(result, ProviderResult):
        raise ProviderError(f"{provider!r} returned {type(result).__name__}, not a ProviderResult")
    declared = set(provider.codes)
    scores: dict[str, float] = {}
    for code, value in result.scores.items():
        if code not in declared:
            raise ProviderError(f"{provider!r} scored undeclared code {code!r}")
        score = float(value)
        if not (math.isfinite(score) and 0.0 <= score <= 1.0):
            raise ProviderError(f"{provider!r} scored {code} {value!r}, not a number in [0, 1]")
        scores[code] = score
    try:  # allow_nan=False: a JSON column (and the API) cannot carry NaN; None is the "not measured".
        json.dumps(result.measurements, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ProviderError(f"{provider!r} measurements are not plain JSON ({error})") from None
    return ProviderResult(
        scores=scores,
        measurements=result.measurements,
        relevance=_checked_relevance(provider, result),
        rationale=_checked_rationale(provider, result),
    )


RATIONALE_MAX = 500  # characters per field: a sentence for a reader, not a report


def _checked_rationale(provider: Provider, result: ProviderResult) -> dict[str, Rationale]:
    checked = {}
    for code, reason in result.rationale.items():
        if code not in provider.codes:
            raise ProviderError(f"{provider!r} returned a rationale for undeclared code {code!r}")
        if not isinstance(reason, Rationale) or not all(
            isinstance(text, str) and 0 < len(text) <= RATIONALE_MAX
            for text in (reason.criterion, reason.source, reason.finding)
        ):
            raise ProviderError(f"{provider!r} rationale for {code} is not three short texts")
        checked[code] = reason
    return checked


def _checked_relevance(provider: Provider, result: ProviderResult) -> dict[str, np.ndarray]:
    relevance = {}
    for code, values in result.relevance.items():
        array = np.asarray(values, dtype=np.float64)
        if code not in provider.codes:
            raise ProviderError(f"{provider!r} returned relevance for undeclared code {code!r}")
        if array.ndim != 2 or array.shape[0] not in (1, len(STANDARD_LEADS)) or not np.isfinite(array).all():
            raise ProviderError(f"{provider!r} relevance for {code} is not finite (1 or 12, samples) values")
        relevance[code] = array
    return relevance


def unknown_codes(provider: Provider, taxonomy_codes: Iterable[str]) -> list[str]:
    """Declared codes that a taxonomy lacks (the caller refuses or skips such a provider)."""
    known = set(taxonomy_codes)
    return [code for code in provider.codes if code not in known]


# --- Registry --------------------------------------------------------------------------------------
def provider_class(dotted: str) -> type[Provider]:
    module_name, _, attribute = dotted.rpartition(".")
    if not module_name:
        raise ProviderConfigError(f"{dotted!r} is not a dotted path to a provider class")
    try:
        target = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ProviderConfigError(f"cannot import provider {dotted!r} ({error})") from None
    if not (isinstance(target, type) and issubclass(target, Provider)):
        raise ProviderConfigError(f"{dotted!r} is not a Provider subclass")
    return target


def build_provider(entry: str | Mapping[str, Any]) -> Provider:
    """One configuration entry: "dotted.path.Class", or {"class": "dotted.path.Class", "options": {...}}."""
    if isinstance(entry, str):
        dotted, options = entry, {}
    elif isinstance(entry, Mapping) and set(entry) <= {"class", "options"} and "class" in entry:
        dotted, options = entry["class"], dict(entry.get("options") or {})
    else:
        raise ProviderConfigError(f"provider entry {entry!r} must be a dotted path or {{'class', 'options'}}")
    cls = provider_class(dotted)
    try:
        provider = cls(**options)
    except TypeError as error:  # unknown or missing keyword: a configuration mistake, say which
        raise ProviderConfigError(f"{dotted}: {error}") from None
    return check_provider(provider)


def build_providers(config: Iterable[str | Mapping[str, Any]]) -> dict[str, Provider]:
    """Providers by name, in configuration order. Two entries with one name would write over each
    other's results (stored per exam, name and version), so that is refused."""
    providers: dict[str, Provider] = {}
    for entry in config:
        provider = build_provider(entry)
        if provider.name in providers:
            raise ProviderConfigError(f"two providers are named {provider.name!r}")
        providers[provider.name] = provider
    return providers
