"""A trained delineation and rhythm model: openecg's int8 ONNX layered codec (codec_v6), run on CPU.

What the model is (its model card, openecg/models/codec_v6_MODEL_CARD.md in the openecg 0.11.0 wheel,
Apache-2.0): one lead, 10 s at 500 Hz, rank-normalised input; per sample it gives a wave class (other,
P, QRS, T), a beat class (none, sinus, vpc, paced, fusion, unknown) and a rhythm class (sinus, avb,
paced, afib, bbb, ventricular). Trained on LUDB, QTDB, ISP,
MIT-BIH and a Korean hospital's cardiologist rhythm labels; audited on CODE-test (patient-disjoint) with
AUROC 0.994 (AV block), 0.999 (AF), 0.946 (BBB) from lead II. Research use, not a medical device.

How it is used here:
* Window: the central 10 s of the strip at 500 Hz (shorter strips are zero-padded and the padding is
  ignored). The codec's own card says its outer 2 s have little context; rhythm probabilities are
  averaged over the inner band only.
* All three heads (wave, beat and rhythm classes) on all 12 leads: the card's CODE-test figures were
  measured on lead II, but a bundle branch block shows in V1 and V6 and the labelled ventricular
  tachycardias were called ventricular in aVR, aVL or V1 first. rhythm_probabilities: the mean over the
  leads with a signal, over the inner band.
* Wave delineation on all 12 leads: a sample is a global QRS when at least half the leads with a signal
  call it QRS (each lead's QRS widened by VOTE_TOLERANCE); each global QRS is one beat. Beats whose QRS
  lies within 0.3 s of the window's edges are left out (their P wave or T wave may be cut off), and so
  are beats without a P run before or a T run after.
* Per beat and lead: P onset, QRS onset/offset, T offset from the runs of the frame channel; the beat's
  fiducial is the median over the leads that found it; global QRS and QT are medians over beats (the
  PR: below); qrs_span_ms runs from the earliest to the latest of the leads' QRS (25th/75th percentiles).
  QTc by Bazett (QT / sqrt(RR)) and Fridericia (QT / cbrt(RR)). No PR when AF is suggested.
* Axes: frontal P, QRS and T axes from the net areas of leads I and aVF within each wave.
* Evaluation: the graph's last block (x10 nearest upsampling, two convolutions) runs at the coarse rate on
  the repeated values' phases (onnx_phases.py): the same sums in another order, 1.35x faster per exam.
* On a GPU (execution "cuda", onnxruntime-gpu installed) the graph takes many leads per call, each lead
  quantised on its own with its int8 products done exactly in float (onnx_lead_batch.py): a lead's
  answer is its answer alone, whatever else shares the call. On the CPU one lead per call stays the
  default: there the int8 products are the fast path and a call of 12 leads saved nothing.

* Leads without a signal (a flat line, as in records where the precordial leads were not recorded) take
  no part: they neither vote for a QRS nor count in a rhythm.
* PR: from the median of the beats aligned at their QRS onset (the 25th percentile of the leads' onsets:
  the earliest, short of one stray lead). The codec's P runs start where the wave is plain, 10-40 ms after
  it leaves the baseline (read on the median beats of the labelled first-degree blocks), so each lead's P
  onset is moved back to where its P wave leaves the chord from 80 ms before the run to the P peak
  (hand-written: neurokit2's delineators are single-lead and slower than the whole codec), and the global
  P onset is the 25th percentile over the leads with a P wave of 0.05 mV or more.

Scores, their reasons and the rules behind them: openecg_findings.py (every head of the codec is read:
wave, beat and rhythm classes).
"""

from __future__ import annotations

import hashlib
import math
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from annotations.lib.providers.onnx_lead_batch import per_lead_batch
from annotations.lib.providers.onnx_phases import refine_on_phases

if TYPE_CHECKING:
    from onnxruntime import InferenceSession

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.ecg.resample import centre_crop, pad_to, resample
from annotations.lib.lazy_imports import HEAVY_IMPORT
from annotations.lib.providers.base import Exams, Provider, ProviderConfigError, ProviderResult
from annotations.lib.providers.onnx_session import exact_int8_products
from annotations.lib.providers.openecg_findings import CodecReading, read

FS = 500
SEQ = 5000  # the codec's fixed window: 10 s at 500 Hz
INNER = (2 * FS, SEQ - 2 * FS)  # the card's inner band, where predictions had context both sides
EDGE = round(0.3 * FS)  # beats whose QRS lies this close to the window's edge are left out
LEAD = {name: index for index, name in enumerate(STANDARD_LEADS)}
FRAME_OTHER, FRAME_P, FRAME_QRS, FRAME_T = 0, 1, 2, 3
RHYTHMS = ("sinus", "avb", "paced", "afib", "bbb", "ventricular")
BEATS = ("none", "sinus", "vpc", "paced", "fusion", "unknown")
REFRACTORY = round(0.2 * FS)
MAX_P_GAP = round(0.4 * FS)  # a P run must end within 400 ms before the QRS onset
CODES = ("AF", "1dAVb", "SB", "ST", "SR", "VT", "NSVT", "AIVR", "VPB", "PACE", "RBBB", "LBBB")
# The reading of the outputs (openecg_findings.py and the measurements here): results are stored per
# provider version, so a change in how the outputs are read must change the version, as a new model does.
READING_VERSION = "2"
FLAT_MV = 0.01  # peak-to-peak below which a lead carries no signal (unrecorded leads are exactly flat)
ONSET_PERCENTILE = 25  # of the leads' QRS onsets (and 75 of the offsets): the earliest, short of a stray lead
P_SEARCH = round(0.08 * FS)  # how far before the codec's P run its true onset is looked for
P_MIN_MV = 0.05  # a lead's P wave smaller than this does not place the P onset
PR_BEFORE = round(0.5 * FS)  # the median beat for the PR reaches this far before the QRS onset
# Each lead's QRS is widened by this much each side before the leads vote: on a wide ventricular complex
# the leads call different parts of it QRS, and without the tolerance a 170/min ventricular tachycardia
# was counted at 105/min (half its complexes found no simultaneous majority).
VOTE_TOLERANCE = round(0.01 * FS)


@cache
def _high_pass() -> np.ndarray:
    """The 0.5 Hz high-pass of _window, as second-order sections. scipy.signal is imported here, not with
    the module (about 1-2 s): web processes import this module only to ask what the provider offers."""
    with HEAVY_IMPORT:  # lib.lazy_imports says why
        from scipy.signal import butter

    sos: np.ndarray = butter(2, 0.5, btype="highpass", fs=FS, output="sos")
    return sos


def bundled_model_path(version: str = "v6") -> Path:
    with HEAVY_IMPORT:  # lib.lazy_imports says why
        from openecg.deploy import bundled_codec_onnx_path

    path: Path = bundled_codec_onnx_path(version)
    return path


GRAPH_PHASES, GRAPH_AS_SHIPPED = "refinement on phases", "as shipped"
GRAPH_LEAD_BATCH = "refinement on phases, leads batched and quantised one by one"
EXECUTION_PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}
# No TF32: the attention's float products then give the CPU's answers more closely (the int8 ones are
# exact either way). bench/openecg_gpu.py --cuda-option tries others.
CUDA_OPTIONS = {"use_tf32": "0"}
# 8 exams per call. On an H100, calls of 12 to 768 leads gave 32-49 exams/s per process alike (the CPU's
# part bounds it), while GPU memory grows with the call: at 384 leads one attention buffer is 1.5 GB and
# 12 processes ran out of the card's 80 GB. Memory, not call size, decides how many processes share a card.
LEADS_PER_CALL_GPU = 96


def _refined_on_phases(data: bytes) -> bytes | None:
    """The rewritten graph, or None when the graph has another shape."""
    return refine_on_phases(data)


def _lead_batched(data: bytes) -> bytes | None:
    return per_lead_batch(data)


def rank_normalize(signal: np.ndarray) -> np.ndarray:
    """The codec's input normalisation (openecg/opendsp): average ranks scaled to [-1, 1]."""
    with HEAVY_IMPORT:  # lib.lazy_imports says why
        from opendsp import rank_normalize as _rank

    return np.asarray(_rank(signal), dtype=np.float32)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    probabilities: np.ndarray = exp / exp.sum(axis=-1, keepdims=True)
    return probabilities


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each run of True, end exclusive."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _window(signals_mv: np.ndarray, sampling_rate: float) -> tuple[np.ndarray, int, float]:
    """(12, SEQ) at 500 Hz from the strip's central 10 s, the count of real samples, the start in s."""
    resampled = resample(signals_mv, sampling_rate, FS)
    chunk = centre_crop(resampled, SEQ)
    start = (resampled.shape[1] - chunk.shape[1]) // 2
    # 0.5 Hz high-pass (zero phase): the rank normalisation is per window, so a wandering baseline
    # would otherwise spread the ranks of the P and T waves.
    with HEAVY_IMPORT:  # lib.lazy_imports says why
        from scipy.signal import sosfiltfilt

    chunk = sosfiltfilt(_high_pass(), chunk, axis=1)
    window = pad_to(chunk, SEQ, "end")
    return window, chunk.shape[1], start / FS


def _angle(lead_i: float, lead_avf: float, floor: float) -> float | None:
    if math.hypot(lead_i, lead_avf) < floor:
        return None  # isoelectric in the frontal plane: axis indeterminate
    return round(math.degrees(math.atan2(lead_avf, lead_i)), 1)


def _session(graph: bytes, execution: str, device_id: int) -> InferenceSession:
    """An onnxruntime session on the chosen device; a GPU that cannot be used is a configuration error,
    never a silent fall back to the CPU (which would be 50x slower than planned for)."""
    with HEAVY_IMPORT:  # lib.lazy_imports says why
        import onnxruntime as ort

    options = ort.SessionOptions()
    # One core per worker process: throughput scales by adding processes, and threads inside one
    # would fight the other workers for the same cores.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Stated, not left to the default: below "extended" the int8 MatMuls are not fused and the
    # frame logits move by up to 0.5 (wave calls change); "extended" and "all" give equal output.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    exact_int8_products(options)
    wanted = EXECUTION_PROVIDERS[execution]
    if execution == "cpu":
        return ort.InferenceSession(graph, options, providers=[wanted])
    offered = ort.get_available_providers()
    if wanted not in offered:
        raise ProviderConfigError(
            f"openecg execution 'cuda' needs onnxruntime-gpu in place of onnxruntime; this one offers "
            f"{', '.join(offered)}"
        )
    if hasattr(ort, "preload_dlls"):
        ort.preload_dlls()  # CUDA and cuDNN from the nvidia-* wheels, where they were installed that way
    gpu = {**CUDA_OPTIONS, "device_id": str(device_id)}
    try:
        session = ort.InferenceSession(graph, options, providers=[(wanted, gpu), "CPUExecutionProvider"])
    except Exception as error:  # onnxruntime's own exception types
        raise ProviderConfigError(f"openecg on CUDA device {device_id}: {error}") from None
    if session.get_providers()[0] != wanted:
        raise ProviderConfigError(
            f"openecg on CUDA device {device_id}: onnxruntime started on {session.get_providers()[0]} "
            "(CUDA or cuDNN libraries not found?)"
        )
    return session


class OpenEcgProvider(Provider):
    """Options: model_path (default: the codec shipped in the openecg wheel), sha256 (refuse a file
    whose hash differs), refine_on_phases (default on: evaluate the graph's upsampling refinement at the
    coarse rate, lib/providers/onnx_phases.py; off runs the file's graph as it is, for an audit),
    execution ("cpu", the default, or "cuda": onnxruntime-gpu on device_id), leads_per_call (1 on the CPU,
    LEADS_PER_CALL_GPU on a GPU; more than 1 runs the lead-batched graph, onnx_lead_batch.py), models_dir
    is accepted and ignored (the registry passes it to model providers)."""

    name = "openecg"
    codes = CODES

    # Long for its options alone: each is checked where it is read, so a bad one names itself.
    def __init__(
        self,
        model_path: str | None = None,
        sha256: str | None = None,
        refine_on_phases: bool = True,
        models_dir: str | None = None,
        execution: str = "cpu",
        leads_per_call: int | None = None,
        device_id: int = 0,
    ):
        if execution not in EXECUTION_PROVIDERS:
            raise ProviderConfigError(
                f"openecg execution {execution!r}: choose one of {', '.join(EXECUTION_PROVIDERS)}"
            )
        if leads_per_call is None:
            leads_per_call = LEADS_PER_CALL_GPU if execution == "cuda" else 1
        if isinstance(leads_per_call, bool) or not isinstance(leads_per_call, int) or leads_per_call < 1:
            raise ProviderConfigError(f"openecg leads_per_call {leads_per_call!r}: a whole number, 1 or more")
        path = Path(model_path) if model_path else bundled_model_path()
        try:
            data = path.read_bytes()
        except OSError as error:
            raise ProviderConfigError(f"openecg model {path}: {error}") from None
        digest = hashlib.sha256(data).hexdigest()
        if sha256 and sha256.lower() != digest:
            raise ProviderConfigError(f"openecg model {path.name}: SHA-256 {digest}, expected {sha256}")
        self.model_sha256 = digest
        # The column holds 40 characters: the reading's version, then as much of the model's hash as fits
        # (the full hash is in each result's measurements).
        self.version = f"{READING_VERSION}+{digest[: 40 - len(READING_VERSION) - 1]}"
        self.execution, self.leads_per_call = execution, leads_per_call
        # The same sums in another order, 1.4x faster per lead (bench/openecg_graph.py). The version does not
        # name the graph: the weights are the same, and the wave and rhythm classes matched on every
        # sample of the test records; which graph ran is in each result's measurements.
        rewritten = _refined_on_phases(data) if refine_on_phases else None
        self.graph = GRAPH_PHASES if rewritten is not None else GRAPH_AS_SHIPPED
        self.graph_bytes = rewritten if rewritten is not None else data
        if execution == "cuda" or leads_per_call > 1:
            # A GPU needs it even one lead at a time: onnxruntime's CUDA provider has no
            # DynamicQuantizeLinear, and would copy every quantised tensor to the CPU and back.
            batched = _lead_batched(self.graph_bytes) if rewritten is not None else None
            if batched is None:
                raise ProviderConfigError(
                    f"openecg model {path.name}: its graph cannot take several leads per call "
                    "(not the codec's shapes); use execution 'cpu' with leads_per_call 1"
                )
            self.graph, self.graph_bytes = GRAPH_LEAD_BATCH, batched
        self._session = _session(self.graph_bytes, execution, device_id)
        self._input = self._session.get_inputs()[0].name
        names = [output.name for output in self._session.get_outputs()]
        self._outputs = [next(n for n in names if head in n) for head in ("frame", "beat", "rhythm")]
        self._heads = names

    def lead_inputs(self, signals_mv: np.ndarray, sampling_rate: float) -> np.ndarray:
        """(12, SEQ) float32: each lead's window as the model reads it."""
        window, _, _ = _window(signals_mv, sampling_rate)
        return np.stack([rank_normalize(lead) for lead in window])

    def logits(self, lead_input: np.ndarray) -> list[np.ndarray]:
        """Every head's logits, (SEQ, classes) each, for one lead_inputs row."""
        return [out[0] for out in self._session.run(self._heads, {self._input: lead_input[None, :]})]

    def _lead(self, signal: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(frame argmax, beat softmax, rhythm softmax) per sample for one lead's window. One call per
        lead: the shipped graph's attention reshapes are stored for batch 1. Rewritten in memory to take 12
        leads (bench/openecg_batch.py), one call was no faster on one thread (0.89x) and its answers moved
        (up to 0.9 in a rhythm logit, 0.6 % of rhythm classes): the graph quantises activations with one
        scale per tensor, so a lead's answer would depend on the exam's other leads. All three heads are
        asked on every lead: they share the backbone, and asking for one alone saved nothing measurable."""
        frame, beat, rhythm = self._session.run(self._outputs, {self._input: rank_normalize(signal)[None, :]})
        return (
            frame[0].argmax(axis=-1),
            _softmax(beat[0].astype(np.float64)),
            _softmax(rhythm[0].astype(np.float64)),
        )

    def run(self, signals_mv: np.ndarray, sampling_rate: float) -> ProviderResult:
        return self.run_many([(signals_mv, sampling_rate)])[0]

    def run_many(self, exams: Exams) -> list[ProviderResult]:
        """Exam by exam, lead by lead through the one session (see _lead for why not one call per exam).
        With the lead-batched graph, the leads of all the exams go through in calls of leads_per_call."""
        if self.graph == GRAPH_LEAD_BATCH:
            return self._run_batched(exams)
        results = []
        for signals_mv, sampling_rate in exams:
            window, n_real, start_s = _window(signals_mv, sampling_rate)
            frames, beat, rhythm = zip(*(self._lead(lead) for lead in window), strict=True)
            frames = np.stack(frames)
            frames[:, n_real:] = FRAME_OTHER
            results.append(self._result(window, n_real, start_s, frames, np.stack(beat), np.stack(rhythm)))
        return results

    def _run_batched(self, exams: Exams) -> list[ProviderResult]:
        windows = [_window(signals_mv, sampling_rate) for signals_mv, sampling_rate in exams]
        leads = np.stack([rank_normalize(lead) for window, _, _ in windows for lead in window])
        frames = np.empty(leads.shape, dtype=np.int64)
        beat_logits = np.empty((*leads.shape, len(BEATS)), dtype=np.float32)
        rhythm_logits = np.empty((*leads.shape, len(RHYTHMS)), dtype=np.float32)
        for start in range(0, len(leads), self.leads_per_call):
            part = slice(start, start + self.leads_per_call)
            frame, beat, rhythm = self._session.run(self._outputs, {self._input: leads[part]})
            frames[part] = frame.argmax(axis=-1)
            beat_logits[part], rhythm_logits[part] = beat, rhythm
        results = []
        for index, (window, n_real, start_s) in enumerate(windows):
            rows = slice(index * len(STANDARD_LEADS), (index + 1) * len(STANDARD_LEADS))
            exam_frames = frames[rows]
            exam_frames[:, n_real:] = FRAME_OTHER
            beat = _softmax(beat_logits[rows].astype(np.float64))
            rhythm = _softmax(rhythm_logits[rows].astype(np.float64))
            results.append(self._result(window, n_real, start_s, exam_frames, beat, rhythm))
        return results

    def _result(
        self,
        window: np.ndarray,
        n_real: int,
        start_s: float,
        frames: np.ndarray,
        beat: np.ndarray,
        rhythm: np.ndarray,
    ) -> ProviderResult:
        """Scores and measurements of one exam from its window and the codec's per-lead outputs: frames
        (12, SEQ) wave classes, beat and rhythm (12, SEQ, 6) probabilities."""
        inner = slice(INNER[0], min(INNER[1], n_real)) if n_real > INNER[0] + FS else slice(0, n_real)
        alive = _alive(window, n_real)
        beats = self._beats(frames, window, n_real, alive)
        measured = self._measure(beats, window, alive)
        reading = CodecReading(window, frames, beat, rhythm, alive, inner, beats, measured)
        scores, rationale, extra = read(reading)
        rhythm_p = {name: float(rhythm[alive, inner, i].mean()) for i, name in enumerate(RHYTHMS)}
        if scores["AF"] >= self.threshold("AF"):
            measured["pr_ms"] = None  # no PR interval without organised atrial activity
            measured["quality"].append("PR not reported: atrial fibrillation suggested")
        if not alive.all():
            names = ", ".join(name for name, on in zip(STANDARD_LEADS, alive, strict=True) if not on)
            measured["quality"].append(f"no signal in {names}: left out")
        measured["r_peaks_s"] = [round(start_s + t, 3) for t in measured["r_peaks_s"]]  # on the strip
        measured.update(
            {
                **extra,
                "rhythm_probabilities": {k: round(v, 4) for k, v in rhythm_p.items()},
                "window_s": [round(start_s, 3), round(start_s + n_real / FS, 3)],
                "model_sha256": self.model_sha256,
                "model_graph": self.graph,
                # A GPU's float sums come in another order: its scores and intervals can differ from
                # the CPU's in the last digits (docs/scaling.md), so each result says where it ran.
                "model_execution": self.execution,
            }
        )
        return ProviderResult(scores=scores, measurements=measured, rationale=rationale)

    @staticmethod
    def _beats(
        frames: np.ndarray, window: np.ndarray, n_real: int, alive: np.ndarray
    ) -> list[dict[str, Any]]:
        """Global beats (QRS called by half the leads with a signal or more) with per-lead fiducials;
        onset: the global QRS onset (ONSET_PERCENTILE of the leads' onsets)."""
        live = np.flatnonzero(alive)
        votes = _widened(frames[live] == FRAME_QRS, VOTE_TOLERANCE).sum(axis=0)
        global_qrs = _merge_refractory(_runs(votes >= max(1, len(live)) / 2))
        global_qrs = [
            (on + VOTE_TOLERANCE, off - VOTE_TOLERANCE)
            for on, off in global_qrs
            if off - on - 2 * VOTE_TOLERANCE >= 0.02 * FS
        ]
        beats = []
        for index, (on, off) in enumerate(global_qrs):
            beat: dict[str, Any] = {"qrs": (on, off), "centre": (on + off) // 2, "leads": []}
            previous_end = global_qrs[index - 1][1] if index else 0
            next_start = global_qrs[index + 1][0] if index + 1 < len(global_qrs) else n_real
            for lead in live:
                fiducials = _lead_fiducials(frames[lead], on, off, previous_end, next_start)
                if fiducials:
                    fiducials["lead"] = int(lead)
                    beat["leads"].append(fiducials)
            onsets = [f["qrs_on"] for f in beat["leads"]]
            beat["onset"] = round(float(np.percentile(onsets, ONSET_PERCENTILE))) if onsets else None
            beat["edge"] = on < EDGE or off > n_real - EDGE
            beats.append(beat)
        return beats

    # The global intervals and axes in one pass over the beats' fiducials, in the order a cart reports them.
    @staticmethod
    def _measure(beats: list[dict[str, Any]], window: np.ndarray, alive: np.ndarray) -> dict[str, Any]:
        quality: list[str] = []
        half = max(1, int(alive.sum()) // 2)
        centres = np.array([b["centre"] for b in beats])
        rr = np.diff(centres) / FS * 1000.0 if len(centres) >= 2 else np.zeros(0)
        rate = 60000.0 / float(rr.mean()) if len(rr) else None
        kept = [b for b in beats if not b["edge"]]
        if len(kept) < len(beats):
            quality.append(f"{len(beats) - len(kept)} beats at the strip's edges left out of the intervals")
        per_beat: dict[str, list[float]] = {"pr": [], "qrs": [], "qt": [], "span": []}
        for beat in kept:
            leads = beat["leads"]
            if len(leads) < half:
                continue
            q_on = np.median([f["qrs_on"] for f in leads])
            q_off = np.median([f["qrs_off"] for f in leads])
            per_beat["qrs"].append((q_off - q_on) / FS * 1000.0)
            span_end = np.percentile([f["qrs_off"] for f in leads], 100 - ONSET_PERCENTILE)
            per_beat["span"].append((span_end - beat["onset"]) / FS * 1000.0)
            p_on = [f["p_on"] for f in leads if f.get("p_on") is not None]
            if len(p_on) >= half:
                per_beat["pr"].append((q_on - np.median(p_on)) / FS * 1000.0)
            t_off = [f["t_off"] for f in leads if f.get("t_off") is not None]
            if len(t_off) >= half:
                per_beat["qt"].append((np.median(t_off) - q_on) / FS * 1000.0)
            beat["global"] = {
                "qrs": (int(q_on), int(q_off)),
                "p": _median_run(leads, "p_on", "p_off", half),
                "t": _median_run(leads, "t_on", "t_off", half),
            }
        for key, values in per_beat.items():
            if not values and key != "span":
                quality.append(f"{key.upper()} not measurable")
        # The PR where P waves were found on most beats, measured again on the median beat (see above).
        pr = _median_beat_pr(beats, window, alive) if per_beat["pr"] else None
        if pr is None and per_beat["pr"]:
            pr = float(np.median(per_beat["pr"]))
        qt = float(np.median(per_beat["qt"])) if per_beat["qt"] else None
        rr_s = 60.0 / rate if rate else None
        return {
            "n_beats": len(beats),
            "beats_measured": len(per_beat["qrs"]),
            "heart_rate_bpm": _round(rate),
            "rr_mean_ms": _round(float(rr.mean())) if len(rr) else None,
            "pr_ms": _round(pr),
            "qrs_ms": _round(float(np.median(per_beat["qrs"]))) if per_beat["qrs"] else None,
            "qrs_span_ms": _round(float(np.median(per_beat["span"]))) if per_beat["span"] else None,
            "qt_ms": _round(qt),
            "qtc_bazett_ms": _round(qt / math.sqrt(rr_s)) if qt and rr_s else None,
            "qtc_fridericia_ms": _round(qt / rr_s ** (1 / 3)) if qt and rr_s else None,
            "r_peaks_s": [round(float(c) / FS, 3) for c in centres],
            **axes_from(window, kept),
            "quality": quality,
        }


def _median_run(leads: list[dict[str, Any]], on_key: str, off_key: str, need: int) -> tuple[int, int] | None:
    pairs = [(f[on_key], f[off_key]) for f in leads if f.get(on_key) is not None]
    if len(pairs) < need:
        return None
    return int(np.median([p[0] for p in pairs])), int(np.median([p[1] for p in pairs]))


def _widened(mask: np.ndarray, by: int) -> np.ndarray:
    """Each row's True runs extended by `by` samples each side."""
    kernel = np.ones(2 * by + 1)
    return np.array([np.convolve(row, kernel, mode="same") > 0 for row in mask.astype(float)])


def _alive(window: np.ndarray, n_real: int) -> np.ndarray:
    """Leads that carry a signal; all of them when none seems to (nothing better to go on)."""
    alive = np.ptp(window[:, :n_real], axis=1) >= FLAT_MV if n_real else np.zeros(len(window), dtype=bool)
    return alive if alive.any() else np.ones(len(window), dtype=bool)


def _median_beat_pr(beats: list[dict[str, Any]], window: np.ndarray, alive: np.ndarray) -> float | None:
    """PR on the median of the measured beats aligned at their QRS onset: per lead, the P onset is the
    earlier of the codec's (median over beats) and the chord point, where the P wave lies farthest from
    the straight line joining the level P_SEARCH before the codec's onset (or the previous T wave's end,
    if later: at fast rates the T wave runs into the P wave) to the P peak, where the wave leaves the
    baseline; then ONSET_PERCENTILE over the leads whose P reaches P_MIN_MV."""
    need = max(1, int(alive.sum()) // 2)
    rows = [
        index
        for index, b in enumerate(beats)
        if not b["edge"]
        and b["onset"] is not None
        and b["onset"] >= PR_BEFORE
        and sum(f.get("p_on") is not None for f in b["leads"]) >= need
    ]
    if len(rows) < 2:
        return None
    onsets = np.array([beats[index]["onset"] for index in rows])
    median = np.median(window[:, onsets[:, None] + np.arange(-PR_BEFORE, 1)[None, :]], axis=1)
    p_onsets = []
    for lead in np.flatnonzero(alive):
        found = [_lead_p_and_previous_t(beats, index, int(lead)) for index in rows]
        own = [fiducials for fiducials in found if fiducials is not None]
        if len(own) < 2:
            continue
        start = PR_BEFORE + int(np.median([p_on for p_on, _, _ in own]))
        end = PR_BEFORE + int(np.median([p_off for _, p_off, _ in own]))
        t_ends = [t_off for _, _, t_off in own if t_off is not None]
        floor = PR_BEFORE + int(np.median(t_ends)) if t_ends else 0
        onset = _chord_onset(median[lead], max(0, floor, start - P_SEARCH), start, end)
        if onset is not None:
            p_onsets.append(min(start, onset))
    if not p_onsets:
        return None
    return (PR_BEFORE - float(np.percentile(p_onsets, ONSET_PERCENTILE))) / FS * 1000.0


def _lead_p_and_previous_t(
    beats: list[dict[str, Any]], index: int, lead: int
) -> tuple[int, int, int | None] | None:
    """(P onset, P offset, the previous beat's T offset or None) in one lead, relative to the beat's QRS
    onset; None without a P wave in that lead."""
    beat = beats[index]
    own = next((f for f in beat["leads"] if f["lead"] == lead and f.get("p_on") is not None), None)
    if own is None:
        return None
    previous = next((f for f in beats[index - 1]["leads"] if f["lead"] == lead), None) if index else None
    t_off = previous.get("t_off") if previous else None
    return (
        own["p_on"] - beat["onset"],
        own["p_off"] - beat["onset"],
        None if t_off is None else t_off - beat["onset"],
    )


def _chord_onset(signal: np.ndarray, before: int, start: int, end: int) -> int | None:
    """Where a wave leaves the baseline: the sample between `before` and the wave's peak (its largest
    departure from the level at `before`, within [start, end)) farthest from the chord joining the two,
    on the side opposite the wave. None for a wave under P_MIN_MV."""
    if end <= start:
        return None
    peak = start + int(np.argmax(np.abs(signal[start:end] - signal[before])))
    amplitude = signal[peak] - signal[before]
    if abs(amplitude) < P_MIN_MV or peak <= before:
        return None
    t = np.arange(before, peak + 1)
    chord = signal[before] + amplitude * (t - before) / (peak - before)
    return before + int(np.argmax((chord - signal[before : peak + 1]) * np.sign(amplitude)))


def _merge_refractory(runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join QRS runs closer than the ventricular refractory period (200 ms between onsets): one QRS
    that a few leads' votes split in two (seen on the aECG sample) is one beat."""
    merged: list[tuple[int, int]] = []
    for start, end in runs:
        if merged and start - merged[-1][0] < REFRACTORY:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _lead_fiducials(
    frame: np.ndarray, on: int, off: int, previous_end: int, next_start: int
) -> dict[str, Any] | None:
    """One lead's QRS run overlapping the global QRS, its P run before and T run after."""
    qrs = [r for r in _runs(frame == FRAME_QRS) if r[0] < off and r[1] > on]
    if not qrs:
        return None
    q_on, q_off = qrs[0][0], qrs[-1][1]
    out: dict[str, Any] = {"qrs_on": q_on, "qrs_off": q_off}
    p_runs = [
        r
        for r in _runs(frame == FRAME_P)
        if previous_end <= r[0] and r[1] <= q_on and q_on - r[1] <= MAX_P_GAP
    ]
    if p_runs:
        out["p_on"], out["p_off"] = p_runs[-1]
    t_runs = [r for r in _runs(frame == FRAME_T) if q_off <= r[0] and r[1] <= next_start]
    if t_runs:
        out["t_on"], out["t_off"] = t_runs[0]
    return out


def axes_from(window: np.ndarray, beats: list[dict[str, Any]]) -> dict[str, Any]:
    """Frontal P, QRS and T axes from net areas of I and aVF within each wave, baseline at QRS onset."""
    areas: dict[str, list[tuple[float, float]]] = {"p": [], "qrs": [], "t": []}
    for beat in beats:
        spans = beat.get("global")
        if not spans:
            continue
        q_on = spans["qrs"][0]
        baseline = window[:, max(0, q_on - round(0.02 * FS)) : q_on + 1].mean(axis=1)
        for wave in ("p", "qrs", "t"):
            span = spans[wave]
            if span is None or span[1] <= span[0]:
                continue
            segment = window[:, span[0] : span[1]] - baseline[:, None]
            area = segment.sum(axis=1) / FS * 1000.0  # mV*ms
            areas[wave].append((float(area[LEAD["I"]]), float(area[LEAD["aVF"]])))
    out: dict[str, Any] = {}
    floors = {"p": 0.5, "qrs": 1.0, "t": 1.0}  # mV*ms below which the frontal projection is flat
    for wave, values in areas.items():
        if values:
            lead_i = float(np.median([v[0] for v in values]))
            lead_avf = float(np.median([v[1] for v in values]))
            out[f"{wave}_axis_deg"] = _angle(lead_i, lead_avf, floors[wave])
        else:
            out[f"{wave}_axis_deg"] = None
    return out


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)
