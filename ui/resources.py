"""Every cached loader of the app: the one module that imports both streamlit and vae.

Caches are keyed on one small value, a ModelRef (model name, weights version, store folder and
the data it is shown with), made once by the shell and passed whole, plus simple values (split,
method); a retrained model has a new version, so it is reloaded. What depends on the weights
alone (the model, its browser decoder, its exports) is keyed without the data (`weights_only`).
A cached model is shared by every user: read-only, used under torch.inference_mode(), never
trained in place (training builds a new model in vae.training.jobs).
"""

from __future__ import annotations

import functools
import io
import json
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from vae.data import datasets as data
from vae.inference import (
    aggregate,
    codes,
    comparison,
    conditioning,
    direction_builder,
    latent,
    posterior,
    quality,
    samplers,
    scoring,
    views,
)
from vae.inference import posterior_view as posterior_view_
from vae.interop import export
from vae.models import objectives
from vae.models.model import VAE
from vae.store import bundle, compact
from vae.store import catalog as store
from vae.training import jobs

MAP_POINTS = 5000  # at most this many points on a latent map (all of mnist-5k)
REFERENCE_LARGE = 300  # test images scored as the reference for a colour or large upload (K=100 each)


def models_dir() -> str:
    return str(store.models_dir())


@dataclass(frozen=True)
class ModelRef:
    """Which model and which data: the one key every cached call takes (hashable; Streamlit hashes
    a dataclass by its fields)."""

    name: str
    version: str  # changes whenever the weights are rewritten (store.ModelInfo.version)
    directory: str  # the store folder it was found in
    source: str = ""  # the data it is shown with: a named dataset or a saved upload's path

    @property
    def weights(self) -> ModelRef:
        """The same model without its data: the key of what depends on the weights alone."""
        return replace(self, source="")

    @classmethod
    def of(cls, info: store.ModelInfo, directory: str, source: str = "") -> ModelRef:
        """A store entry's reference; `directory` is the store folder it was listed from (store.load
        finds a bundled model from there too)."""
        return cls(info.name, info.version, directory, source)


def weights_only(cached):
    """A cached function of a model's weights alone, called with a whole ModelRef: keyed without
    the data, so two datasets shown with one model share one entry (one model in memory)."""

    @functools.wraps(cached)
    def call(ref: ModelRef, *args, **kwargs):
        return cached(ref.weights, *args, **kwargs)

    call.clear = cached.clear
    return call


@st.cache_data(ttl=3, show_spinner=False)
def model_list(directory: str) -> list[store.ModelInfo]:
    """The store's models; re-read every few seconds so new models appear."""
    return store.list_models(directory)


@weights_only
@st.cache_resource(max_entries=6, show_spinner="Loading the model…")
def model(ref: ModelRef) -> VAE:
    loaded, _ = store.load(ref.name, ref.directory)
    for p in loaded.parameters():
        p.requires_grad_(False)  # shared and read-only
    return loaded


@st.cache_resource(max_entries=8, show_spinner="Loading the dataset…")
def dataset(source: str, split: str) -> data.Dataset:
    """A named dataset or a saved upload (a path), "train" or "test" split."""
    train, test = data.load_splits(source)
    return train if split == "train" else test


@st.cache_resource(max_entries=8, show_spinner="Encoding the dataset…")
def encoded(ref: ModelRef, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) of every image of a split, (N, D) each."""
    ds = dataset(ref.source, split)  # a conditional model encodes each image with its label or visible part
    return conditioning.encode_dataset(model(ref), ds.images, ds.labels)


@st.cache_resource(max_entries=8, show_spinner="Projecting the latent space (a first t-SNE or UMAP takes 10-30 s)…")
def projection(ref: ModelRef, split: str, method: str):
    mu, _ = encoded(ref, split)
    key = f"{ref.name}-{ref.version}-{Path(ref.source).stem}-{split}-{method}"
    return latent.cached_project(mu, method, key, data.default_data_dir() / "projections")


@st.cache_resource(max_entries=4, show_spinner="Projecting the raw pixels…")
def pixel_projection(source: str, split: str, method: str):
    x = dataset(source, split).images
    key = f"pixels-{Path(source).stem}-{split}-{method}-{len(x)}"
    return latent.cached_project(x.reshape(len(x), -1), method, key, data.default_data_dir() / "projections")


@st.cache_resource(max_entries=6, show_spinner="Scoring the test set…")
def test_scores(ref: ModelRef, iw_samples: int = 50) -> dict:
    """Per-example ELBO, IW log-likelihood and reconstruction error (scoring.reconstruction_error of
    decode(mu)) of the test split (its first REFERENCE_LARGE images for pictures above 32x32 grey):
    the reference distributions for 'how typical is this input' (a plain out-of-distribution signal)
    and 'how well is it reconstructed'."""
    m = model(ref)
    x = torch.from_numpy(dataset(ref.source, "test").images)
    if x[0].numel() > 1024:  # colour and large pictures: a conv decoder costs ~100x an MNIST MLP's
        x = x[:REFERENCE_LARGE]
    gen = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        elbo = torch.cat([objectives.elbo(m, x[i : i + 500], gen).elbo for i in range(0, len(x), 500)])
        iw = torch.cat([objectives.iw_bound(m, x[i : i + 500], iw_samples, gen) for i in range(0, len(x), 500)])
    mu, _ = encoded(ref, "test")
    error = scoring.reconstruction_error(x.numpy(), latent.decode(m, mu[: len(x)]))
    return {"elbo": elbo.numpy(), "iw": iw.numpy(), "error": error, "iw_samples": iw_samples}


@st.cache_resource(max_entries=6, show_spinner=False)
def kl_order(ref: ModelRef) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(order, active, kl_per_dim): latent dimensions by decreasing average KL on the test split."""
    mu, sigma = encoded(ref, "test")
    kl = objectives.kl_standard_normal(torch.from_numpy(mu), torch.from_numpy(2 * np.log(sigma))).mean(0).numpy()
    order, active = latent.order_by_kl(kl)
    return order, active, kl


@st.cache_resource(max_entries=6, show_spinner="Scoring every point (reconstruction, KL)…")
def point_scores(ref: ModelRef, split: str) -> dict:
    """Per-example reconstruction E_q[log p(x|z)], KL and ELBO in nats, to colour a latent map by."""
    return views.point_scores(model(ref), dataset(ref.source, split).images)


@st.cache_data(max_entries=32, show_spinner=False)
def manifold_grid(
    ref: ModelRef,
    n: int,
    spacing: str,
    extent: float,
    dims: tuple[int, int],
    base: tuple | None,
    plane: bool,
) -> latent.Grid:
    """latent.decode_grid over two dims or (plane=True) the PCA plane of the test split's mu, the
    other dims held at base (a tuple of floats, None = 0). Cached: other widgets do not re-decode."""
    pca = projection(ref, "test", "pca") if plane else None
    return latent.decode_grid(
        model(ref),
        n,
        dims=dims,
        spacing=spacing,
        extent=extent,
        base=None if base is None else np.asarray(base, np.float32),
        plane=pca,
    )


@weights_only
@st.cache_data(max_entries=16, show_spinner=False)
def backdrop(ref: ModelRef, x_range: tuple, y_range: tuple, n: int) -> np.ndarray:
    """The decoded manifold tiling a 2-D latent map's window: one image, row 0 at the top."""
    grid = views.decode_window(model(ref), n, x_range, y_range)
    return views.grid_picture(grid.images)


@weights_only
@st.cache_resource(max_entries=6, show_spinner=False)
def browser_decoder(ref: ModelRef) -> tuple[dict, dict[str, np.ndarray]]:
    """The decoder as layers and arrays for the browser (vae.store.bundle; raises BundleError), its
    weight matrices in the smallest encoding that decodes within one grey level of float32
    (vae.store.compact): spec["encoding"] says which, with the error measured on the z grid."""
    m = model(ref)
    spec, arrays = bundle.decoder_layers(m)
    arrays, spec["encoding"] = compact.encode(spec, arrays, m.latent_dim)
    spec["digest"] = bundle.digest(arrays, spec)  # the browser stores the weights under it
    return spec, arrays


@st.cache_resource(max_entries=16, show_spinner="Scoring the model on the test split (ELBO, IW bound)…")
def compare_scores(ref: ModelRef, binarize: bool) -> dict:
    """Test metrics of a model on its data's test split, for a comparison where the stored ones were
    measured on other images (comparison.evaluate_scores; cached per weights version)."""
    test = dataset(ref.source, "test")
    return comparison.evaluate_scores(model(ref), test.images, binarize, test.labels)


@st.cache_data(max_entries=32, show_spinner=False)
def compare_reconstructions(ref: ModelRef, ids: tuple) -> np.ndarray:
    """The model's reconstructions (decoder mean at the posterior mean) of test images `ids`."""
    test = dataset(ref.source, "test")
    labels = None if test.labels is None else test.labels[list(ids)]
    return comparison.reconstruct(model(ref), test.images[list(ids)], labels)


@st.cache_data(max_entries=32, show_spinner=False)
def compare_manifold(ref: ModelRef, n: int, condition: int | None) -> np.ndarray:
    """An n x n manifold (n, n, C, H, W) at Gaussian percentiles: over z1 x z2, or the PCA plane of
    the test split's mu above 2-D, or a strip along z1 for 1-D. condition: the class a label or
    class-prior model decodes under, the test image whose visible part a completion model is given."""
    m = model(ref)
    if m.config.kind.conditional and condition is not None:
        m = conditioning.given(m, dataset(ref.source, "test").images[condition] if m.config.kind.by_part else condition)
    if m.latent_dim == 1:
        return latent.decode(m, latent.traverse(np.zeros(1), 0, latent.gaussian_percentiles(n)))[None]
    plane = projection(ref, "test", "pca") if m.latent_dim > 2 else None
    return latent.decode_grid(m, n, plane=plane).images


@st.cache_data(max_entries=4, show_spinner="Scoring every item for the codes table…")
def codes_table(ref: ModelRef, split: str) -> dict:
    """vae.inference.codes.table of a split (the map's coordinates added for a 2-D model)."""
    m, ds = model(ref), dataset(ref.source, split)
    mu, _ = encoded(ref, split)
    return codes.table(m, ds, coords=mu if mu.shape[1] == 2 else None)


@st.cache_data(max_entries=4, show_spinner="Packing the Embedding Projector bundle…")
def projector_zip(ref: ModelRef, split: str) -> bytes:
    """An Embedding Projector bundle of a split (vae.inference.codes.projector) as one .zip."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        done = codes.projector(model(ref), dataset(ref.source, split), tmp)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name in done["files"]:
                z.write(Path(tmp) / name, f"{ref.name}-projector/{name}")
    return buf.getvalue()


@st.cache_data(max_entries=8, show_spinner="Splitting the KL (ELBO surgery)…")
def surgery(ref: ModelRef, split: str = "test") -> dict:
    """vae.inference.aggregate.surgery of a split's codes (each image with its condition for a kind
    whose encoder takes one: then it is not q(z|x) alone, and the caller should not ask)."""
    mu, sigma = encoded(ref, split)
    return aggregate.surgery(mu, sigma)


@st.cache_resource(max_entries=8, show_spinner="Fitting the sampler to the codes of the training split…")
def sampler(ref: ModelRef, kind: str) -> samplers.Sampler:
    """A sampler of z (vae.inference.samplers) fitted on the training split's codes; the prior needs none."""
    if kind == "prior":
        return samplers.Sampler(model(ref).latent_dim)
    return samplers.fit(kind, encoded(ref, "train")[0])


def draw_z(ref: ModelRef, kind: str) -> np.ndarray:
    """One z from a sampler, a fresh draw each call."""
    return sampler(ref, kind).sample(1, seed=int(np.random.default_rng().integers(2**31)))[0]


QUALITY_SAMPLES = 1000  # samples a sampler's quality is measured on (the benchmark's number)
QUALITY_REAL = 2000  # held-out pictures they are measured against (a seeded subsample beyond)


@st.cache_data(max_entries=16, show_spinner="Decoding samples…")
def samples(ref: ModelRef, kind: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(pictures (n, C, H, W), z (n, D)) from a sampler, seeded: the same pictures on every rerun."""
    z = sampler(ref, kind).sample(n, seed=seed)
    return latent.decode(model(ref), z), z


@st.cache_data(max_entries=16, show_spinner="Measuring the samples against the held-out split…")
def sample_quality(ref: ModelRef, kind: str) -> dict:
    """vae.inference.quality.measure of QUALITY_SAMPLES samples against the test split (at most
    QUALITY_REAL of it), read by the dataset's bundled classifier or one trained once on its labels."""
    train, test = dataset(ref.source, "train"), dataset(ref.source, "test")
    reader = quality.reader_for(train.name, data.default_data_dir() / "readers", train)
    real = test.images
    if len(real) > QUALITY_REAL:
        real = real[np.sort(np.random.default_rng(0).choice(len(real), QUALITY_REAL, replace=False))]
    return quality.measure(reader, real, samples(ref, kind, QUALITY_SAMPLES)[0])


@st.cache_data(max_entries=8, show_spinner="Mapping the holes of q(z)…")
def hole_map(ref: ModelRef, split: str = "test", method: str = "z") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log q(z) - log p(z) on a grid under a latent map (vae.inference.aggregate): a 2-D model's own
    plane ("z"), or above 2-D the PCA plane through the codes' mean ("pca"), over the points' window."""
    mu, sigma = encoded(ref, split)
    if method == "pca":
        plane = projection(ref, split, "pca")
        (x0, x1), (y0, y1) = views.square_window(plane.coords, margin=0.08)
        return aggregate.hole_map(mu, sigma, plane=(plane.mean, plane.components), window=(x0, x1, y0, y1))
    return aggregate.hole_map(mu, sigma, extent=max(4.0, float(np.abs(mu).max()) * 1.05))


@st.cache_data(max_entries=8, show_spinner=False)
def prior_points(ref: ModelRef, split: str = "test", method: str = "z", n: int = 1000) -> np.ndarray:
    """n seeded samples z ~ N(0, I) where a latent map draws them (n, 2): a 2-D model's own plane,
    or their projection onto the PCA plane of the split's codes."""
    z = np.random.default_rng(0).standard_normal((n, model(ref).latent_dim))
    return projection(ref, split, "pca").transform(z) if method == "pca" else z[:, :2]


@st.cache_data(max_entries=8, show_spinner=False)
def hole_caption(ref: ModelRef, split: str = "test", method: str = "z") -> str:
    """One sentence: how much of the prior lies in the codes' holes (and, on a PCA plane, what the slice is)."""
    mu, sigma = encoded(ref, split)
    share = aggregate.hole_share(mu, sigma)
    plane = (
        " The map is the slice through the codes' mean along their two principal axes: a hole there may be "
        "filled off the plane, while the share counts holes in all dimensions."
        if method == "pca"
        else ""
    )
    return (
        f"Red: where the codes' mixture q(z) falls below a tenth of the prior p(z). {share:.0%} of samples "
        "z ~ N(0, I) land there, and decode to pictures unlike the data; blue: where the codes crowd." + plane
    )


@st.cache_data(max_entries=32, show_spinner="Finding the direction and measuring it on the held-out split…")
def direction(ref: ModelRef, spec: tuple) -> dict:
    """A direction made now (vae.inference.direction_builder) as Direction.to_dict(): spec is
    ("groups", source spec, target spec, method, balance column or None) (label=3, vendor=google, ...),
    ("property", name) or ("principal", k, i)."""
    train, test = dataset(ref.source, "train"), dataset(ref.source, "test")
    m = model(ref)
    if spec[0] == "groups":
        made = direction_builder.from_groups(
            m, train, test, spec[1], spec[2], method=spec[3], balance=spec[4],
            reader_cache=data.default_data_dir() / "readers",
        )  # fmt: skip
    elif spec[0] == "property":
        made = direction_builder.from_property(m, train, test, spec[1])
    else:
        made = direction_builder.principal_directions(m, train, spec[1])[spec[2]]
    return made.to_dict()


@st.cache_resource
def training_jobs() -> dict[str, jobs.Job]:
    """Every training job started in this server process, by model name (shared by all sessions,
    so a run survives leaving the page or reloading the browser). It starts with the jobs a stopped
    server left unfinished, reported as interrupted (their last finished epochs saved)."""
    found = jobs.recover(models_dir())
    if found:
        model_list.clear()  # their saved epochs are models now
    return found


@dataclass(frozen=True)
class Current:
    """What the sidebar picked: the model and the dataset the pages show."""

    ref: ModelRef  # the key of every cached call about this model and data
    info: store.ModelInfo
    label: str  # how to show the dataset

    @property
    def name(self) -> str:
        return self.ref.name

    @property
    def source(self) -> str:
        return self.ref.source

    @property
    def model(self) -> VAE:
        return model(self.ref)

    def dataset(self, split: str = "test") -> data.Dataset:
        return dataset(self.ref.source, split)

    def encoded(self, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
        return encoded(self.ref, split)

    @property
    def latent_dim(self) -> int:
        return self.info.config.latent_dim


@weights_only
@st.cache_resource(max_entries=4, show_spinner="Decoding the coarse posterior grid…")
def coarse_grid(ref: ModelRef):
    """The model's coarse quadrature grid (latent 1 or 2): ~14,400 decoded points, reused by every image."""
    return posterior.coarse_grid(model(ref))


@weights_only
@st.cache_data(max_entries=64, show_spinner=False)
def posterior_view(ref: ModelRef, image: np.ndarray, dims: tuple[int, int]):
    """Everything the True posterior page shows for one prepared image (cached by the image's bytes)."""
    m = model(ref)
    grid = coarse_grid(ref) if m.latent_dim <= 2 else None
    return posterior_view_.describe(m, image, dims, grid)


@weights_only
@st.cache_data(max_entries=4, show_spinner=False)
def export_onnx_zip(ref: ModelRef, directions: str = "{}") -> bytes:
    """encoder.onnx and decoder.onnx of a model, in one zip (made when the download is clicked), with
    its saved directions (JSON text, a cache key too) as directions.json when it has any."""
    buf = io.BytesIO()
    enc, dec = export.onnx_bytes(model(ref))
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{ref.name}/encoder.onnx", enc)
        z.writestr(f"{ref.name}/decoder.onnx", dec)
        if json.loads(directions):
            z.writestr(f"{ref.name}/directions.json", directions)
    return buf.getvalue()


@weights_only
@st.cache_data(max_entries=4, show_spinner=False)
def export_tensors(ref: ModelRef, directions: str = "{}") -> tuple[bytes, str]:
    """(safetensors bytes, the PyTorch code that loads them) of a model, its saved directions (JSON
    text) in the file's metadata."""
    return export.state_dict_bytes(model(ref), f"{ref.name}.safetensors", ref.name, json.loads(directions))
