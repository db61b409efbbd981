"""ONNX model provider for networks that follow the CODE convention (Ribeiro et al., Nat Commun 2020,
"automatic-ecg-diagnosis"): input (N, 4096, 12) float32 at 400 Hz, leads I, II, III, aVR, aVL, aVF,
V1-V6, shorter tracings zero-padded symmetrically to 4096 samples, one sigmoid output per class.

The model file is installed by a coordinator into a models directory and pinned by SHA-256 in the
configuration. It is never fetched from the network and never unpickled: the bytes are hashed, then the
*same* bytes are handed to onnxruntime (protobuf), so nothing can swap the file between check and load.

Mapping file (JSON, next to the model; the format this module reads):

    {
      "format": "ecgreview-onnx-mapping/1",
      "name": "code-dnn",                 # provider name (slug)
      "version": "2020.1",                # model version; the provider version adds the sha256 prefix
      "activation": "sigmoid",            # "sigmoid": outputs are probabilities; "logits": apply sigmoid
      "output": "scores",                 # optional: output name when the graph has several
      "input": {
        "sampling_rate": 400, "samples": 4096,
        "pad": "center",                  # or "end"; longer tracings are cropped around their centre
        "scale": 1.0,                     # multiply millivolts by this before the network
        "leads": ["I", "II", ..., "V6"]   # the network's channel order, standard lead names
      },
      "classes": [{"index": 0, "code": "1dAVb", "threshold": 0.5}, ...]
    }

Output indices not listed are ignored (a network may predict classes this taxonomy lacks).

"output_kind" says what the output vector is (default "multilabel", the above):
* "softmax": one exclusive choice among all outputs (af-risk-prediction's 3 classes). "labels" names
  every output; measurements carry class_probabilities by label and top_class; listed "classes" give
  TNMG-coded scores. With activation "logits" the softmax is applied here, else the outputs must
  already sum to 1.
* "regression": "scalars": [{"index": 0, "name": "potassium", "unit": "mmol/L",
  "log_variance_index": 1}], stored in measurements["scalars"][name] as {value, unit, sd} (sd from the
  log-variance output when declared, else None). "classes" may be empty: such a model scores nothing.

"relevance" (optional) names a second output holding the model's own map of where each class's score
came from (Grad-CAM and the like): {"output": "cam", "layout": "class_time"} for (N, outputs, T) or
"class_lead_time" for (N, outputs, leads, T), leads in the input's order; T may be shorter than the
input (a feature map covers it evenly). Class i's map is at the class's output index; negative values
count as none. The maps come back on the exam's time axis (lib.providers.relevance.to_exam_axis).

Any model that scores classes also offers occlusion sensitivity (``occlusion``), at most
lib.providers.relevance.MAX_OCCLUSION_CALLS exams' worth of model input per exam.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.ecg.resample import fit_length, resample
from annotations.lib.providers.base import (
    Provider,
    ProviderConfigError,
    ProviderError,
    ProviderResult,
    check_provider,
)
from annotations.lib.providers.onnx_session import exact_int8_products
from annotations.lib.providers.relevance import occlusion_relevance, to_exam_axis

MAPPING_FORMAT = "ecgreview-onnx-mapping/1"
MAX_MODEL_BYTES = 1024 * 1024 * 1024  # 1 GiB: CODE's ResNet is ~25 MB; anything far larger is a mistake
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class InputSpec:
    sampling_rate: float = 400.0
    samples: int = 4096
    pad: str = "center"
    scale: float = 1.0
    leads: tuple[str, ...] = STANDARD_LEADS


OUTPUT_KINDS = ("multilabel", "softmax", "regression")
RELEVANCE_LAYOUTS = {"class_time": 3, "class_lead_time": 4}  # layout -> rank with the batch axis
_SCALAR_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class ScalarSpec:
    index: int
    name: str
    unit: str = ""
    log_variance_index: int | None = None


@dataclass(frozen=True)
class ClassSpec:
    index: int
    code: str
    threshold: float


# --- Preprocessing -------------------------------------------------------------------------------------
def preprocess(signals_mv: np.ndarray, sampling_rate: float, spec: InputSpec) -> np.ndarray:
    """(12, n) standard-order millivolts -> (1, samples, leads) float32 as the network expects."""
    order = [STANDARD_LEADS.index(lead) for lead in spec.leads]
    x = resample(np.asarray(signals_mv, dtype=np.float64)[order], sampling_rate, spec.sampling_rate)
    x = fit_length(x, spec.samples, spec.pad) * spec.scale
    return np.ascontiguousarray(x.T[None, :, :], dtype=np.float32)


# --- Loading -------------------------------------------------------------------------------------------
def confined(models_dir: str | Path, name: str | Path) -> Path:
    """A file inside models_dir, symlinks resolved; URLs and paths leaving the folder are refused."""
    text = str(name)
    if "://" in text:
        raise ProviderConfigError(f"{text!r}: model files are installed locally, never downloaded")
    root = Path(models_dir).resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root):
        raise ProviderConfigError(f"{text!r} is outside the models directory {root}")
    if not path.is_file():
        raise ProviderConfigError(f"{path} does not exist (a coordinator installs model files)")
    return path


def _read_pinned(path: Path, sha256: str, what: str) -> bytes:
    if not _SHA256.match(sha256 or ""):
        raise ProviderConfigError(f"{what}: pinned sha256 must be 64 lower-case hex digits")
    if path.stat().st_size > MAX_MODEL_BYTES:
        raise ProviderConfigError(f"{path} is larger than {MAX_MODEL_BYTES} bytes")
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ProviderConfigError(
            f"{path}: sha256 {actual} does not match the pinned {sha256}; refusing to load"
        )
    return data


def _number(value: Any, what: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (low <= value <= high):
        raise ProviderConfigError(f"mapping: {what} {value!r} is not a number in [{low}, {high}]")
    return float(value)


def parse_mapping(data: Mapping[str, Any]) -> tuple[dict[str, Any], InputSpec, list[ClassSpec]]:
    if data.get("format") != MAPPING_FORMAT:
        raise ProviderConfigError(f"mapping: format must be {MAPPING_FORMAT!r}")
    raw_input = dict(data.get("input") or {})
    leads = tuple(raw_input.get("leads", STANDARD_LEADS))
    if sorted(leads) != sorted(STANDARD_LEADS):
        raise ProviderConfigError(f"mapping: input leads {list(leads)} are not the 12 standard leads")
    pad = raw_input.get("pad", "center")
    if pad not in ("center", "end"):
        raise ProviderConfigError(f"mapping: pad {pad!r} is not 'center' or 'end'")
    spec = InputSpec(
        sampling_rate=_number(raw_input.get("sampling_rate", 400), "sampling_rate", 50, 10_000),
        samples=int(_number(raw_input.get("samples", 4096), "samples", 64, 1_000_000)),
        pad=pad,
        scale=_number(raw_input.get("scale", 1.0), "scale", 1e-6, 1e6),
        leads=leads,
    )
    classes = []
    for item in data.get("classes") or []:
        index = item.get("index")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise ProviderConfigError(f"mapping: class index {index!r} is not a non-negative integer")
        if not isinstance(item.get("code"), str) or not item["code"]:
            raise ProviderConfigError(f"mapping: class {index} has no code")
        threshold = _number(item.get("threshold", 0.5), f"threshold of {item['code']}", 0.0, 1.0)
        classes.append(ClassSpec(index=index, code=item["code"], threshold=threshold))
    kind = data.get("output_kind", "multilabel")
    if kind not in OUTPUT_KINDS:
        raise ProviderConfigError(f"mapping: output_kind {kind!r} is not one of {', '.join(OUTPUT_KINDS)}")
    if not classes and kind != "regression":
        raise ProviderConfigError("mapping: no classes")
    for attribute in ("index", "code"):
        values = [getattr(c, attribute) for c in classes]
        if len(set(values)) != len(values):
            raise ProviderConfigError(f"mapping: a class {attribute} appears twice")
    if data.get("activation", "sigmoid") not in ("sigmoid", "logits"):
        raise ProviderConfigError("mapping: activation must be 'sigmoid' or 'logits'")
    return dict(data), spec, classes


def _index(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProviderConfigError(f"mapping: {what} {value!r} is not a non-negative integer")
    return value


def parse_scalars(data: Mapping[str, Any]) -> list[ScalarSpec]:
    """The regression outputs of a mapping (empty for the other kinds)."""
    if data.get("output_kind") != "regression":
        return []
    scalars = []
    for item in data.get("scalars") or []:
        name = item.get("name")
        if not isinstance(name, str) or not _SCALAR_NAME.match(name):
            raise ProviderConfigError(f"mapping: scalar name {name!r} must be lower-case letters, digits, _")
        variance = item.get("log_variance_index")
        scalars.append(
            ScalarSpec(
                index=_index(item.get("index"), f"index of scalar {name}"),
                name=name,
                unit=str(item.get("unit", "")),
                log_variance_index=None if variance is None else _index(variance, f"variance of {name}"),
            )
        )
    if not scalars:
        raise ProviderConfigError("mapping: a regression model declares no scalars")
    if len({s.name for s in scalars}) != len(scalars):
        raise ProviderConfigError("mapping: a scalar name appears twice")
    return scalars


def _softmax(values: np.ndarray) -> np.ndarray:
    shifted = np.exp(values - values.max())
    probabilities: np.ndarray = shifted / shifted.sum()
    return probabilities


def _check_input(session: ort.InferenceSession, spec: InputSpec, path: Path) -> str:
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ProviderConfigError(f"{path.name}: expected one input, the graph has {len(inputs)}")
    shape = inputs[0].shape  # symbolic dims (the batch) come back as strings or None
    expected = [spec.samples, len(spec.leads)]
    if len(shape) != 3 or list(shape[1:]) != expected:
        raise ProviderConfigError(
            f"{path.name}: input shape {shape} is not (N, {expected[0]}, {expected[1]})"
        )
    if inputs[0].type != "tensor(float)":
        raise ProviderConfigError(f"{path.name}: input type {inputs[0].type} is not float32")
    name: str = inputs[0].name
    return name


class OnnxModelProvider(Provider):
    """Options (from SUGGESTION_PROVIDERS): models_dir, model (file name), sha256, mapping (file name),
    optional mapping_sha256, threads (intra-op threads; 1 per Celery worker process by default)."""

    def __init__(
        self,
        *,
        models_dir: str | Path,
        model: str,
        sha256: str,
        mapping: str,
        mapping_sha256: str | None = None,
        threads: int = 1,
    ) -> None:
        model_path = confined(models_dir, model)
        if model_path.suffix.lower() != ".onnx":  # pickles (.pt, .pkl, .h5 ...) are never loaded
            raise ProviderConfigError(f"{model_path.name}: only .onnx model files are accepted")
        mapping_path = confined(models_dir, mapping)
        raw = (
            mapping_path.read_bytes()
            if mapping_sha256 is None
            else _read_pinned(mapping_path, mapping_sha256, "mapping")
        )
        try:
            mapping_data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ProviderConfigError(f"{mapping_path.name} is not JSON ({error})") from None
        meta, self.input_spec, self.classes = parse_mapping(mapping_data)
        self.name = str(meta.get("name", ""))
        # The weights' hash is part of the version: new weights under an old label still get new rows.
        self.version = f"{meta.get('version', '')}+{sha256[:12]}"
        self.codes = tuple(c.code for c in self.classes)
        self.thresholds = {c.code: c.threshold for c in self.classes}
        self.logits = meta.get("activation", "sigmoid") == "logits"
        self.output_kind = meta.get("output_kind", "multilabel")
        self.scalars = tuple(parse_scalars(meta))
        self.labels = tuple(str(label) for label in meta.get("labels") or ())
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        exact_int8_products(options)  # an operator's model may be int8 too
        try:
            self.session = ort.InferenceSession(
                _read_pinned(model_path, sha256, "model"), options, providers=["CPUExecutionProvider"]
            )
        except ProviderConfigError:
            raise
        except Exception as error:  # onnxruntime raises its own types for malformed graphs
            raise ProviderConfigError(f"{model_path.name} is not a loadable ONNX model ({error})") from None
        self.input_name = _check_input(self.session, self.input_spec, model_path)
        self.output_name = self._output(meta.get("output"), model_path)
        self.relevance_output = self._relevance_output(meta.get("relevance"), model_path)
        check_provider(self)

    def _relevance_output(self, declared: Any, path: Path) -> str | None:
        """The output holding the model's own relevance maps, checked against the graph; None if none."""
        if declared is None:
            return None
        outputs = {o.name: o for o in self.session.get_outputs()}
        if not isinstance(declared, Mapping) or declared.get("output") not in outputs:
            raise ProviderConfigError(f"{path.name}: relevance has no output named {declared!r}")
        layout = declared.get("layout")
        if layout not in RELEVANCE_LAYOUTS:
            raise ProviderConfigError(
                f"mapping: relevance layout {layout!r} is not one of {list(RELEVANCE_LAYOUTS)}"
            )
        shape = outputs[declared["output"]].shape
        leads_ok = (
            layout == "class_time"
            or shape[2] in (len(self.input_spec.leads), None)
            or isinstance(shape[2], str)
        )
        if len(shape) != RELEVANCE_LAYOUTS[layout] or not leads_ok:
            raise ProviderConfigError(
                f"{path.name}: relevance output shape {shape} does not fit layout {layout}"
            )
        self.relevance_layout = layout
        return str(declared["output"])

    def _output(self, wanted: str | None, path: Path) -> str:
        outputs = {o.name: o for o in self.session.get_outputs()}
        name = wanted or next(iter(outputs))
        if name not in outputs:
            raise ProviderConfigError(f"{path.name}: no output named {name!r}")
        width = outputs[name].shape[-1] if outputs[name].shape else None
        top = self._top_index()
        if isinstance(width, int) and top >= width:
            raise ProviderConfigError(f"{path.name}: mapping uses output {top}, the graph has {width}")
        if (
            self.output_kind == "softmax"
            and self.labels
            and isinstance(width, int)
            and len(self.labels) != width
        ):
            raise ProviderConfigError(f"{path.name}: {len(self.labels)} labels for {width} softmax outputs")
        return name

    def _top_index(self) -> int:
        used = [c.index for c in self.classes] + [s.index for s in self.scalars]
        used += [s.log_variance_index for s in self.scalars if s.log_variance_index is not None]
        return max(used)

    def run(self, signals_mv: np.ndarray, sampling_rate: float) -> ProviderResult:
        x = preprocess(signals_mv, sampling_rate, self.input_spec)
        names = [self.output_name] + ([self.relevance_output] if self.relevance_output else [])
        y, *maps = self.session.run(names, {self.input_name: x})
        result = self._result(np.asarray(y, dtype=np.float64).reshape(-1), int(x.shape[1]))
        if maps:
            relevance = self._maps(
                np.asarray(maps[0], dtype=np.float64)[0], signals_mv.shape[1], sampling_rate
            )
            result = replace(result, relevance=relevance)
        return result

    def _maps(self, maps: np.ndarray, n_samples: int, sampling_rate: float) -> dict[str, np.ndarray]:
        """The relevance output of one exam -> code -> (1 or 12, n_samples) on the exam's time axis."""
        if any(c.index >= maps.shape[0] for c in self.classes):
            raise ProviderError(f"{self!r}: relevance output has {maps.shape[0]} maps, mapping needs more")
        order = [self.input_spec.leads.index(lead) for lead in STANDARD_LEADS]
        spec = self.input_spec
        out = {}
        for c in self.classes:
            one = maps[c.index][None, :] if self.relevance_layout == "class_time" else maps[c.index][order]
            out[c.code] = to_exam_axis(
                np.clip(one, 0.0, None),
                n_samples=n_samples,
                rate_hz=sampling_rate,
                input_rate_hz=spec.sampling_rate,
                input_samples=spec.samples,
                pad=spec.pad,
            )
        return out

    def score_batch(self, batch: np.ndarray, sampling_rate: float) -> np.ndarray:
        """(B, 12, n) exams -> (B, classes) scores in self.codes order, one model input per exam (a
        graph with a fixed batch of 1 is called once per exam)."""
        x = np.concatenate([preprocess(signals, sampling_rate, self.input_spec) for signals in batch])
        if self.session.get_inputs()[0].shape[0] == 1:
            parts = [self.session.run([self.output_name], {self.input_name: row[None]})[0] for row in x]
            y = np.concatenate(parts)
        else:
            (y,) = self.session.run([self.output_name], {self.input_name: x})
        y = np.asarray(y, dtype=np.float64).reshape(len(batch), -1)
        if self.logits and self.output_kind == "softmax":
            y = np.exp(y - y.max(axis=1, keepdims=True))
            y = y / y.sum(axis=1, keepdims=True)
        elif self.logits:
            y = 1.0 / (1.0 + np.exp(-np.clip(y, -50.0, 50.0)))
        return y[:, [c.index for c in self.classes]]

    def occlusion(self, signals_mv: np.ndarray, sampling_rate: float) -> dict[str, np.ndarray]:
        """Occlusion sensitivity per class: code -> (1, n), the drop in its score (see relevance.py)."""
        if not self.classes:
            return {}
        relevance = occlusion_relevance(
            lambda b: self.score_batch(b, sampling_rate), signals_mv, sampling_rate
        )
        return {c.code: relevance[i] for i, c in enumerate(self.classes)}

    def _result(self, y: np.ndarray, input_samples: int) -> ProviderResult:
        """The scores and measurements of one exam's output vector, by the mapping's output kind."""
        top = self._top_index()
        if top >= len(y):
            raise ProviderError(f"{self!r}: model returned {len(y)} outputs, mapping needs {top + 1}")
        base = {"input_samples": input_samples, "input_rate_hz": self.input_spec.sampling_rate}
        if not np.isfinite(y).all():
            raise ProviderError(f"{self!r}: the model returned NaN or infinite outputs")
        if self.output_kind == "regression":
            return self._regression(y, base)
        if self.output_kind == "softmax":
            return self._softmax(y, base)
        if self.logits:
            y = 1.0 / (1.0 + np.exp(-np.clip(y, -50.0, 50.0)))
        scores = {c.code: float(y[c.index]) for c in self.classes}
        bad = [code for code, value in scores.items() if not (math.isfinite(value) and 0.0 <= value <= 1.0)]
        if bad:  # a "sigmoid" model that emits logits: say so rather than clip
            raise ProviderError(f"{self!r}: outputs for {bad} are not in [0, 1]; is activation 'logits'?")
        return ProviderResult(
            scores=scores,
            measurements=base,
        )

    def _regression(self, y: np.ndarray, base: dict[str, Any]) -> ProviderResult:
        scalars = {}
        for spec in self.scalars:
            sd = None
            if spec.log_variance_index is not None:  # log-variance -> standard deviation
                sd = float(np.exp(0.5 * np.clip(y[spec.log_variance_index], -50.0, 50.0)))
            scalars[spec.name] = {"value": float(y[spec.index]), "unit": spec.unit, "sd": sd}
        scores = {c.code: float(y[c.index]) for c in self.classes}
        return ProviderResult(scores=scores, measurements={**base, "scalars": scalars})

    def _softmax(self, y: np.ndarray, base: dict[str, Any]) -> ProviderResult:
        probabilities = _softmax(y) if self.logits else y
        if not self.logits and (abs(float(probabilities.sum()) - 1.0) > 1e-3 or (probabilities < 0).any()):
            raise ProviderError(
                f"{self!r}: softmax outputs sum to {float(probabilities.sum()):.4f}, not 1; "
                "is activation 'logits'?"
            )
        labels = self.labels or tuple(str(i) for i in range(len(probabilities)))
        named = {label: float(p) for label, p in zip(labels, probabilities, strict=False)}
        measurements = {
            **base,
            "class_probabilities": named,
            "top_class": labels[int(np.argmax(probabilities))],
        }
        return ProviderResult(
            scores={c.code: float(probabilities[c.index]) for c in self.classes}, measurements=measurements
        )
