"""Which tensor of a foreign state dict is which layer: the known layouts, and the JSON map for the rest.

A map says it all explicitly (the other layouts are written as maps):

    {"encoder": [["linear", "fc1"], ["act", "relu"]],       # a layer with weights names its tensor prefix
     "heads": ["fc21", "fc22"],                              # mu, then log-variance (or one name: both)
     "decoder": [["linear", "fc3"], ["act", "relu"], ["linear", "fc4"], ["act", "sigmoid"]]}

Layers: ["linear", P], ["conv", P, stride, padding], ["conv_transpose", P, stride, padding,
output_padding], ["batchnorm", P(, eps)], ["act", fn(, params)], ["upsample", factor, "nearest" |
"bilinear"], ["flatten"], ["unflatten", C, H, W]; sizes and kernels come from the tensors. A
BatchNorm (eval mode: its running statistics, weight and bias; eps 1e-5 unless given) is folded into
the linear or convolution right before it, or kept as a per-channel affine layer where none is. A
decoder ending in a sigmoid gives Bernoulli logits; one ending in a Tanh gives a mean in [-1, 1]
(data in [-1, 1]); one without is read as logits too (Bernoulli) or as the mean (Gaussian).

- pytorch-examples: pytorch/examples vae/main.py (fc1, fc21/fc22, fc3, fc4; relu; a sigmoid output).
- sequential: `encoder.N.*` and `decoder.N.*` (nn.Sequential indices), two head layers named like
  mu / logvar. Parameter-free layers show only as gaps in the indices: a gap holds the activation
  (and a flatten between a conv and a linear layer); a conv's stride and padding are not in the
  tensors, so the first that chains to the image is chosen (stride 2 first) and said.
"""

from __future__ import annotations

import itertools
import json
import math
import re

import torch

from vae.models.config import ConfigError, ModelConfig
from vae.models.layers import FUNCTIONS, check_stack
from vae.store.modelfiles import StoreError

LAYOUTS = ("auto", "pytorch-examples", "sequential", "vanilla-vae", "pythae-mlp", "pythae-conv-mnist", "dcgan")
EXAMPLES = {"fc1", "fc21", "fc22", "fc3", "fc4"}
MU = re.compile(r"(^|[._])(mu|mean|z_mean|loc|fc_mu|mu_head)$")
LOGVAR = re.compile(r"(^|[._])(logvar|log_var|logsigma2|z_log_var|fc_var|fc_logvar|var|logvar_head)$")


def prefixes(tensors: dict) -> dict[str, list[str]]:
    """Layer prefix -> its tensor names ('fc1' -> ['fc1.weight', 'fc1.bias'])."""
    out: dict[str, list[str]] = {}
    for k in tensors:
        out.setdefault(k.rsplit(".", 1)[0] if "." in k else k, []).append(k)
    return out


def pytorch_examples(tensors: dict, activation: str = "relu") -> dict:
    found = set(prefixes(tensors))
    if not EXAMPLES <= found:
        raise StoreError(
            f"not the pytorch-examples layout: it needs {sorted(EXAMPLES)}, missing {sorted(EXAMPLES - found)}"
        )
    act = ["act", activation]
    return {
        "encoder": [["linear", "fc1"], act],
        "heads": ["fc21", "fc22"],
        "decoder": [["linear", "fc3"], act, ["linear", "fc4"], ["act", "sigmoid"]],
    }


def _indexed(tensors: dict, part: str) -> list[tuple[int, str]]:
    found = {}
    for p in prefixes(tensors):
        m = re.fullmatch(rf"{part}\.(\d+)", p)
        if m:
            found[int(m.group(1))] = p
    return sorted(found.items())


def sequential(tensors: dict, image_shape: tuple, activation: str = "relu") -> dict:
    enc, dec = _indexed(tensors, "encoder"), _indexed(tensors, "decoder")
    if not enc or not dec:
        raise StoreError("not the sequential layout: it needs encoder.N.weight and decoder.N.weight tensors")
    rest = [p for p in prefixes(tensors) if not re.fullmatch(r"(encoder|decoder)\.\d+", p)]
    mu = [p for p in rest if MU.search(p)]
    logvar = [p for p in rest if LOGVAR.search(p)]
    if len(mu) != 1 or len(logvar) != 1:
        raise StoreError(
            f"sequential layout: expected one mu head and one log-variance head beside "
            f"encoder.N and decoder.N (names like fc_mu / fc_logvar); found {rest or 'none'}"
        )
    for head in (mu[0], logvar[0]):
        if f"{head}.weight" not in tensors or tensors[f"{head}.weight"].dim() != 2:
            raise StoreError(f"sequential layout: the head {head} needs a 2-D {head}.weight (a Linear layer's)")
    latent = tensors[f"{mu[0]}.weight"].shape[0]
    encoder = _search(tensors, enc, "encoder", tuple(image_shape), None, activation)
    decoder = _search(tensors, dec, "decoder", (latent,), tuple(image_shape), activation)
    return {"encoder": encoder + [["act", activation]], "heads": [mu[0], logvar[0]], "decoder": decoder}


def _variants(w: torch.Tensor, role: str) -> list[list]:
    """The ways one weight tensor can be a layer, most likely first."""
    if w.dim() == 2:
        return [["linear"]]
    if w.dim() != 4:
        raise StoreError(f"a {w.dim()}-D weight is neither a linear nor a 2-D convolution")
    k = w.shape[-1]
    pads = sorted(range(k // 2 + 1), key=lambda p: abs(p - (k - 1) // 2))
    conv = [["conv", s, p] for s in (2, 1) for p in pads]
    up = [["conv_transpose", s, p, o] for s in (2, 1) for p in pads for o in range(s)]
    return (up + conv) if role == "decoder" else (conv + up)


def _ordered(options: list[list]):
    """Every choice of settings, those where all layers of a kind share their settings (the usual
    network) first, then in preference order; at most 20,000 are tried."""
    if math.prod(len(o) for o in options) > 20000:
        yield from itertools.islice(itertools.product(*options), 20000)
        return

    def spread(combo) -> int:
        return sum(len({tuple(c) for c in combo if c[0] == kind}) for kind in ("conv", "conv_transpose"))

    yield from sorted(itertools.product(*options), key=spread)  # a stable sort keeps the preference order


def _search(tensors, indexed, role, shape, target, activation) -> list[list]:
    """The first choice of each conv's stride/padding (and conv vs transposed) that chains from
    `shape` to `target` (or to a flat vector feeding the heads, for the encoder)."""
    names = [p for _, p in indexed]
    weights = [tensors.get(f"{p}.weight", tensors.get(f"{p}.running_mean")) for p in names]
    for p, w in zip(names, weights):
        if w is None:
            raise StoreError(f"sequential layout: {p} has tensors but no {p}.weight; write a map (--layout MAP.json)")
    options = [
        [["batchnorm"]] if f"{p}.running_mean" in tensors else _variants(w, role) for p, w in zip(names, weights)
    ]
    for combo in _ordered(options):
        layers, current, ok = [], shape, True
        for i, ((index, prefix), choice, w) in enumerate(zip(indexed, combo, weights)):
            gap = index - (indexed[i - 1][0] + 1 if i else 0)
            kind = choice[0]
            if kind == "batchnorm":  # normalizes the channels it is given: the shape stays
                if i > 0 and gap >= 1:
                    layers.append(["act", activation])
                layers.append(["batchnorm", prefix])
                if current[0] != w.numel():
                    ok = False
                    break
                continue
            if kind == "linear" and len(current) == 3 and i > 0:
                layers.append(["flatten"])
                gap -= 1
                current = (math.prod(current),)
            if kind != "linear" and len(current) == 1:
                c = w.shape[0] if kind == "conv_transpose" else w.shape[1]
                hw = current[0] // c if current[0] % c == 0 else 0
                side = math.isqrt(hw)
                if side * side != hw or hw == 0:
                    ok = False
                    break
                layers.append(["unflatten", c, side, side])
                gap -= 1
                current = (c, side, side)
            if i > 0 and gap >= 1:
                layers.insert(
                    len(layers) - (1 if layers and layers[-1][0] in ("flatten", "unflatten") else 0),
                    ["act", activation],
                )
            layers.append([kind, prefix, *choice[1:]])
            try:
                current = check_stack(role, _concrete(layers[-1:], tensors), current)
            except ValueError:
                ok = False
                break
        if not ok:
            continue
        if (len(current) == 1) if target is None else current in (target, (math.prod(target),)):
            return layers
    raise StoreError(
        f"sequential layout: no choice of stride and padding makes the {role}'s layers "
        f"({', '.join(names)}) chain from {shape} to {target or 'a vector'}; "
        "write a map (--layout MAP.json)"
    )


def _concrete(layers: list, tensors: dict) -> tuple:
    """Map layers (with tensor prefixes) -> layer tuples of vae.models.layers (with sizes)."""
    out = []
    for layer in layers:
        kind = layer[0]
        if kind in ("linear", "conv", "conv_transpose"):
            w = tensors[f"{layer[1]}.weight"]
            if kind == "linear":
                out.append(("linear", w.shape[1], w.shape[0]))
            elif kind == "conv":
                out.append(("conv", w.shape[1], w.shape[0], w.shape[2], *layer[2:4]))
            else:
                out.append(("conv_transpose", w.shape[0], w.shape[1], w.shape[2], *layer[2:5]))
        else:
            out.append(tuple(layer))
    return tuple(out)


def last_layer(layers: list) -> int | None:
    """The index of the last layer that is not only a reshape (flatten / unflatten)."""
    return next((i for i in range(len(layers) - 1, -1, -1) if layers[i][0] not in ("flatten", "unflatten")), None)


def _label(layer: tuple) -> str:
    kind, *a = layer
    if kind == "linear":
        return f"linear {a[0]} → {a[1]}"
    name = "transposed conv" if kind == "conv_transpose" else "conv"
    return f"{name} {a[0]} → {a[1]} channels, {a[2]}x{a[2]}, stride {a[3]}, padding {a[4]}"


def read_map(text: str | bytes) -> dict:
    """A layout map from JSON text, its shape checked (StoreError otherwise)."""
    try:
        m = json.loads(text)
    except (ValueError, RecursionError):
        raise StoreError("the layout map is not JSON") from None
    if not isinstance(m, dict) or not {"encoder", "heads", "decoder"} <= set(m):
        raise StoreError('a layout map is a JSON object with "encoder", "heads" and "decoder"')
    heads = m["heads"] if isinstance(m["heads"], list) else [m["heads"]]
    if not all(isinstance(h, str) for h in heads) or len(heads) not in (1, 2):
        raise StoreError('"heads" is one tensor prefix (both, mu first) or two (mu, log-variance)')
    for part in ("encoder", "decoder"):
        if not isinstance(m[part], list) or not all(
            isinstance(x, list) and x and isinstance(x[0], str) for x in m[part]
        ):
            raise StoreError(f'"{part}" must be a list of layers like ["linear", "fc1"]')
    return {**m, "heads": heads}


def build(
    layout: dict,
    tensors: dict,
    image_shape: tuple,
    likelihood: str = "bernoulli",
    latent_dim: int | None = None,
    identity: bool = False,
) -> tuple[ModelConfig, dict, list[dict]]:
    """(config, our state dict, rows) from a map and the foreign tensors; every tensor must be used,
    every named one must exist with the shape its place needs."""
    taken = _Taken(tensors)
    encoder = taken.stack("encoder", layout["encoder"], layout["heads"])
    dec_layers, output = _decoder_output(list(layout["decoder"]), likelihood, identity)
    signed = output == "tanh" or bool(layout.get("signed"))  # a Tanh output: the model's data live in [-1, 1]
    if signed:
        likelihood = "gaussian"  # a mean in [-1, 1] is no Bernoulli's
    decoder = taken.stack("decoder", dec_layers, None)
    if likelihood == "gaussian":
        taken.log_std()
    taken.check_all_used()
    latent = _latent(encoder, decoder, taken.rows, latent_dim)
    for fn in [x[1] for x in (*encoder, *decoder) if x[0] == "act"]:
        if fn not in FUNCTIONS:
            raise StoreError(f"unknown activation {fn!r}; known: {', '.join(sorted(FUNCTIONS))}")
    try:
        config = ModelConfig(
            arch="layers",
            image_shape=tuple(image_shape),
            latent_dim=latent,
            likelihood=likelihood,
            encoder_layers=encoder,
            decoder_layers=decoder,
            output=output,
            signed=signed,
        )
    except ConfigError as e:
        raise StoreError(f"the layers do not fit together: {e}") from None
    return config, taken.state, taken.rows


_NEEDS_DIMS = {"linear": 2, "conv": 4, "conv_transpose": 4}  # a layer kind -> its weight's dimensions
BN_EPS = 1e-5  # torch's BatchNorm default: eps is not in a state dict
_DEFAULTS = {"linear": [], "conv": [1, 0], "conv_transpose": [1, 0, 0]}  # stride, padding, output padding


class _Taken:
    """The foreign tensors as the layout takes them: our state dict, a row per tensor saying what it
    became, and which were used (every one must be)."""

    def __init__(self, tensors: dict) -> None:
        self.tensors, self.used, self.rows, self.state = tensors, set(), [], {}

    def take(self, prefix: str, role: str) -> tuple[torch.Tensor, torch.Tensor]:
        """prefix.weight and prefix.bias (zeros when the file has none), checked and recorded."""
        w_name, b_name = f"{prefix}.weight", f"{prefix}.bias"
        if w_name not in self.tensors:
            raise StoreError(f"the layout names {prefix!r} but the file has no tensor {w_name!r}")
        w, b = self.tensors[w_name], self.tensors.get(b_name)
        out = w.shape[1] if "transposed" in role else w.shape[0]
        if b is not None and tuple(b.shape) != (out,):
            raise StoreError(f"{b_name} has shape {tuple(b.shape)}; its layer has {out} outputs")
        self.used.update({w_name} | ({b_name} if b is not None else set()))
        self.rows.append({"tensor": w_name, "shape": tuple(w.shape), "became": role})
        if b is not None:
            self.rows.append({"tensor": b_name, "shape": tuple(b.shape), "became": f"{role} (bias)"})
        return w, (b if b is not None else torch.zeros(out))

    def stack(self, part: str, layers: list, heads: list | None) -> tuple:
        """A network's layer list with its weights taken (the encoder's mu and log-variance heads as
        its last Linear) -> our concrete layers."""
        concrete = []
        for i, layer in enumerate(layers):
            if layer[0] == "batchnorm":
                self._batchnorm(part, i, layer, concrete)
                continue
            if layer[0] not in _NEEDS_DIMS:
                concrete.append(tuple(layer))
                continue
            concrete.append(self._weighted(part, i, layer))
            w, b = self.take(layer[1], f"{part} layer {len(concrete) - 1}: {_label(concrete[-1])}")
            self.state[f"{part}.{len(concrete) - 1}.weight"], self.state[f"{part}.{len(concrete) - 1}.bias"] = w, b
        if heads is not None:
            w, b = self._heads(heads)
            concrete.append(("linear", w.shape[1], w.shape[0]))
            self.state[f"{part}.{len(concrete) - 1}.weight"], self.state[f"{part}.{len(concrete) - 1}.bias"] = w, b
        return tuple(concrete)

    def _weighted(self, part: str, i: int, layer) -> tuple:
        """A linear or convolution entry of the map, checked against its tensor -> its concrete layer."""
        kind = layer[0]
        if len(layer) < 2 or not isinstance(layer[1], str):
            raise StoreError(f"{part} layer {i}: a {kind} layer names its tensor prefix")
        need, w = _NEEDS_DIMS[kind], self.tensors.get(f"{layer[1]}.weight")
        if w is not None and w.dim() != need:
            raise StoreError(f"{layer[1]}.weight is {w.dim()}-D ({tuple(w.shape)}); a {kind} layer needs {need}-D")
        if kind != "linear" and (w is not None and w.shape[2] != w.shape[3]):
            raise StoreError(f"{layer[1]}.weight: only square kernels are supported, got {tuple(w.shape)}")
        if w is None:
            raise StoreError(f"the layout names {layer[1]!r} but the file has no tensor '{layer[1]}.weight'")
        spec = [kind, layer[1], *(list(layer[2:]) + _DEFAULTS[kind][len(layer) - 2 :])]
        return _concrete([spec], self.tensors)[0]

    def _batchnorm(self, part: str, i: int, layer, concrete: list) -> None:
        """An eval-mode BatchNorm, y = (x - mean) / sqrt(var + eps) * weight + bias = x * scale + shift,
        folded into the linear or convolution just before it (its output channels scaled), or kept
        as a per-channel affine layer where there is none."""
        if len(layer) not in (2, 3) or not isinstance(layer[1], str):
            raise StoreError(
                f'{part} layer {i}: a batchnorm layer is ["batchnorm", prefix] or ["batchnorm", prefix, eps]'
            )
        prefix, eps = layer[1], layer[2] if len(layer) == 3 else BN_EPS
        if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not 0 <= eps < 1:
            raise StoreError(f"{part} layer {i}: a BatchNorm's eps is a small number, got {eps!r}")
        names = {k: f"{prefix}.{k}" for k in ("running_mean", "running_var", "weight", "bias")}
        if names["running_mean"] not in self.tensors or names["running_var"] not in self.tensors:
            raise StoreError(
                f"{prefix}: a BatchNorm without running statistics (track_running_stats=False) normalizes "
                "each batch by itself, which no single picture can be; it is not read"
            )
        mean, var = self.tensors[names["running_mean"]], self.tensors[names["running_var"]]
        n = mean.numel()
        gamma, beta = self.tensors.get(names["weight"], torch.ones(n)), self.tensors.get(names["bias"], torch.zeros(n))
        if not all(t.dim() == 1 and t.numel() == n for t in (mean, var, gamma, beta)) or bool((var < 0).any()):
            raise StoreError(f"{prefix}: a BatchNorm's statistics, weight and bias are {n} values each, variances >= 0")
        scale = gamma / torch.sqrt(var + eps)
        shift = beta - mean * scale
        prev = len(concrete) - 1
        folded = prev >= 0 and concrete[prev][0] in _NEEDS_DIMS
        if folded:
            key = f"{part}.{prev}"
            w, b = self.state[f"{key}.weight"], self.state[f"{key}.bias"]
            transposed = concrete[prev][0] == "conv_transpose"
            channels = w.shape[1] if transposed else w.shape[0]
            if channels != n:
                raise StoreError(f"{prefix} normalizes {n} channels; the layer before it gives {channels}")
            view = (1, -1, 1, 1) if transposed else (-1,) + (1,) * (w.dim() - 1)
            self.state[f"{key}.weight"], self.state[f"{key}.bias"] = w * scale.view(view), b * scale + shift
            became = f"{part} layer {prev}: BatchNorm folded in (eps {eps:g})"
        else:
            concrete.append(("affine", n))
            self.state[f"{part}.{len(concrete) - 1}.weight"], self.state[f"{part}.{len(concrete) - 1}.bias"] = (
                scale,
                shift,
            )
            became = f"{part} layer {len(concrete) - 1}: BatchNorm as a per-channel scale and shift (eps {eps:g})"
        for k, name in names.items():
            if name in self.tensors:
                self.used.add(name)
                self.rows.append({"tensor": name, "shape": tuple(self.tensors[name].shape), "became": f"{became}, {k}"})

    def _heads(self, heads: list) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder's heads as one Linear: mu's rows, then the log-variance's."""
        names = ("mu head", "log-variance head") if len(heads) == 2 else ("mu and log-variance head",)
        ws, bs = zip(*(self.take(h, name) for h, name in zip(heads, names)))
        if len(heads) == 2 and ws[0].shape != ws[1].shape:
            raise StoreError(
                f"the mu head {heads[0]} {tuple(ws[0].shape)} and the log-variance head "
                f"{heads[1]} {tuple(ws[1].shape)} differ in shape"
            )
        return torch.cat(ws), torch.cat(bs)

    def log_std(self) -> None:
        """A Gaussian likelihood's scale: std = exp(log_std), 1 when the file has none."""
        log_std = self.tensors.get("log_std", torch.zeros(()))
        if log_std.numel() != 1:
            raise StoreError(f"log_std must hold one number (std = exp(log_std)), it has shape {tuple(log_std.shape)}")
        self.state["log_std"] = log_std.reshape(())
        if "log_std" in self.tensors:
            self.used.add("log_std")
            self.rows.append({"tensor": "log_std", "shape": tuple(log_std.shape), "became": "Gaussian log-std"})

    def check_all_used(self) -> None:
        extra = sorted(set(self.tensors) - self.used)
        if extra:
            raise StoreError(
                f"the file has tensors the layout does not use: {', '.join(extra[:5])}{' …' if len(extra) > 5 else ''}"
            )


def _decoder_output(dec_layers: list, likelihood: str, identity: bool) -> tuple[list, str]:
    """The decoder's layers without a final sigmoid or Tanh, and what its output is: "sigmoid"
    (Bernoulli logits, the sigmoid applied by the model), "tanh" (a mean in [-1, 1]) or "identity"
    (the mean itself)."""
    last = last_layer(dec_layers)
    if last is not None and list(dec_layers[last]) in (["act", "sigmoid"], ["act", "tanh"]):  # a reshape commutes
        return dec_layers[:last] + dec_layers[last + 1 :], dec_layers[last][1]
    return dec_layers, "identity" if likelihood == "gaussian" or identity else "sigmoid"


def _latent(encoder: tuple, decoder: tuple, rows: list[dict], latent_dim: int | None) -> int:
    """The latent size the encoder's heads give, checked against the asked one and the decoder's input."""
    latent = encoder[-1][2] // 2
    if latent_dim is not None and latent != latent_dim:
        raise StoreError(f"the encoder's heads give a {latent}-D latent, not {latent_dim}-D as asked")
    first = next((x for x in decoder if x[0] in ("linear", "conv", "conv_transpose")), None)
    if first is not None and first[0] == "linear" and first[1] != latent:
        first_tensor = next(r["tensor"] for r in rows if r["became"].startswith("decoder layer 0:"))
        raise StoreError(
            f"latent size mismatch: the encoder's heads give {latent} dimensions, the decoder's "
            f"first layer ({first_tensor}) takes {first[1]}"
        )
    return latent
