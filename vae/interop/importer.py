"""Import a VAE trained elsewhere: read its state dict safely, recognise its layout, rebuild it as a
model of the store (arch "layers"), measure it on a dataset here, and save it with where it came from.

    rec = recognise("vae.pt", data)            # nothing is saved; rec.rows says which tensor became what
    info = save_imported(rec, "their-vae", dataset="mnist-5k")
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import torch

from vae.data import datasets
from vae.interop import known_layouts, layouts, weights
from vae.models import layers as layers_
from vae.models import objectives
from vae.models.config import OUTPUTS, ConfigError, ModelConfig
from vae.models.model import VAE
from vae.models.registry import build
from vae.store import catalog
from vae.store.modelfiles import StoreError, parameter_count


@dataclass
class Recognised:
    """What an import found, before anything is saved."""

    file_name: str
    sha256: str
    layout: str
    config: ModelConfig
    state: dict[str, torch.Tensor]
    rows: list[dict]  # each foreign tensor: its name, shape and the layer it became
    notes: list[str] = field(default_factory=list)  # what was assumed, not read from the file
    facts: list[str] = field(default_factory=list)  # what was read from the file or checked against it
    extra: dict = field(default_factory=dict)  # more for the model card (an ONNX pair: files, operators)

    def model(self) -> VAE:
        """The rebuilt model, weights loaded (strict: every tensor in its place)."""
        model = build(self.config)
        model.load_state_dict(self.state, strict=True)
        return model.eval()

    def source(self) -> dict:
        return {
            "kind": "imported",
            "file": self.file_name,
            "sha256": self.sha256,
            "layout": self.layout,
            "notes": self.notes,
            "facts": self.facts,
            **self.extra,
        }


SIGNED = (
    "the model's data live in [-1, 1] (a Tanh output): it is fed pictures as x * 2 - 1 and its output is shown "
    "as (x + 1) / 2, so every picture and metric here is on [0, 1]"
)
_GENERIC = {"encoder", "decoder", "enc", "dec", "model", "vae", "weights", "checkpoint", "state_dict", "pytorch_model"}


def suggest_name(file_name: str) -> str:
    """A store name from an uploaded file's name ('mnist vae.pt' -> 'mnist-vae'); '' for a name that
    says nothing about the model (an ONNX pair's 'encoder.onnx', 'model.safetensors'), to be asked."""
    stem = Path(file_name.split(" + ")[0]).name.rsplit(".", 1)[0].strip()
    return "" if stem.lower() in _GENERIC else stem.replace(" ", "-")[:40]


def _strip_prefix(tensors: dict, notes: list) -> dict:
    """nn.DataParallel and torch.compile put 'module.' / '_orig_mod.' before every name, a Lightning
    module wrapping the VAE as self.model 'model.'."""
    for prefix in ("module.", "_orig_mod.", "model."):  # "model.": a Lightning checkpoint (PyTorch-VAE's)
        if tensors and all(k.startswith(prefix) for k in tensors):
            notes.append(f"every name started with {prefix!r}: removed")
            tensors = {k[len(prefix) :]: v for k, v in tensors.items()}
    return tensors


def recognise(
    file_name: str,
    data: bytes | None = None,
    *,
    layout: str = "auto",
    layout_map: str | None = None,
    activation: str | None = None,
    image_shape: tuple = (1, 28, 28),
    likelihood: str = "bernoulli",
    latent_dim: int | None = None,
    output: str | None = None,
) -> Recognised:
    """Read a state dict (from `data`, or the file) and map it onto our layers. StoreError with a
    sentence naming the tensor or the setting on anything that does not fit; nothing is written.
    output: "sigmoid" when the decoder ends in a sigmoid the state dict cannot show, "identity" when
    its output is the mean; None reads it from the layout or the file's metadata, else from the
    likelihood (Bernoulli: logits; Gaussian: the mean)."""
    data = weights.read_bytes(file_name, data)
    notes: list[str] = []
    facts: list[str] = []
    asked_activation = activation  # a DCGAN stack's two activations are assumed only when none was given
    tensors, metadata = weights.read_state_dict(file_name, data)
    tensors = _strip_prefix(tensors, notes)
    if output is None and metadata.get("output") in OUTPUTS:
        output = metadata["output"]
        facts.append(f"output {output} (the file's metadata)")
    if activation is None:
        activation = metadata.get("activation") or "relu"
        if "activation" in metadata:
            facts.append(f"activation {activation} (the file's metadata)")
    if output not in (None, *OUTPUTS):
        raise StoreError(f"output must be one of {', '.join(OUTPUTS)}, got {output!r}")
    if likelihood not in ("bernoulli", "gaussian"):
        raise StoreError(f"likelihood must be bernoulli or gaussian, got {likelihood!r}")
    try:
        ModelConfig(image_shape=tuple(image_shape))
    except (ConfigError, TypeError) as e:
        raise StoreError(f"image shape: {e}") from None
    named = layout if layout in known_layouts.NAMES else known_layouts.guess(tensors) if layout == "auto" else None
    if layout_map is None and layout == "auto" and "layout_map" in metadata:
        layout_map = metadata["layout_map"]
        facts.append("every layer from the map in the file's metadata (this project's export)")
    if layout_map is not None:
        chosen, spec = "map", layouts.read_map(layout_map)
    elif named is not None:
        chosen, (spec, shape, read) = named, known_layouts.recognise(named, tensors, tuple(image_shape))
        facts += read
        if shape is not None and tuple(shape) != tuple(image_shape):
            image_shape = shape
            facts.append(f"pictures of shape {tuple(shape)}, as {known_layouts.DESCRIPTIONS[named]} takes them")
    elif layout == "pytorch-examples" or layout == "auto" and layouts.EXAMPLES <= set(layouts.prefixes(tensors)):
        chosen, spec = "pytorch-examples", layouts.pytorch_examples(tensors, activation)
    elif layout in ("sequential", "auto"):
        try:
            chosen, spec = "sequential", layouts.sequential(tensors, image_shape, activation)
        except StoreError as e:
            if layout == "sequential":
                raise
            raise StoreError(
                f"no known layout fits ({e}); the names start with "
                f"{', '.join(sorted(layouts.prefixes(tensors))[:6])}: write a layout map "
                "(--layout MAP.json, see vae/interop/layouts.py)"
            ) from None
    else:
        raise StoreError(f"unknown layout {layout!r}; known: {', '.join(layouts.LAYOUTS)} or a MAP.json")
    if chosen == "sequential" and layout == "auto" and asked_activation is None and "activation" not in metadata:
        try:  # 4x4 convolutions with BatchNorm: DCGAN's activations rather than one for all
            spec, _, read = known_layouts.dcgan(tensors, tuple(image_shape))
            chosen, facts = "dcgan", facts + read
        except StoreError:
            pass
    if output in ("sigmoid", "tanh") and spec["decoder"][-1:] != [["act", output]]:
        spec = {**spec, "decoder": [*spec["decoder"], ["act", output]]}
    if metadata.get("signed") == "true":
        spec = {**spec, "signed": True}
        facts.append("data in [-1, 1] (the file's metadata)")
    config, state, rows = layouts.build(
        spec, tensors, image_shape, likelihood, latent_dim, identity=output == "identity"
    )
    if chosen in known_layouts.NAMES:
        acts = sorted({layers_.act_name(tuple(x)) for x in spec["encoder"] + spec["decoder"] if x[0] == "act"})
        notes.append(f"the activations {', '.join(acts)}, as {known_layouts.DESCRIPTIONS[chosen]} has them")
    elif chosen != "map" and not any(n.startswith("activation") for n in facts):
        notes.append(f"activation {activation} between layers (not stored in a state dict: --activation)")
    if any(x[0] == "batchnorm" and len(x) == 2 for x in spec["encoder"] + spec["decoder"]):
        notes.append(f"BatchNorm in eval mode with eps {layouts.BN_EPS:g} (torch's default: not in a state dict)")
    if chosen == "sequential":
        convs = [x for x in spec["encoder"] + spec["decoder"] if x[0] in ("conv", "conv_transpose")]
        if convs:
            notes.append(
                "strides and paddings chosen to fit the image: "
                + ", ".join(f"{x[1]} stride {x[2]} padding {x[3]}" for x in convs)
            )
    notes.append(
        {
            "sigmoid": "the decoder's output read as Bernoulli logits",
            "identity": "the decoder's output read as the Gaussian mean",
            "tanh": "the decoder's Tanh output read as the Gaussian mean",
        }[config.output]
    )
    if config.signed:
        facts.append(SIGNED)
    if parameter_count(config) != sum(v.numel() for v in state.values()):
        raise StoreError("internal: the rebuilt model's size differs from the tensors read")
    return Recognised(Path(file_name).name, hashlib.sha256(data).hexdigest(), chosen, config, state, rows, notes, facts)


def measure(model: VAE, dataset: str, iw_samples: int = 100, progress=None) -> dict:
    """The model's test metrics on a named dataset here (the images must have the model's shape)."""
    if datasets.shape_of(dataset) != tuple(model.config.image_shape):
        raise StoreError(
            f"{dataset} has images of shape {datasets.shape_of(dataset)}; the model takes "
            f"{tuple(model.config.image_shape)} (--image-shape, --dataset)"
        )
    test = datasets.load_dataset(dataset, "test")
    with torch.inference_mode():
        metrics = objectives.evaluate(model, torch.from_numpy(test.images), iw_samples=iw_samples, progress=progress)
    metrics.update(split="test", binarized=False)
    return metrics


def save_imported(
    rec: Recognised,
    name: str,
    dataset: str = "mnist-5k",
    directory=None,
    *,
    iw_samples: int = 100,
    overwrite: bool = False,
    progress=None,
) -> catalog.ModelInfo:
    """Measure the recognised model on `dataset` and save it into the store with its source."""
    catalog.check_name(name)
    catalog.check_not_bundled(name)
    if not overwrite and catalog.models_dir(directory).joinpath(name).exists():
        raise StoreError(f"a model named {name!r} already exists (choose another name, or overwrite)")
    model = rec.model()
    metrics = measure(model, dataset, iw_samples, progress)
    return catalog.save(
        model,
        name,
        directory,
        dataset={"name": dataset},
        metrics=metrics,
        source={**rec.source(), "measured_on": dataset},
        overwrite=overwrite,
    )
