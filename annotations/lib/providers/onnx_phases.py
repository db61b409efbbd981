"""An upsampling refinement of an ONNX graph evaluated on its phases, at the coarse rate.

The openecg codec ends with: u = nearest-neighbour upsampling x`up` of its 500-token features h (each value
repeated `up` times), then c = conv2(gelu(conv1(u))), then u + c, then its heads. Both convolutions run at
the fine rate (5,000 samples, 128 x 128 channels, kernel 5): 41 % of the model's time on one thread.

Their input is known to repeat: u[up*j + r] = h[j]. So the output of conv1 at phase r of block j depends on
h[j-1], h[j], h[j+1] through tap sums fixed by r alone; phases whose taps read the same blocks (r = 2..7 of
10 here) have the same output. conv1 becomes one matrix product at the coarse rate over [h[j-1], h[j],
h[j+1]] with the summed taps, giving each distinct phase's output (5 of them). conv2 reads, for output phase
r, a run of consecutive (block, phase) values of that; its taps falling on the same value are summed, so
each output phase is one matrix product over a contiguous slice. The graph's own gelu runs on the distinct
values only. Multiply-adds of the two convolutions: 819 M -> 311 M per lead.

The arithmetic is the same sums in another order, so outputs agree to float rounding; where the heads
quantise their input with one scale per tensor (DynamicQuantizeLinear), that rounding can move the scale by
an ulp and a logit by one quantisation step (tests/suggestions/test_suggestions_openecg_phases.py measures
it). Hand-written because no graph optimiser we know of (onnxruntime's, onnxsim, onnxoptimizer) rewrites
a convolution over repeated values.

Pure numpy and onnx: nothing from Django. refine_on_phases returns None for any graph without exactly this
pattern; the caller then runs the graph as it is.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from onnx import GraphProto, ModelProto, NodeProto

GELU_CONSTANTS = (np.sqrt(2.0), 1.0, 0.5)  # x * 0.5 * (1 + erf(x / sqrt 2)), as PyTorch exports it


@dataclass(frozen=True)
class _Pattern:
    """The nodes of the refinement, found by structure, with its weights."""

    coarse: str  # (1, n, C): the time-major tensor transposed into the upsampling
    up: int
    conv1: tuple[np.ndarray, np.ndarray]  # weight (C, C, K), bias (C,)
    conv2: tuple[np.ndarray, np.ndarray]
    gelu: tuple[str, str, str]  # the graph's own constant names: divisor, one, half
    output: str  # the time-major (1, n * up, C) tensor the heads read
    replaced: frozenset[str]  # the first output of each node the rewrite replaces (names may be empty)


class _NotThePattern(Exception):
    pass


def _require(condition: bool) -> None:
    if not condition:
        raise _NotThePattern


def _attributes(node: NodeProto) -> dict[str, Any]:
    # onnx (protobuf, ~0.2 s) loads only when a codec's graph is rewritten, not when a provider is named.
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


class _Graph:
    def __init__(self, graph: GraphProto) -> None:
        # onnx (protobuf, ~0.2 s) loads only when a codec's graph is rewritten, not when a provider is named.
        from onnx import numpy_helper

        self.graph = graph
        self.arrays = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        self.producer = {out: node for node in graph.node for out in node.output}
        self.consumers: dict[str, list[NodeProto]] = defaultdict(list)
        for node in graph.node:
            for name in node.input:
                self.consumers[name].append(node)
        self.outputs = {o.name for o in graph.output}

    def only_consumer(self, name: str, op_type: str) -> NodeProto:
        users = self.consumers.get(name, [])
        _require(len(users) == 1 and users[0].op_type == op_type and name not in self.outputs)
        return users[0]

    def constant(self, name: str, value: float) -> None:
        _require(name in self.arrays and np.allclose(self.arrays[name], value, rtol=1e-6))

    def conv(self, node: NodeProto) -> tuple[np.ndarray, np.ndarray]:
        """A plain 'same' 1-D convolution's weight and bias."""
        _require(len(node.input) == 3 and all(n in self.arrays for n in node.input[1:]))
        weight, bias = self.arrays[node.input[1]], self.arrays[node.input[2]]
        _require(weight.ndim == 3 and weight.shape[0] == weight.shape[1] and weight.shape[2] % 2 == 1)
        a = _attributes(node)
        pad = weight.shape[2] // 2
        _require(a.get("group", 1) == 1 and list(a.get("strides", [1])) == [1])
        _require(list(a.get("dilations", [1])) == [1] and list(a.get("pads", [])) == [pad, pad])
        _require(a.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET"))
        return weight, bias


def _upsampling(g: _Graph) -> tuple[NodeProto, NodeProto, int]:
    """(the transpose into it, the Resize, its integer factor): a nearest repeat along time."""
    resizes = [node for node in g.graph.node if node.op_type == "Resize"]
    _require(len(resizes) == 1)
    resize = resizes[0]
    a = _attributes(resize)
    _require(a.get("mode") == b"nearest" and a.get("coordinate_transformation_mode") == b"asymmetric")
    _require(a.get("nearest_mode") == b"floor" and len(resize.input) == 3 and resize.input[2] in g.arrays)
    scales = g.arrays[resize.input[2]]
    _require(scales.shape == (3,) and scales[0] == 1 and scales[1] == 1 and scales[2] == int(scales[2]) > 1)
    into = g.producer.get(resize.input[0])
    if into is None:
        raise _NotThePattern
    _require(into.op_type == "Transpose" and list(_attributes(into)["perm"]) == [0, 2, 1])
    _require(g.consumers[into.output[0]] == [resize] and into.output[0] not in g.outputs)
    return into, resize, int(scales[2])


def _gelu(g: _Graph, conv: NodeProto) -> tuple[list[NodeProto], tuple[str, str, str]]:
    """The nodes of gelu(conv's output) as PyTorch exports it: Div(c, sqrt 2) -> Erf -> Add(., 1) ->
    Mul(0.5, .) -> Mul(c, .); and the names of its three constants."""
    c1 = conv.output[0]
    users = g.consumers[c1]
    _require(len(users) == 2 and c1 not in g.outputs)
    div = next((u for u in users if u.op_type == "Div"), None)
    if div is None:
        raise _NotThePattern
    _require(div.input[0] == c1)
    erf = g.only_consumer(div.output[0], "Erf")
    plus = g.only_consumer(erf.output[0], "Add")
    half = g.only_consumer(plus.output[0], "Mul")
    gelu = g.only_consumer(half.output[0], "Mul")
    _require(gelu in users and list(gelu.input) == [c1, half.output[0]])
    one = plus.input[1] if plus.input[0] == erf.output[0] else plus.input[0]
    half_name = half.input[0] if half.input[1] == plus.output[0] else half.input[1]
    constants = (div.input[1], one, half_name)
    for name, value in zip(constants, GELU_CONSTANTS, strict=True):
        g.constant(name, value)
    return [div, erf, plus, half, gelu], constants


def _find(model: ModelProto) -> _Pattern:
    g = _Graph(model.graph)
    into, resize, up = _upsampling(g)
    upsampled = resize.output[0]
    users = g.consumers[upsampled]
    _require(len(users) == 2 and {u.op_type for u in users} == {"Conv", "Add"} and upsampled not in g.outputs)
    conv1 = next(u for u in users if u.op_type == "Conv")
    residual = next(u for u in users if u.op_type == "Add")
    gelu, constants = _gelu(g, conv1)
    conv2 = g.only_consumer(gelu[-1].output[0], "Conv")
    weight1, bias1 = g.conv(conv1)
    weight2, bias2 = g.conv(conv2)
    _require(weight2.shape == weight1.shape)
    _require(g.only_consumer(conv2.output[0], "Add") is residual)
    _require(set(residual.input) == {upsampled, conv2.output[0]})
    out = g.only_consumer(residual.output[0], "Transpose")
    _require(list(_attributes(out)["perm"]) == [0, 2, 1])
    nodes = (into, resize, conv1, *gelu, conv2, residual, out)
    return _Pattern(
        coarse=into.input[0],
        up=up,
        conv1=(weight1, bias1),
        conv2=(weight2, bias2),
        gelu=constants,
        output=out.output[0],
        replaced=frozenset(node.output[0] for node in nodes),
    )


def _taps(r: int, up: int, kernel: int) -> list[tuple[int, int]]:
    """(block offset, phase) that each tap of output phase r reads at the fine rate."""
    return [divmod(r + k - kernel // 2, up) for k in range(kernel)]


class _Builder:
    def __init__(self, model: ModelProto, prefix: str = "phases_") -> None:
        self.model, self.prefix = model, prefix
        self.nodes: list[NodeProto] = []

    def name(self, stem: str) -> str:
        return self.prefix + stem

    def constant(self, stem: str, array: np.ndarray) -> str:
        # onnx (protobuf, ~0.2 s) loads only when a codec's graph is rewritten, not when a provider is named.
        from onnx import numpy_helper

        name = self.name(stem)
        self.model.graph.initializer.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], stem: str, **attributes: Any) -> str:
        # onnx (protobuf, ~0.2 s) loads only when a codec's graph is rewritten, not when a provider is named.
        from onnx import helper

        output = self.name(stem)
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def neighbours(self, x: str, stem: str) -> str:
        """Concatenation of x[j-1], x[j], x[j+1] on the channel axis (zeros beyond the ends), (1, n, 3C)."""
        padded = self.node(
            "Pad", [x, self.constant(f"{stem}_pads", np.array([0, 1, 0, 0, 1, 0]))], f"{stem}_p"
        )
        axis = self.constant(f"{stem}_axis", np.array([1]))
        before = self.node(
            "Slice",
            [
                padded,
                self.constant(f"{stem}_b0", np.array([0])),
                self.constant(f"{stem}_b1", np.array([-2])),
                axis,
            ],
            f"{stem}_before",
        )
        after = self.node(
            "Slice",
            [
                padded,
                self.constant(f"{stem}_a0", np.array([2])),
                self.constant(f"{stem}_a1", np.array([2**62])),
                axis,
            ],
            f"{stem}_after",
        )
        return self.node("Concat", [before, x, after], f"{stem}_3", axis=2)


def _conv1_weight(weight: np.ndarray, patterns: list[tuple[int, ...]]) -> np.ndarray:
    """(3C, P*C): block d+1 of rows reads h[j+d]; column block p is the phase pattern p's summed taps."""
    channels = weight.shape[0]
    out = np.zeros((3 * channels, len(patterns) * channels))
    for p, offsets in enumerate(patterns):
        for k, d in enumerate(offsets):
            rows = slice((d + 1) * channels, (d + 2) * channels)
            out[rows, p * channels : (p + 1) * channels] += weight[:, :, k].T
    return out


def _patterns(up: int, kernel: int) -> tuple[list[tuple[int, ...]], list[int]]:
    """The distinct block-offset patterns of the phases' taps, and each phase's pattern."""
    patterns: list[tuple[int, ...]] = []
    for r in range(up):
        offsets = tuple(d for d, _ in _taps(r, up, kernel))
        if offsets not in patterns:
            patterns.append(offsets)
    return patterns, [patterns.index(tuple(d for d, _ in _taps(r, up, kernel))) for r in range(up)]


def _first_conv(b: _Builder, pattern: _Pattern, patterns: list[tuple[int, ...]]) -> str:
    """conv1 and its gelu on the distinct phases: (1, n, P*C), value p of block j at channels p*C.."""
    weight, bias = pattern.conv1
    coarse = b.neighbours(pattern.coarse, "h")
    summed = _conv1_weight(weight.astype(np.float64), patterns).astype(np.float32)
    c1 = b.node("MatMul", [coarse, b.constant("w1", summed)], "c1m")
    c1 = b.node("Add", [c1, b.constant("b1", np.tile(bias, len(patterns)).astype(np.float32))], "c1")
    divisor, one, half = pattern.gelu
    erf = b.node("Erf", [b.node("Div", [c1, divisor], "gelu_div")], "gelu_erf")
    scale = b.node("Mul", [half, b.node("Add", [erf, one], "gelu_add")], "gelu_half")
    return b.node("Mul", [c1, scale], "gelu")


def _second_conv(b: _Builder, pattern: _Pattern, values: str, pattern_of: list[int]) -> list[str]:
    """conv2's output for each phase r, (1, n, C) each: one product over a contiguous run of the values
    of blocks j-1, j, j+1, its taps that fall on one value summed; equal phases computed once."""
    weight = pattern.conv2[0].astype(np.float64)
    channels, _, kernel = weight.shape
    count = max(pattern_of) + 1
    axis = b.constant("channel_axis", np.array([2]))
    outputs: list[str] = []
    done: dict[bytes, str] = {}
    for r in range(pattern.up):
        summed: dict[int, np.ndarray] = {}
        for k, (d, phase) in enumerate(_taps(r, pattern.up, kernel)):
            block = (d + 1) * count + pattern_of[phase]
            summed[block] = summed.get(block, 0) + weight[:, :, k].T
        first, last = min(summed), max(summed)
        if sorted(summed) != list(range(first, last + 1)):
            raise _NotThePattern  # taps skipping a value: never with up > kernel
        stacked = np.concatenate([summed[block] for block in range(first, last + 1)]).astype(np.float32)
        key = bytes([first]) + stacked.tobytes()
        if key not in done:
            start, end = (
                b.constant(f"s{r}", np.array([first * channels])),
                b.constant(f"e{r}", np.array([(last + 1) * channels])),
            )
            window = b.node("Slice", [values, start, end, axis], f"in{r}")
            done[key] = b.node("MatMul", [window, b.constant(f"w2_{r}", stacked)], f"out{r}")
        outputs.append(done[key])
    return outputs


def _interleave(b: _Builder, pattern: _Pattern, outputs: list[str]) -> None:
    """(1, n*up, C) in time order, plus conv2's bias and the residual h (each phase's input), under the
    name the heads read."""
    # onnx (protobuf, ~0.2 s) loads only when a codec's graph is rewritten, not when a provider is named.
    from onnx import helper

    channels = pattern.conv2[0].shape[0]
    phases = b.node("Concat", outputs, "phases", axis=2)  # (1, n, up * C): block j's phases in order
    # A 0 in a reshape keeps the input's axis: the batch, so that the rewritten graph still takes one.
    grid = b.node("Reshape", [phases, b.constant("grid", np.array([0, -1, pattern.up, channels]))], "grid4")
    grid = b.node("Add", [grid, b.constant("b2", pattern.conv2[1].astype(np.float32))], "biased")
    residual = b.node(
        "Reshape", [pattern.coarse, b.constant("coarse4", np.array([0, -1, 1, channels]))], "h4"
    )
    total = b.node("Add", [grid, residual], "sum")
    shape = b.constant("fine", np.array([0, -1, channels]))
    b.nodes.append(helper.make_node("Reshape", [total, shape], [pattern.output], name=b.name("fine3")))


def _splice(model: ModelProto, pattern: _Pattern, nodes: list[Any]) -> None:
    """The new nodes where the replaced ones began; initializers nothing reads any more dropped."""
    graph = model.graph
    first = next(i for i, node in enumerate(graph.node) if node.output[0] in pattern.replaced)
    before = [node for node in graph.node[:first] if node.output[0] not in pattern.replaced]
    after = [node for node in graph.node[first:] if node.output[0] not in pattern.replaced]
    del graph.node[:]
    graph.node.extend([*before, *nodes, *after])
    used = {name for node in graph.node for name in node.input}
    initializers = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    del graph.value_info[:]  # shapes between the replaced nodes no longer exist; onnxruntime infers them


def refine_on_phases(data: bytes) -> bytes | None:
    """The graph with its upsampling refinement evaluated on phases, or None if it has no such pattern."""
    # onnx (protobuf, ~0.2 s) loads only when a codec's graph is rewritten, not when a provider is named.
    import onnx

    model = onnx.load_from_string(data)
    try:
        pattern = _find(model)
        kernel = pattern.conv1[0].shape[2]
        if kernel // 2 >= pattern.up:
            raise _NotThePattern  # taps would reach past the neighbouring blocks
        patterns, pattern_of = _patterns(pattern.up, kernel)
        b = _Builder(model)
        values = b.neighbours(_first_conv(b, pattern, patterns), "g")  # block (d+1)*P + p: value p of j+d
        _interleave(b, pattern, _second_conv(b, pattern, values, pattern_of))
    except _NotThePattern:
        return None
    _splice(model, pattern, b.nodes)
    onnx.checker.check_model(model)
    serialized: bytes = model.SerializeToString()
    return serialized
