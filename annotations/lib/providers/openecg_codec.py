"""A trained delineation and rhythm model: openecg's int8 ONNX layered codec (codec_v6), run on CPU.

What the model is (its model card, openecg/models/codec_v6_MODEL_CARD.md in the openecg 0.11.0 wheel,
Apache-2.0): one lead, 10 s at 500 Hz, rank-normalised input; per sample it gives a wave class (other,
P, QRS, T) and a rhythm class (sinus, avb, paced, afib, bbb, ventricular). Trained on LUDB, QTDB, ISP,
MIT-BIH and a Korean hospital's cardiologist rhythm labels; audited on CODE-test (patient-disjoint) with
AUROC 0.994 (AV block), 0.999 (AF), 0.946 (BBB) from lead II. Research use, not a medical device.

How it is used here:
* Window: the central 10 s of the strip at 500 Hz (shorter strips are zero-padded and the padding is
  ignored). The codec's own card says its outer 2 s have little context; rhythm probabilities are
  averaged over the inner band only.
* Rhythm from lead II (where the card's CODE-test figures were measured), averaged with aVF and I
  when present, since one noisy lead should not decide a rhythm alone.
* Wave delineation on all 12 leads: a sample is a global QRS when at least half the leads call it QRS;
  each global QRS is one beat. Beats whose QRS lies within 0.3 s of the window's edges are left out
  (their P wave or T wave may be cut off), and so are beats without a P run before or a T run after.
* Per beat and lead: P onset, QRS onset/offset, T offset from the runs of the frame channel; the beat's
  fiducial is the median over the leads that found it; global PR, QRS, QT are medians over beats.
  QTc by Bazett (QT / sqrt(RR)) and Fridericia (QT / cbrt(RR)). No PR when AF is suggested.
* Axes: frontal P, QRS and T axes from the net areas of leads I and aVF within each wave.
* Evaluation: the graph's last block (x10 nearest upsampling, two convolutions) runs at the coarse rate on
  the repeated values' phases (onnx_phases.py): the same sums in another order, 1.35x faster per exam.
* On a GPU (execution "cuda", onnxruntime-gpu installed) the graph takes many leads per call, each lead
  quantised on its own with its int8 products done exactly in float (onnx_lead_batch.py): a lead's
  answer is its answer alone, whatever else shares the call. On the CPU one lead per call stays the
  default: there the int8 products are the fast path and a call of 12 leads saved nothing.

Scores: AF = mean afib probability; 1dAVb = mean avb probability; SB/ST = sinus probability times the
rate rule of the measurement provider (rate < 60 / > 100 bpm). BBB is not scored: the codec's single
"bbb" class cannot tell right from left, which are separate TNMG statements.
"""

from __future__ import annotations

import hashlib
import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.ecg.resample import centre_crop, pad_to, resample
from annotations.lib.providers.base import Exams, Provider, ProviderConfigError, ProviderResult
from annotations.lib.providers.onnx_session import exact_int8_products

FS = 500
SEQ = 5000  # the codec's fixed window: 10 s at 500 Hz
INNER = (2 * FS, SEQ - 2 * FS)  # the card's inner band, where predictions had context both sides
EDGE = round(0.3 * FS)  # beats whose QRS lies this close to the window's edge are left out
LEAD = {name: index for index, name in enumerate(STANDARD_LEADS)}
RHYTHM_LEADS = ("II", "aVF", "I")
FRAME_OTHER, FRAME_P, FRAME_QRS, FRAME_T = 0, 1, 2, 3
RHYTHMS = ("sinus", "avb", "paced", "afib", "bbb", "ventricular")
REFRACTORY = round(0.2 * FS)
MAX_P_GAP = round(0.4 * FS)  # a P run must end within 400 ms before the QRS onset
CODES = ("AF", "1dAVb", "SB", "ST")


@cache
def _high_pass() -> np.ndarray:
    """The 0.5 Hz high-pass of _window, as second-order sections. scipy.signal is imported here, not with
    the module (about 1-2 s): web processes import this module only to ask what the provider offers."""
    from scipy.signal import butter

    return butter(2, 0.5, btype="highpass", fs=FS, output="sos")


def bundled_model_path(version: str = "v6") -> Path:
    from openecg.deploy import bundled_codec_onnx_path

    return bundled_codec_onnx_path(version)


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
    from annotations.lib.providers.onnx_phases import refine_on_phases

    return refine_on_phases(data)


def _lead_batched(data: bytes) -> bytes | None:
    from annotations.lib.providers.onnx_lead_batch import per_lead_batch

    return per_lead_batch(data)


def rank_normalize(signal: np.ndarray) -> np.ndarray:
    """The codec's input normalisation (openecg/opendsp): average ranks scaled to [-1, 1]."""
    from opendsp import rank_normalize as _rank

    return np.asarray(_rank(signal), dtype=np.float32)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


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
    from scipy.signal import sosfiltfilt

    chunk = sosfiltfilt(_high_pass(), chunk, axis=1)
    window = pad_to(chunk, SEQ, "end")
    return window, chunk.shape[1], start / FS


def _angle(lead_i: float, lead_avf: float, floor: float) -> float | None:
    if math.hypot(lead_i, lead_avf) < floor:
        return None  # isoelectric in the frontal plane: axis indeterminate
    return round(math.degrees(math.atan2(lead_avf, lead_i)), 1)


def _rate_rule(rate: float | None, threshold: float, width: float, above: bool) -> float:
    if rate is None:
        return 0.0
    z = (rate - threshold) / width
    z = z if above else -z
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def _session(graph: bytes, execution: str, device_id: int):
    """An onnxruntime session on the chosen device; a GPU that cannot be used is a configuration error,
    never a silent fall back to the CPU (which would be 50x slower than planned for)."""
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
        self.version = digest[:40]  # the column holds 40 characters; the full hash is in measurements
        self.execution, self.leads_per_call = execution, leads_per_call
        # The same sums in another order, 1.4x faster per lead (bench/openecg_graph.py). The version stays
        # the file's hash: the weights are the same, and the wave and rhythm classes matched on every
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
        self._outputs = [next(n for n in names if head in n) for head in ("frame", "rhythm")]
        self._heads = names

    def lead_inputs(self, signals_mv: np.ndarray, sampling_rate: float) -> np.ndarray:
        """(12, SEQ) float32: each lead's window as the model reads it."""
        window, _, _ = _window(signals_mv, sampling_rate)
        return np.stack([rank_normalize(lead) for lead in window])

    def logits(self, lead_input: np.ndarray) -> list[np.ndarray]:
        """Every head's logits, (SEQ, classes) each, for one lead_inputs row."""
        return [out[0] for out in self._session.run(self._heads, {self._input: lead_input[None, :]})]

    def _lead(self, signal: np.ndarray, rhythm: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """(frame argmax per sample, rhythm softmax per sample, or None when not asked) for one lead's
        window. One call per lead: the shipped graph's attention reshapes are stored for batch 1. Rewritten
        in memory to take 12 leads (bench/openecg_batch.py), one call was no faster on one thread (0.89x)
        and its answers moved (up to 0.9 in a rhythm logit, 0.6 % of rhythm classes): the graph quantises
        activations with one scale per tensor, so a lead's answer would depend on the exam's other leads."""
        heads = self._outputs if rhythm else self._outputs[:1]
        out = self._session.run(heads, {self._input: rank_normalize(signal)[None, :]})
        return out[0][0].argmax(axis=-1), _softmax(out[1][0].astype(np.float64)) if rhythm else None

    def run(self, signals_mv: np.ndarray, sampling_rate: float) -> ProviderResult:
        return self.run_many([(signals_mv, sampling_rate)])[0]

    def run_many(self, exams: Exams) -> list[ProviderResult]:
        """Exam by exam, lead by lead through the one session (see _lead for why not one call per exam);
        the rhythm head is read on the rhythm leads only. With the lead-batched graph, the leads of all
        the exams go through in calls of leads_per_call."""
        if self.graph == GRAPH_LEAD_BATCH:
            return self._run_batched(exams)
        results = []
        for signals_mv, sampling_rate in exams:
            window, n_real, start_s = _window(signals_mv, sampling_rate)
            frames, rhythm = [], []
            for lead, name in enumerate(STANDARD_LEADS):
                frame, probabilities = self._lead(window[lead], rhythm=name in RHYTHM_LEADS)
                frame[n_real:] = FRAME_OTHER
                frames.append(frame)
                if probabilities is not None:
                    rhythm.append(probabilities)
            results.append(self._result(window, n_real, start_s, np.stack(frames), rhythm))
        return results

    def _run_batched(self, exams: Exams) -> list[ProviderResult]:
        windows = [_window(signals_mv, sampling_rate) for signals_mv, sampling_rate in exams]
        leads = np.stack([rank_normalize(lead) for window, _, _ in windows for lead in window])
        frames = np.empty(leads.shape, dtype=np.int64)
        rhythm_logits = np.empty((*leads.shape, len(RHYTHMS)), dtype=np.float32)
        for start in range(0, len(leads), self.leads_per_call):
            part = slice(start, start + self.leads_per_call)
            frame, rhythm = self._session.run(self._outputs, {self._input: leads[part]})
            frames[part] = frame.argmax(axis=-1)
            rhythm_logits[part] = rhythm
        rhythm_rows = [LEAD[name] for name in STANDARD_LEADS if name in RHYTHM_LEADS]
        results = []
        for index, (window, n_real, start_s) in enumerate(windows):
            first = index * len(STANDARD_LEADS)
            exam_frames = frames[first : first + len(STANDARD_LEADS)]
            exam_frames[:, n_real:] = FRAME_OTHER
            rhythm = [_softmax(rhythm_logits[first + row].astype(np.float64)) for row in rhythm_rows]
            results.append(self._result(window, n_real, start_s, exam_frames, rhythm))
        return results

    def _result(
        self, window: np.ndarray, n_real: int, start_s: float, frames: np.ndarray, rhythm: list[np.ndarray]
    ) -> ProviderResult:
        """Scores and measurements of one exam from its window and the codec's per-lead output."""
        inner = slice(INNER[0], min(INNER[1], n_real)) if n_real > INNER[0] + FS else slice(0, n_real)
        rhythm_p = {
            name: float(np.mean([p[inner, i].mean() for p in rhythm])) for i, name in enumerate(RHYTHMS)
        }
        beats = self._beats(frames, window, n_real)
        measured = self._measure(beats, window)
        rate = measured["heart_rate_bpm"]
        scores = {
            "AF": rhythm_p["afib"],
            "1dAVb": rhythm_p["avb"],
            "SB": rhythm_p["sinus"] * _rate_rule(rate, 60.0, 2.0, above=False),
            "ST": rhythm_p["sinus"] * _rate_rule(rate, 100.0, 3.0, above=True),
        }
        if scores["AF"] >= self.threshold("AF"):
            measured["pr_ms"] = None  # no PR interval without organised atrial activity
            measured["quality"].append("PR not reported: atrial fibrillation suggested")
        measured["r_peaks_s"] = [round(start_s + t, 3) for t in measured["r_peaks_s"]]  # on the strip
        measured.update(
            {
                "rhythm_probabilities": {k: round(v, 4) for k, v in rhythm_p.items()},
                "window_s": [round(start_s, 3), round(start_s + n_real / FS, 3)],
                "model_sha256": self.model_sha256,
                "model_graph": self.graph,
                # A GPU's float sums come in another order: its scores and intervals can differ from
                # the CPU's in the last digits (docs/scaling.md), so each result says where it ran.
                "model_execution": self.execution,
            }
        )
        return ProviderResult(scores=scores, measurements=measured)

    @staticmethod
    def _beats(frames: np.ndarray, window: np.ndarray, n_real: int) -> list[dict[str, Any]]:
        """Global beats (QRS called by half the leads or more) with per-lead fiducials."""
        votes = (frames == FRAME_QRS).sum(axis=0)
        global_qrs = _merge_refractory(_runs(votes >= len(STANDARD_LEADS) / 2))
        global_qrs = [run for run in global_qrs if run[1] - run[0] >= 0.02 * FS]
        beats = []
        for index, (on, off) in enumerate(global_qrs):
            beat: dict[str, Any] = {"qrs": (on, off), "centre": (on + off) // 2, "leads": []}
            previous_end = global_qrs[index - 1][1] if index else 0
            next_start = global_qrs[index + 1][0] if index + 1 < len(global_qrs) else n_real
            for lead, frame in enumerate(frames):
                fiducials = _lead_fiducials(frame, on, off, previous_end, next_start)
                if fiducials:
                    fiducials["lead"] = lead
                    beat["leads"].append(fiducials)
            beat["edge"] = on < EDGE or off > n_real - EDGE
            beats.append(beat)
        return beats

    @staticmethod
    def _measure(beats: list[dict[str, Any]], window: np.ndarray) -> dict[str, Any]:
        quality: list[str] = []
        centres = np.array([b["centre"] for b in beats])
        rr = np.diff(centres) / FS * 1000.0 if len(centres) >= 2 else np.zeros(0)
        rate = 60000.0 / float(rr.mean()) if len(rr) else None
        kept = [b for b in beats if not b["edge"]]
        if len(kept) < len(beats):
            quality.append(f"{len(beats) - len(kept)} beats at the strip's edges left out of the intervals")
        per_beat: dict[str, list[float]] = {"pr": [], "qrs": [], "qt": []}
        for beat in kept:
            leads = beat["leads"]
            if len(leads) < len(STANDARD_LEADS) // 2:
                continue
            q_on = np.median([f["qrs_on"] for f in leads])
            q_off = np.median([f["qrs_off"] for f in leads])
            per_beat["qrs"].append((q_off - q_on) / FS * 1000.0)
            p_on = [f["p_on"] for f in leads if f.get("p_on") is not None]
            if len(p_on) >= len(STANDARD_LEADS) // 2:
                per_beat["pr"].append((q_on - np.median(p_on)) / FS * 1000.0)
            t_off = [f["t_off"] for f in leads if f.get("t_off") is not None]
            if len(t_off) >= len(STANDARD_LEADS) // 2:
                per_beat["qt"].append((np.median(t_off) - q_on) / FS * 1000.0)
            beat["global"] = {
                "qrs": (int(q_on), int(q_off)),
                "p": _median_run(leads, "p_on", "p_off"),
                "t": _median_run(leads, "t_on", "t_off"),
            }
        for key, values in per_beat.items():
            if not values:
                quality.append(f"{key.upper()} not measurable")
        qt = float(np.median(per_beat["qt"])) if per_beat["qt"] else None
        rr_s = 60.0 / rate if rate else None
        return {
            "n_beats": len(beats),
            "beats_measured": len(per_beat["qrs"]),
            "heart_rate_bpm": _round(rate),
            "rr_mean_ms": _round(float(rr.mean())) if len(rr) else None,
            "pr_ms": _round(float(np.median(per_beat["pr"]))) if per_beat["pr"] else None,
            "qrs_ms": _round(float(np.median(per_beat["qrs"]))) if per_beat["qrs"] else None,
            "qt_ms": _round(qt),
            "qtc_bazett_ms": _round(qt / math.sqrt(rr_s)) if qt and rr_s else None,
            "qtc_fridericia_ms": _round(qt / rr_s ** (1 / 3)) if qt and rr_s else None,
            "r_peaks_s": [round(float(c) / FS, 3) for c in centres],
            **axes_from(window, kept),
            "quality": quality,
        }


def _median_run(leads: list[dict[str, Any]], on_key: str, off_key: str) -> tuple[int, int] | None:
    pairs = [(f[on_key], f[off_key]) for f in leads if f.get(on_key) is not None]
    if len(pairs) < len(STANDARD_LEADS) // 2:
        return None
    return int(np.median([p[0] for p in pairs])), int(np.median([p[1] for p in pairs]))


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
