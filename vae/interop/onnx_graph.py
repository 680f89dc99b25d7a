"""An ONNX graph read without running it: parsed with onnx (external data never followed on its own),
checked against the limits, its nodes put in order, and the shape arithmetic exporters emit around a
Reshape folded to numbers (the batch size stands in as BATCH, so it stays free).
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np

from vae import limits
from vae.interop.weights import read_bytes
from vae.store.modelfiles import StoreError

BATCH = 7919  # a prime no layer has: the free batch size while shapes are folded
SHAPE_OPS = {
    "Constant",
    "Shape",
    "Gather",
    "Slice",
    "Concat",
    "Unsqueeze",
    "Squeeze",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Mod",
    "Cast",
    "Identity",
    "Reshape",
}


def read(where: str, data: bytes, folder: str | os.PathLike | None = None):
    """The ModelProto of an .onnx file's bytes, checked: size, opset, node count, every initializer's
    claimed size against its bytes, external data only from files inside `folder`."""
    import onnx
    from onnx import external_data_helper

    data = read_bytes(where, data)  # empty or over VAE_MODEL_BYTES: refused before parsing
    try:
        model = onnx.load(io.BytesIO(data), load_external_data=False)  # parses; follows no file
    except Exception as e:  # protobuf's DecodeError for truncated or foreign bytes
        raise StoreError(f"{where}: not an ONNX model, or a truncated one ({type(e).__name__})") from None
    g = model.graph
    if not g.node:
        raise StoreError(f"{where}: not an ONNX model (the graph has no nodes)")
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    if opsets.get("ai.onnx", 0) > limits.ONNX_OPSET or set(opsets) - {"ai.onnx"}:
        raise StoreError(
            f"{where}: opset {opsets} is not read here (the standard ONNX domain up to opset "
            f"{limits.ONNX_OPSET}, VAE_ONNX_OPSET)"
        )
    if len(g.node) > limits.ONNX_NODES:
        raise StoreError(
            f"{where}: {len(g.node):,} nodes is over the limit of {limits.ONNX_NODES:,} "
            "(VAE_ONNX_NODES); a VAE has tens"
        )
    total = 0
    for t in g.initializer:
        count = math.prod(t.dims)
        total += count
        if total > limits.MODEL_PARAMS:
            raise StoreError(
                f"{where}: the initializer {t.name} claims {count:,} values; the limit is "
                f"{limits.MODEL_PARAMS:,} weights per model (VAE_MODEL_PARAMS)"
            )
        if count < 0 or any(d < 0 for d in t.dims):
            raise StoreError(f"{where}: the initializer {t.name} has a negative size {list(t.dims)}")
        try:
            size = _itemsize(t)
        except StoreError as e:
            raise StoreError(f"{where}: {e}") from None
        if external_data_helper.uses_external_data(t):
            _external(where, t, folder)
        elif t.raw_data and len(t.raw_data) != count * size:
            raise StoreError(
                f"{where}: the initializer {t.name} claims {list(t.dims)} but holds "
                f"{len(t.raw_data):,} bytes: the file is damaged"
            )
    return model


def _itemsize(t) -> int:
    from onnx import helper

    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize
    except (KeyError, TypeError, ValueError):  # a data type number ONNX does not define
        raise StoreError(f"the initializer {t.name} has an unknown data type ({t.data_type})") from None


def _external(where: str, t, folder) -> None:
    """Load an initializer's external data, only from a file inside the model's own folder."""
    import onnx
    from onnx import external_data_helper

    info = {e.key: e.value for e in t.external_data}
    location = info.get("location", "")
    if folder is None:
        raise StoreError(
            f"{where}: {t.name} keeps its weights in another file ({location!r}); give a model "
            "with its weights inside (onnx.save(model, path, save_as_external_data=False))"
        )
    base = Path(folder).resolve()
    target = (base / location).resolve()
    if os.path.isabs(location) or ".." in Path(location).parts or not target.is_relative_to(base):
        raise StoreError(
            f"{where}: refused: {t.name}'s external data points at {location!r}, outside the model's folder"
        )
    if not target.is_file():
        raise StoreError(f"{where}: {t.name}'s external data file {location!r} is missing")
    need = math.prod(t.dims) * _itemsize(t)
    if int(info.get("length", need)) != need or target.stat().st_size < int(info.get("offset", 0)) + need:
        raise StoreError(f"{where}: {t.name}'s external data does not hold its {list(t.dims)} values")
    external_data_helper.load_external_data_for_tensor(t, str(base))
    t.data_location = onnx.TensorProto.DEFAULT
    del t.external_data[:]


def ordered(where: str, graph) -> list:
    """The nodes in an order where each comes after what it reads (Kahn's algorithm); a cycle or an
    input nothing produces is refused, naming the node."""
    nodes = list(graph.node)  # by index: protobuf may hand out a new wrapper object on each iteration
    known = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    producers: dict[str, int] = {}
    for k, n in enumerate(nodes):
        for o in n.output:
            if o in producers or o in known - {""}:
                raise StoreError(
                    f"{where}: two nodes write {o!r} (node {n.name or n.op_type} again): the graph is damaged"
                )
            producers[o] = k
    for n in nodes:
        for i in n.input:
            if i not in known and i not in producers:
                raise StoreError(
                    f"{where}: node {n.name or n.op_type} reads {i!r}, which no node or initializer "
                    "provides (a missing initializer?)"
                )
    waiting = [sum(1 for i in n.input if i in producers) for n in nodes]
    readers: dict[str, list[int]] = {}
    for k, n in enumerate(nodes):
        for i in n.input:
            readers.setdefault(i, []).append(k)
    ready = [k for k in range(len(nodes)) if waiting[k] == 0]
    out = []
    while ready:
        k = ready.pop(0)
        out.append(nodes[k])
        for o in nodes[k].output:
            for r in dict.fromkeys(readers.get(o, [])):
                waiting[r] -= sum(1 for i in nodes[r].input if i == o)
                if waiting[r] == 0:
                    ready.append(r)
    if len(out) != len(nodes):
        stuck = nodes[next(k for k in range(len(nodes)) if waiting[k] > 0)]
        raise StoreError(f"{where}: the graph has a cycle (through node {stuck.name or stuck.op_type})")
    return out


def attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def constant(node) -> np.ndarray:
    from onnx import numpy_helper

    a = attrs(node)
    if "value" in a:
        return numpy_helper.to_array(a["value"])
    for key in ("value_float", "value_int", "value_floats", "value_ints"):
        if key in a:
            return np.array(a[key])
    raise StoreError(f"a Constant node ({node.name}) of a kind not read here")


def fold(node, args: list) -> np.ndarray:
    """Evaluate one shape-arithmetic node on constant inputs (numpy; nothing of the graph runs)."""
    op, a = node.op_type, attrs(node)
    x = args[0] if args else None
    if op == "Identity" or op == "Cast":
        return x if op == "Identity" else x.astype(np.int64 if x.dtype.kind in "iu" else np.float32)
    if op in ("Add", "Sub", "Mul", "Div", "Mod"):
        y = args[1]
        return {
            "Add": np.add,
            "Sub": np.subtract,
            "Mul": np.multiply,
            "Div": np.floor_divide if x.dtype.kind in "iu" else np.divide,
            "Mod": np.mod,
        }[op](x, y)
    if op == "Gather":
        return np.take(x, args[1], axis=a.get("axis", 0))
    if op == "Concat":
        return np.concatenate([np.atleast_1d(v) for v in args], axis=a.get("axis", 0))
    if op in ("Unsqueeze", "Squeeze"):
        axes = tuple(int(v) for v in (args[1] if len(args) > 1 else a.get("axes", [])))
        return np.expand_dims(x, axes) if op == "Unsqueeze" else (np.squeeze(x, axes) if axes else np.squeeze(x))
    if op == "Reshape":
        return x.reshape([int(v) for v in args[1]])
    if op == "Slice":
        starts, ends = args[1], args[2]
        axes = args[3] if len(args) > 3 and args[3] is not None else range(len(starts))
        steps = args[4] if len(args) > 4 and args[4] is not None else [1] * len(starts)
        index = [slice(None)] * x.ndim
        for s, e, ax, st in zip(starts, ends, axes, steps):
            index[int(ax)] = slice(int(s), int(min(e, 2**62)) if e > -(2**62) else None, int(st))
        return x[tuple(index)]
    raise StoreError(f"node {node.name or op}: {op} cannot be folded here")
