"""Import an ONNX encoder/decoder pair: convert both graphs into the project's layers (onnx_layers,
nothing of the graph runs for that), then check the converted model against the graphs themselves
once with onnxruntime on a few inputs, and refuse it if they disagree past 1e-4.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from vae.interop import importer, layouts, onnx_graph, onnx_layers
from vae.interop.importer import Recognised
from vae.store.modelfiles import StoreError

TOLERANCE = 1e-4
LOGVAR = re.compile(r"log_?var")
LOGSTD = re.compile(r"log_?(std|sigma|scale)")
STD = re.compile(r"std|sigma|scale")


def _kind(name: str, post: tuple) -> tuple[str, float]:
    """(what the head's output is, k) with log-variance = k * (the linear layer's output)."""
    ops = [p for p in post if p[0] not in ("half", "clip")]
    exp = any(p[0] == "exp" for p in ops)
    if exp and ops[-1][0] != "exp":
        raise StoreError(f"the encoder's output {name}: a scale after exp is not read")
    c = float(np.prod([p[1] for p in ops if p[0] == "scale"] or [1.0]))
    low = name.lower()
    if LOGVAR.search(low):
        kind = "log-variance"
    elif LOGSTD.search(low):
        kind = "log sigma"
    elif STD.search(low):
        kind = "sigma"
    elif "var" in low:
        kind = "variance"
    else:
        kind = "sigma" if exp else "log-variance"
    if exp != (kind in ("sigma", "variance")):
        raise StoreError(
            f"the encoder's output {name!r} is named like a {kind} but is "
            f"{'an exp' if exp else 'linear'} in its layer: rename it or export log-variance"
        )
    return kind, {"log-variance": c, "log sigma": 2 * c, "sigma": 2 * c, "variance": c}[kind]


def _forward_post(h: torch.Tensor, post: tuple) -> torch.Tensor:
    for p in post:
        if p[0] == "scale":
            h = h * p[1]
        elif p[0] == "exp":
            h = torch.exp(h)
    return h


def _encoder_map(enc: onnx_layers.Graph) -> tuple[list, list, dict, list, list]:
    """(body layers, [mu prefix, logvar prefix], head tensors, outputs in order, notes)."""
    outs = list(enc.outputs.items())
    notes = []
    if len(outs) == 1:
        name, v = outs[0]
        if v.post or v.layers[-1][0] != "linear" or v.shape[0] % 2:
            raise StoreError(
                f"the encoder's one output {name!r} must come from a linear layer of 2 x latent "
                "outputs (mu, then log-variance)"
            )
        notes.append(f"one output {name!r}: its first half read as mu, the second as log-variance")
        pairs = [(name, replace(v, post=(("half", k),), shape=(v.shape[0] // 2,))) for k in (0, 1)]
    elif len(outs) == 2:
        pairs = sorted(outs, key=lambda o: 0 if re.search(r"mu|mean|loc", o[0].lower()) else 1)
        if not re.search(r"mu|mean|loc", pairs[0][0].lower()):
            pairs = outs
            notes.append(f"outputs {outs[0][0]!r}, {outs[1][0]!r}: the first read as mu")
    else:
        raise StoreError(f"the encoder must give mu and log-variance (one or two outputs), it gives {len(outs)}")
    (n_mu, mu), (n_lv, lv) = pairs
    for n, v in pairs:
        if v.layers and v.layers[-1][0] == "act":
            raise StoreError(
                f"the encoder's output {n!r} ends in a {v.layers[-1][1]} after its linear layer "
                "(a sigma head through softplus, say): recognised, but not read, since the "
                "explorer's encoder gives a log-variance linear in its last layer"
            )
        if not v.layers or v.layers[-1][0] != "linear":
            raise StoreError(f"the encoder's output {n!r} does not come from a linear layer")
    if mu.layers[:-1] != lv.layers[:-1]:
        raise StoreError("mu and log-variance do not share the encoder's body")
    halves = [next((p[1] for p in v.post if p[0] == "half"), None) for v in (mu, lv)]
    kinds = []
    tensors = {}
    for role, (n, v), half in zip(("mu", "logvar"), pairs, halves):
        w, b = enc.weights[v.layers[-1][1]]
        if half is not None:
            rows = slice(0, w.shape[0] // 2) if half == 0 else slice(w.shape[0] // 2, None)
            w, b = w[rows], b[rows]
        if role == "mu":
            ops = [p for p in v.post if p[0] == "scale"]
            if any(p[0] == "exp" for p in v.post):
                raise StoreError(f"the encoder's mu output {n!r} goes through exp")
            k, kind = float(np.prod([p[1] for p in ops] or [1.0])), "mu"
        else:
            kind, k = _kind(n, v.post)
            if kind != "log-variance" or k != 1.0:
                notes.append(
                    f"the encoder's output {n!r} is {kind}: its layer is scaled by {k:g} to give the log-variance"
                )
        kinds.append((n, v.post, k))
        tensors[f"encoder:{v.layers[-1][1]}/{role}.weight"] = w * k
        tensors[f"encoder:{v.layers[-1][1]}/{role}.bias"] = b * k
    heads = [f"encoder:{mu.layers[-1][1]}/mu", f"encoder:{lv.layers[-1][1]}/logvar"]
    return list(mu.layers[:-1]), heads, tensors, kinds, notes


def _tag(layers: list, part: str, graph: onnx_layers.Graph, tensors: dict) -> list:
    out = []
    for layer in layers:
        if layer[0] == "batchnorm":
            name = f"{part}:{layer[1]}"
            for key, t in zip(("weight", "bias", "running_mean", "running_var"), graph.weights[layer[1]]):
                tensors[f"{name}.{key}"] = t
            out.append(["batchnorm", name, layer[2]])
        elif layer[0] in ("linear", "conv", "conv_transpose"):
            w, b = graph.weights[layer[1]]
            name = f"{part}:{layer[1]}"
            tensors[f"{name}.weight"], tensors[f"{name}.bias"] = w, b
            out.append([layer[0], name, *layer[2:]])
        else:
            out.append(list(layer))
    return out


def recognise_onnx(
    encoder: tuple[str, bytes],
    decoder: tuple[str, bytes],
    *,
    image_shape: tuple | None = None,
    likelihood: str = "bernoulli",
    folders: tuple = (None, None),
    check: bool = True,
) -> Recognised:
    """An encoder and a decoder graph -> a Recognised model (nothing saved). `encoder` and `decoder` are
    (file name, bytes); `folders` the folders their external data may come from (None: refused)."""
    protos = [onnx_graph.read(Path(n).name, d, f) for (n, d), f in zip((encoder, decoder), folders)]
    enc, dec = (onnx_layers.convert(Path(n).name, m) for (n, _), m in zip((encoder, decoder), protos))
    tensors: dict = {}
    body, heads, head_tensors, kinds, notes = _encoder_map(enc)
    tensors.update(head_tensors)
    if len(dec.outputs) != 1:
        raise StoreError(f"the decoder must have one output (the image), it has {len(dec.outputs)}")
    ((dec_name, dv),) = dec.outputs.items()
    if dv.post:
        raise StoreError("the decoder's output goes through a head transform; only layers are read")
    layout = {
        "encoder": _tag(body, "encoder", enc, tensors),
        "heads": heads,
        "decoder": _tag(list(dv.layers), "decoder", dec, tensors),
    }
    shape = tuple(enc.input_shape) if len(enc.input_shape) == 3 else image_shape
    if shape is None:
        raise StoreError(f"the encoder takes a flat input {enc.input_shape}: give the image shape")
    latent = head_tensors[heads[0] + ".bias"].shape[0]
    if tuple(dec.input_shape) != (latent,):
        raise StoreError(
            f"latent size mismatch: the encoder gives {latent} dimensions, the decoder takes {dec.input_shape}"
        )
    config, state, rows = layouts.build(layout, tensors, shape, likelihood)
    ops = sorted(enc.ops | dec.ops)
    sums = [hashlib.sha256(d).hexdigest() for _, d in (encoder, decoder)]
    rec = Recognised(
        f"{Path(encoder[0]).name} + {Path(decoder[0]).name}",
        f"{sums[0]} {sums[1]}",
        "onnx",
        config,
        state,
        rows,
        notes,
        [f"operators: {', '.join(ops)}"],
        extra={"files": {Path(encoder[0]).name: sums[0], Path(decoder[0]).name: sums[1]}, "operators": ops},
    )
    if config.signed:
        rec.facts.append(importer.SIGNED)
    if check:
        _check(rec, protos, enc, kinds, dv)
    return rec


def _runtime_reason(e: Exception) -> str:
    """onnxruntime's message without its '[ONNXRuntimeError] : 1 : FAIL :' prefix, cut short."""
    if isinstance(e, UnicodeDecodeError):  # a node or tensor name that is not UTF-8
        return "a name or text inside the graph is not UTF-8: the file is damaged"
    text = re.sub(r"^\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*\w+\s*:\s*", "", str(e).strip())
    return text.splitlines()[0][:240] if text else type(e).__name__


def _run(session, inputs: np.ndarray) -> list[np.ndarray]:
    """A session's outputs for a batch; one row at a time when the graph's batch is fixed at 1."""
    feed = session.get_inputs()[0]
    if feed.shape and feed.shape[0] == 1:
        rows = [session.run(None, {feed.name: inputs[i : i + 1]}) for i in range(len(inputs))]
        return [np.concatenate([r[k] for r in rows]) for k in range(len(rows[0]))]
    return session.run(None, {feed.name: inputs})


def _check(rec: Recognised, protos, enc, kinds, dv) -> None:
    """Run both graphs once with onnxruntime on a few inputs and compare with the converted model."""
    import onnxruntime as ort

    model = rec.model()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    opts.log_severity_level = 3  # errors only: a damaged graph is refused in our words, not logged in its own
    try:
        sessions = [
            ort.InferenceSession(p.SerializeToString(), opts, providers=["CPUExecutionProvider"]) for p in protos
        ]
    except Exception as e:  # noqa: BLE001  (onnxruntime's Fail, InvalidGraph, NotImplemented... derive from Exception)
        raise StoreError(f"the graphs do not load in the ONNX runtime: {_runtime_reason(e)}") from None
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(4, *rec.config.image_shape, generator=gen)
    z = torch.randn(4, rec.config.latent_dim, generator=gen)
    with torch.no_grad():
        mu, logvar = model.encode(x)
        last = layouts.last_layer(list(dv.layers))
        ends_in_sigmoid = last is not None and dv.layers[last] == ("act", "sigmoid")
        if rec.config.output == "tanh":  # the graph gives the Tanh's output, on [-1, 1]
            mean = torch.tanh(model.decode_logits(z))
        else:
            mean = model.decode(z) if ends_in_sigmoid or rec.config.output == "identity" else model.decode_logits(z)
    fed = x * 2 - 1 if rec.config.signed else x  # a model of data in [-1, 1] takes them so
    try:
        got = _run(sessions[0], fed.reshape(4, *enc.input_shape).numpy())
        got_dec = _run(sessions[1], z.numpy())[0]
    except Exception as e:  # noqa: BLE001  (onnxruntime's InvalidArgument and the like, from Exception)
        raise StoreError(f"the graphs do not run in the ONNX runtime: {_runtime_reason(e)}") from None
    expected = [
        _forward_post(t / k, tuple(p for p in post if p[0] != "half")) for t, (_, post, k) in zip((mu, logvar), kinds)
    ]
    if len(got) == 1:
        expected = [torch.cat(expected, 1)]
    for g, e in zip([*got, got_dec], [*expected, mean]):
        if np.asarray(g).size != e.numel():
            raise StoreError(
                f"the graph gives {np.asarray(g).size // 4} values per input where its layers give {e.numel() // 4}: "
                "the converted model does not compute what the file does"
            )
    diffs = [
        float(np.max(np.abs(np.asarray(g).reshape(4, -1) - e.reshape(4, -1).numpy())))
        for g, e in zip([*got, got_dec], [*expected, mean])
    ]
    if max(diffs) > TOLERANCE:
        raise StoreError(
            f"the converted model disagrees with the graphs by up to {max(diffs):.3g} (more than "
            f"{TOLERANCE:g}): not imported"
        )
    rec.facts.append(f"checked against onnxruntime on 4 inputs: largest difference {max(diffs):.2g}")
