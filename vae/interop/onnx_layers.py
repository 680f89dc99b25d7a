"""An ONNX encoder or decoder graph -> the project's layers, without running the graph.

Walks the nodes in order: Gemm / MatMul + Add, Conv, ConvTranspose, BatchNormalization, Resize,
the activations (with their alpha; x * sigmoid(x) as SiLU, x * tanh(softplus(x)) as Mish, a Clip
inside the network as Hardtanh), Flatten and Reshape become layers (weights from the initializers);
a graph whose batch is fixed at 1 (torch.onnx.export without dynamic_axes) is read the same;
shape arithmetic is folded (onnx_graph.fold);
after the encoder's last linear layer, a split into halves, a scalar Mul/Div, Exp and Clip are read
as the head's form (log-variance, log sigma, sigma or variance). Any other operator is refused,
naming it and its node.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import numpy as np
import torch

from vae.interop import onnx_graph
from vae.interop.onnx_graph import BATCH, SHAPE_OPS, attrs
from vae.store.modelfiles import StoreError

ACTS = {
    "Relu": "relu",
    "Tanh": "tanh",
    "Sigmoid": "sigmoid",
    "Elu": "elu",
    "Softplus": "softplus",
    "LeakyRelu": "leaky_relu",
    "Gelu": "gelu",
}
HEAD_OPS = {"Split", "Slice", "Mul", "Div", "Exp", "Clip"}
LAYER_OPS = {"Gemm", "MatMul", "Add", "Conv", "ConvTranspose", "Flatten", "Reshape", "Identity", *ACTS, *HEAD_OPS}
LAYER_OPS |= {"BatchNormalization", "Resize", "Upsample"}
# x * f(x), two branches of one tensor joined again: how torch exports SiLU and (before opset 18) Mish
GATES = {(("act", "sigmoid"),): "silu", (("act", "softplus"), ("act", "tanh")): "mish"}


@dataclass(frozen=True)
class Value:
    """A tensor on the data path: the layers from the graph's input to it, its shape without the batch."""

    layers: tuple
    shape: tuple
    pending: str | None = None  # a MatMul's prefix, waiting for the Add of its bias
    post: tuple = ()  # after the last linear layer: ("half", k), ("scale", c), ("exp",), ("clip",)


@dataclass
class Graph:
    """A converted graph: its outputs (name -> Value), the weights by prefix, the operators met."""

    outputs: dict
    weights: dict
    ops: set
    input_shape: tuple


def _prefix(node, weights) -> str:
    base = re.sub(r"[^A-Za-z0-9_./-]", "_", node.name or node.op_type).strip("/") or node.op_type
    name, k = base, 1
    while name in weights:
        k += 1
        name = f"{base}_{k}"
    return name


def convert(where: str, model) -> Graph:
    from onnx import numpy_helper

    g = model.graph
    consts = {}
    for t in g.initializer:
        try:
            consts[t.name] = numpy_helper.to_array(t)
        except Exception:  # noqa: BLE001  (onnx's own errors for a damaged tensor: a data type or size that lies)
            raise StoreError(
                f"{where}: the initializer {t.name} cannot be read: its data type or size is damaged"
            ) from None
        if consts[t.name].dtype.kind == "f" and not np.isfinite(consts[t.name]).all():
            raise StoreError(f"{where}: the initializer {t.name} holds NaN or infinite values")
    inputs = [i for i in g.input if i.name not in consts]
    if len(inputs) != 1:
        raise StoreError(f"{where}: the graph must have one input, it has {len(inputs)}")
    dims = [d.dim_value if d.HasField("dim_value") else None for d in inputs[0].type.tensor_type.shape.dim]
    if len(dims) < 2 or any(d is None or d < 1 for d in dims[1:]):
        raise StoreError(f"{where}: the input's shape must be known past the batch, got {dims}")
    batch_one = dims[0] == 1  # torch.onnx.export's default without dynamic_axes: reshapes name the batch as 1
    values: dict = {inputs[0].name: Value((), tuple(dims[1:]))}
    values.update(consts)
    weights, ops = {}, set()
    for node in onnx_graph.ordered(where, g):
        ops.add(node.op_type)
        args = [values.get(i) if i else None for i in node.input]
        data = [a for a in args if isinstance(a, Value)]
        try:
            if node.op_type == "Shape" and data:
                shape = np.array([BATCH, *data[0].shape], np.int64)
                a = attrs(node)
                out = shape[a.get("start", 0) : a.get("end", len(shape))]
            elif not data:
                if node.op_type == "Constant":
                    out = onnx_graph.constant(node)
                elif node.op_type in SHAPE_OPS:
                    out = onnx_graph.fold(node, args)
                else:
                    raise StoreError(f"unsupported operator {node.op_type}")
            elif node.op_type == "Mul" and len(data) == 2 and _gate(data):
                out = _gate(data)
            elif len(data) > 1 or args[0] is not data[0] and node.op_type != "MatMul":
                raise StoreError(
                    f"{node.op_type} combines tensors of the data path (a skip connection?); "
                    "only chains of layers are read"
                )
            elif node.op_type not in LAYER_OPS:
                raise StoreError(f"unsupported operator {node.op_type}")
            else:
                out = _layer(node, data[0], args, weights, batch_one)
        except StoreError as e:
            raise StoreError(f"{where}: node {node.name or node.op_type} ({node.op_type}): {e}") from None
        except (ValueError, IndexError, TypeError, KeyError, ArithmeticError, AttributeError):  # an input left empty
            raise StoreError(
                f"{where}: node {node.name or node.op_type} ({node.op_type}) cannot be read: its inputs, "
                "attributes or shapes do not fit the operator"
            ) from None
        outs = out if isinstance(out, list) else [out]
        for name, v in zip(node.output, outs):
            values[name] = v
    outputs = {}
    for o in g.output:
        v = values.get(o.name)
        if not isinstance(v, Value):
            raise StoreError(f"{where}: the output {o.name} does not depend on the input")
        outputs[o.name] = replace(v, pending=None)  # a MatMul without an Add keeps its zero bias
    return Graph(outputs, weights, ops, tuple(dims[1:]))


def _const(args, i, what):
    if len(args) <= i or args[i] is None or isinstance(args[i], Value):
        raise StoreError(f"its {what} must be stored in the file (an initializer or a constant)")
    return np.asarray(args[i])


def _linear(v: Value, node, w: np.ndarray, b: np.ndarray, weights: dict, pending: bool = False) -> Value:
    if len(v.shape) != 1 or v.shape[0] != w.shape[1]:
        raise StoreError(f"a linear layer of {w.shape[1]} inputs gets a tensor of shape {v.shape}")
    if v.post:
        raise StoreError("a layer after the encoder's head transform is not read")
    prefix = _prefix(node, weights)
    weights[prefix] = (
        torch.tensor(np.asarray(w, np.float32)),
        torch.tensor(np.asarray(np.broadcast_to(b, (w.shape[0],)), np.float32)),
    )
    return Value((*v.layers, ("linear", prefix)), (w.shape[0],), prefix if pending else None)


def _gate(data: list) -> Value | None:
    """x * f(x) where f is a sigmoid (SiLU) or tanh(softplus) (Mish): the activation on x, else None."""
    for x, fx in (data, data[::-1]):
        tail = fx.layers[len(x.layers) :]
        if fx.layers[: len(x.layers)] == x.layers and tail in GATES and not x.post and not fx.post:
            return Value((*x.layers, ("act", GATES[tail])), x.shape)
    return None


def _batchnorm(node, v: Value, args, a, weights) -> Value:
    """BatchNormalization in inference form: its scale, bias, mean and variance, folded later
    (vae/interop/layouts.py) into the layer before it, or kept as a per-channel affine."""
    if a.get("training_mode", 0):
        raise StoreError("a BatchNormalization in training mode is not read")
    scale, bias, mean, var = (_const(args, i, what) for i, what in enumerate(("scale", "bias", "mean", "variance"), 1))
    if not all(t.size == v.shape[0] for t in (scale, bias, mean, var)):
        raise StoreError(f"its statistics have {mean.size} values for {v.shape[0]} channels")
    prefix = _prefix(node, weights)
    weights[prefix] = tuple(torch.tensor(np.asarray(t, np.float32).reshape(-1)) for t in (scale, bias, mean, var))
    return Value((*v.layers, ("batchnorm", prefix, float(a.get("epsilon", 1e-5)))), v.shape)


def _resize(node, v: Value, args, a) -> Value:
    """Resize (or the old Upsample) by one whole factor on height and width: nearest (torch's floor
    rounding) or linear with half-pixel centres (align_corners=False)."""
    if len(v.shape) != 3:
        raise StoreError(f"a Resize gets a tensor of shape {v.shape}, not an image")
    mode = a.get("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    coords = a.get("coordinate_transformation_mode", b"half_pixel")
    coords = coords.decode() if isinstance(coords, bytes) else coords
    sizes = _const(args, 3, "sizes") if len(args) > 3 and args[3] is not None and np.asarray(args[3]).size else None
    if sizes is not None:
        factors = [sizes[i] / n for i, n in zip((2, 3), v.shape[1:])]
    else:
        scales = _const(args, 2 if node.op_type == "Resize" else 1, "scales")
        factors = [float(f) for f in np.asarray(scales).reshape(-1)[2:4]]
    if len(factors) != 2 or factors[0] != factors[1] or factors[0] != int(factors[0]) or factors[0] < 1:
        raise StoreError(f"only a Resize by one whole factor on height and width is read, got {factors}")
    nearest = mode == "nearest" and coords == "asymmetric" and a.get("nearest_mode", b"floor") in (b"floor", "floor")
    linear = mode == "linear" and coords in ("half_pixel", "pytorch_half_pixel")
    if not (nearest or linear or node.op_type == "Upsample" and mode == "nearest"):
        raise StoreError(
            f"a Resize ({mode}, {coords}) is read as nn.Upsample's nearest or bilinear with align_corners=False only"
        )
    f = int(factors[0])
    layer = ("upsample", f, "nearest" if mode == "nearest" else "bilinear")
    return Value((*v.layers, layer), (v.shape[0], v.shape[1] * f, v.shape[2] * f))


def _layer(node, v: Value, args, weights, batch_one: bool = False):
    op, a = node.op_type, attrs(node)
    if op == "BatchNormalization":
        return _batchnorm(node, v, args, a, weights)
    if op in ("Resize", "Upsample"):
        return _resize(node, v, args, a)
    if op == "Clip" and (len(v.shape) == 3 or v.layers and v.layers[-1][0] != "linear"):  # nn.Hardtanh
        low, high = (float(np.asarray(args[i]).reshape(())) if len(args) > i and args[i] is not None else d
                     for i, d in ((1, -np.inf), (2, np.inf)))  # fmt: skip
        if not (math.isfinite(low) and math.isfinite(high)):
            raise StoreError("a Clip with an open end is read as nn.Hardtanh only with both bounds")
        return Value((*v.layers, ("act", "hardtanh", low, high)), v.shape)
    if op == "Gemm":
        if a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0 or a.get("transA", 0):
            raise StoreError("a Gemm with alpha or beta other than 1, or transA, is not read")
        w = _const(args, 1, "weight")
        w = w if a.get("transB", 0) else w.T
        b = _const(args, 2, "bias") if len(args) > 2 and args[2] is not None else np.zeros(w.shape[0])
        return _linear(v, node, w, b, weights)
    if op == "MatMul":
        if args[0] is not v:
            raise StoreError("a MatMul whose weight comes first is not read")
        return _linear(
            v, node, _const(args, 1, "weight").T, np.zeros(_const(args, 1, "weight").shape[1]), weights, pending=True
        )
    if op == "Add":
        bias = _const(args, 1 - args.index(v) if v in args else 1, "added value")
        if v.pending is None or bias.size != v.shape[0]:
            raise StoreError("an Add that is not the bias of the MatMul before it is not read")
        w, _ = weights[v.pending]
        weights[v.pending] = (w, torch.tensor(np.asarray(bias.reshape(-1), np.float32)))
        return replace(v, pending=None)
    if op in ("Conv", "ConvTranspose"):
        return _conv(node, v, args, a, weights)
    if op in ACTS:
        if v.post:
            raise StoreError("an activation after the head transform is not read")
        layer = ("act", ACTS[op])
        if op in ("Elu", "LeakyRelu"):  # ONNX's alpha: ELU's alpha, LeakyReLU's slope
            alpha = float(a.get("alpha", 1.0 if op == "Elu" else 0.01))
            layer = ("act", ACTS[op], round(alpha, 7))  # float32 attribute -> the number torch was given
        if op == "Gelu":
            layer = ("act", "gelu_tanh" if a.get("approximate", b"none") in (b"tanh", "tanh") else "gelu")
        return Value((*v.layers, layer), v.shape)
    if op == "Flatten":
        if a.get("axis", 1) != 1:
            raise StoreError("only Flatten with axis 1 is read")
        return Value((*v.layers, ("flatten",)), (math.prod(v.shape),)) if len(v.shape) > 1 else v
    if op == "Reshape":
        return _reshape(v, _const(args, 1, "target shape"), batch_one)
    if op == "Identity":
        return v
    return _head(node, v, args, a)


def _conv(node, v, args, a, weights):
    op = node.op_type
    if len(v.shape) != 3:
        raise StoreError(f"a convolution gets a tensor of shape {v.shape}")
    w = _const(args, 1, "weight")
    k, s, p = a.get("kernel_shape", list(w.shape[2:])), a.get("strides", [1, 1]), a.get("pads", [0, 0, 0, 0])
    if (
        a.get("group", 1) != 1
        or any(d != 1 for d in a.get("dilations", [1, 1]))
        or a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET")
        or "output_shape" in a
    ):
        raise StoreError("grouped, dilated or auto-padded convolutions are not read")
    if len(set(k)) != 1 or len(set(s)) != 1 or len(set(p)) != 1:
        raise StoreError(
            f"only square kernels, strides and symmetric pads are read (kernel {k}, strides {s}, pads {p})"
        )
    prefix = _prefix(node, weights)
    out_ch = w.shape[1] if op == "ConvTranspose" else w.shape[0]
    b = _const(args, 2, "bias") if len(args) > 2 and args[2] is not None else np.zeros(out_ch)
    weights[prefix] = (torch.tensor(np.asarray(w, np.float32)), torch.tensor(np.asarray(b, np.float32)))
    c, h, wd = v.shape
    if op == "Conv":
        layer = ("conv", prefix, s[0], p[0])
        hw = [(n + 2 * p[0] - k[0]) // s[0] + 1 for n in (h, wd)]
    else:
        o = a.get("output_padding", [0, 0])
        if len(set(o)) != 1:
            raise StoreError(f"only equal output padding is read, got {o}")
        layer = ("conv_transpose", prefix, s[0], p[0], o[0])
        hw = [(n - 1) * s[0] - 2 * p[0] + k[0] + o[0] for n in (h, wd)]
    return Value((*v.layers, layer), (out_ch, *hw))


def _reshape(v: Value, target: np.ndarray, batch_one: bool = False) -> Value:
    t = [int(x) for x in target]
    if not t or t[0] not in (BATCH, -1, 0, *((1,) if batch_one else ())):
        raise StoreError(f"a Reshape to {t} that does not keep the batch first is not read")
    rest = tuple(t[1:])
    if -1 in rest:
        known = math.prod(x for x in rest if x != -1)
        rest = tuple(math.prod(v.shape) // known if x == -1 else x for x in rest)
    if math.prod(rest) != math.prod(v.shape):
        raise StoreError(f"a Reshape of {v.shape} to {rest} changes the size")
    if rest == v.shape:
        return v
    if len(rest) == 1:
        return Value((*v.layers, ("flatten",)), rest)
    if len(rest) == 3 and len(v.shape) == 1:
        return Value((*v.layers, ("unflatten", *rest)), rest)
    raise StoreError(f"a Reshape of {v.shape} to {rest} is not read")


def _head(node, v: Value, args, a):
    """Split / Slice / Mul / Div / Exp / Clip: read only after the encoder's last linear layer."""
    op = node.op_type
    if not v.layers or v.layers[-1][0] != "linear" or len(v.shape) != 1:
        if op == "Slice" and len(v.shape) == 3:  # a crop that keeps everything
            starts, ends = _const(args, 1, "starts"), _const(args, 2, "ends")
            axes = _const(args, 3, "axes") if len(args) > 3 and args[3] is not None else range(len(starts))
            sizes = [v.shape[int(ax) - 1] if ax > 0 else v.shape[int(ax)] for ax in axes]
            if all(s == 0 and e >= n for s, e, n in zip(starts, ends, sizes)):
                return v
        raise StoreError(f"{op} is read only on the encoder's output (mu, log-variance)")
    if op == "Split":
        n = v.shape[0]
        sizes = (
            _const(args, 1, "split sizes")
            if len(args) > 1 and args[1] is not None
            else np.array(a.get("split", [n // 2, n // 2]))
        )
        if a.get("axis", 0) not in (1, -1) or len(sizes) != 2 or sizes[0] != sizes[1]:
            raise StoreError("only a Split of the encoder's output into two equal halves is read")
        return [
            replace(v, shape=(n // 2,), post=(*v.post, ("half", 0))),
            replace(v, shape=(n // 2,), post=(*v.post, ("half", 1))),
        ]
    if op == "Slice":
        starts, ends = _const(args, 1, "starts"), _const(args, 2, "ends")
        axes = _const(args, 3, "axes") if len(args) > 3 and args[3] is not None else [0]
        n = v.shape[0]
        if len(starts) != 1 or int(axes[0]) not in (1, -1):
            raise StoreError("only a Slice of the encoder's output along its features is read")
        s, e = int(starts[0]), int(min(ends[0], n))
        half = {(0, n // 2): 0, (n // 2, n): 1}.get((s, e))
        if half is None:
            raise StoreError(f"a Slice [{s}:{e}] of {n} features is not a half")
        return replace(v, shape=(n // 2,), post=(*v.post, ("half", half)))
    if op in ("Mul", "Div"):
        c = _const(args, 1 if args[0] is v else 0, "factor")
        if c.size != 1 or (op == "Div" and args[0] is not v):
            raise StoreError(f"only a {op} by one stored number is read on the head")
        factor = float(c.reshape(())) if op == "Mul" else 1.0 / float(c.reshape(()))
        return replace(v, post=(*v.post, ("scale", factor)))
    if op == "Exp":
        return replace(v, post=(*v.post, ("exp",)))
    return replace(v, post=(*v.post, ("clip",)))  # Clip: our model clamps the log-variance itself
