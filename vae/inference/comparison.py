"""Models side by side: what the Compare page computes, without any UI.

Two to four stored models are compared on the same test images. That needs the same image shape;
models that differ are explained (incompatibility), never fed each other's images. Scores are the
stored test metrics when they were measured on the test split being compared, and are otherwise
measured here (objectives.evaluate, on the fixed binarized sample for a binarized run, as training
does), so every row of the table is on the same images. All scores are nats per example.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vae.data import datasets as data
from vae.inference import conditioning, latent
from vae.models import conditional_objectives, objectives
from vae.models.kinds import Kind

MIN_MODELS, MAX_MODELS = 2, 4
# (metric key, column title): the scores of the table and of the bar charts, best first where it matters
SCORES = (
    ("elbo", "Test ELBO"),
    ("iw_log_likelihood", "log p(x) ≥ (IW)"),
    ("reconstruction", "Reconstruction"),
    ("kl", "KL"),
    ("active_units", "Active units"),
)
COMPARE_IW_SAMPLES = 100  # K for scores measured here (stored metrics say their own K)


def shape_text(shape) -> str:
    c, h, w = (int(s) for s in shape)
    return f"{w}x{h} {'greyscale' if c == 1 else 'colour'}"


def shape_groups(infos) -> dict[tuple, list[str]]:
    """image shape (C, H, W) -> names of the models that take it, in the order given."""
    groups: dict[tuple, list[str]] = {}
    for info in infos:
        groups.setdefault(tuple(info.config.image_shape), []).append(info.name)
    return groups


def incompatibility(infos) -> str | None:
    """None when every model takes the same image shape, else a sentence saying who takes what and
    why they cannot be scored or shown on the same test images."""
    groups = shape_groups(infos)
    if len(groups) <= 1:
        return None
    parts = [
        f"{', '.join(repr(n) for n in names)} {'takes' if len(names) == 1 else 'take'} {shape_text(shape)} images"
        for shape, names in groups.items()
    ]
    return (
        "These models cannot be compared on the same test images: " + "; ".join(parts) + ". A model "
        "only reads images of the shape it was trained on. Pick models of one image shape to see their "
        "scores, maps and reconstructions side by side; the stored scores below were each measured on "
        "the model's own test split, so they are not comparable either."
    )


def test_sources(infos) -> dict[str, str]:
    """label -> source of the test splits every model can read (call only when they share a shape):
    the models' own training data first, then the other available named datasets of that shape."""
    shape = tuple(infos[0].config.image_shape)
    choices: dict[str, str] = {}
    for info in infos:
        own = info.data
        source = own.get("path") or (own.get("name") if own.get("name") in data.DATASETS else None)
        available = Path(source).exists() if own.get("path") else source is not None and data.is_available(source)
        if source and source not in choices.values() and available:
            users = [i.name for i in infos if _same_source(i, source)]
            choices[f"{own.get('name', 'upload')} (training data of {', '.join(users)})"] = source
    for name in data.DATASETS:
        if name not in choices.values() and data.is_available(name) and data.shape_of(name) == shape:
            choices[name] = name
    return choices


def _same_source(info, source: str) -> bool:
    own = info.data
    if own.get("path"):
        return Path(own["path"]).resolve() == Path(source).resolve()
    return own.get("name") == source


def stored_scores(info, source: str) -> dict | None:
    """The model's stored test metrics if they were measured on `source`'s test split (every score
    of SCORES present), else None: then they must be measured (evaluate_scores)."""
    m = info.metrics
    if not _same_source(info, source) or m.get("split", "test") != "test":
        return None
    if any(m.get(key) is None for key, _ in SCORES):
        return None
    return m


def evaluate_scores(model, test_images, binarize: bool, labels=None, iw_samples: int = COMPARE_IW_SAMPLES) -> dict:
    """The test metrics training saves (conditional_objectives.evaluate: a conditional model's with
    its condition given) on the test images, their fixed binarized sample when binarize, so measured
    and stored rows mean the same."""
    x = torch.as_tensor(np.asarray(test_images), dtype=torch.float32)
    x = objectives.binarized_test(x) if binarize else x
    y = None if labels is None or not conditional_objectives.needs_labels(model) else np.asarray(labels)
    out = conditional_objectives.evaluate(model, x, y, iw_samples=iw_samples)
    out.update(split="test", binarized=binarize)
    return out


def bound_on(config) -> str:
    """What a model's ELBO and IW numbers bound: log p(x), log p(x|y), or log p(hidden | visible)."""
    kind = config.kind
    return kind.bound.replace("visible", str(config.visible)) if kind.by_part else kind.bound


def score_row(name: str, config, metrics: dict, origin: str) -> dict:
    """One table row: the model, what its numbers bound, each score of SCORES (None if missing), K,
    binarized, where it came from."""
    latent_dim = config.latent_dim
    row = {"model": name, "bound on": bound_on(config)}
    for key, title in SCORES:
        value = metrics.get(key)
        row[title] = None if value is None else (int(value) if key == "active_units" else round(float(value), 2))
    if row["Active units"] is not None:
        row["Active units"] = f"{row['Active units']}/{latent_dim}"
    row["IW samples"] = metrics.get("iw_samples")
    row["binarized"] = bool(metrics.get("binarized", False))
    row["scores"] = origin
    return row


def mixed_bounds(rows) -> bool:
    """True when the rows bound different things (log p(x) beside log p(x|y), say): a conditional
    model is told part of the answer, so its number is not a better log p(x)."""
    return len({r["bound on"] for r in rows}) > 1


def mixed_binarization(rows) -> bool:
    """True when some rows were scored on binarized images and others on grey levels: their
    log-likelihoods are not comparable (a Bernoulli likelihood of grey levels is a different number)."""
    return len({r["binarized"] for r in rows}) > 1


def sample_ids(n_total: int, n: int, seed: int = 0) -> np.ndarray:
    """n fixed test-image ids (sorted, seeded): every model reconstructs the same images."""
    n = min(n, n_total)
    return np.sort(np.random.default_rng(seed).choice(n_total, n, replace=False))


def reconstruct(model, images, labels=None) -> np.ndarray:
    """images (N, C, H, W) in [0, 1] -> the decoder's mean at the posterior mean, each image under its
    own condition for a conditional model, float32 (N, C, H, W)."""
    return conditioning.reconstruct(model, images, labels)


def map_coords(mu) -> tuple[np.ndarray, tuple[str, str], str]:
    """Latent means (N, D) -> 2-D coords, axis names and a note: 2-D as they are, 1-D on a line
    (z1, 0), larger through PCA (the note says how much variance the plane keeps)."""
    mu = np.asarray(mu, dtype=np.float32)
    d = mu.shape[1]
    if d == 2:
        return mu, ("z1", "z2"), "2-D latent, as it is"
    if d == 1:
        return np.column_stack([mu[:, 0], np.zeros(len(mu), np.float32)]), ("z1", ""), "1-D latent, on a line"
    p = latent.project(mu, "pca")
    kept = float(np.sum(p.explained_variance_ratio)) * 100
    return p.coords, p.axis_names, f"{d}-D latent through PCA ({kept:.0f}% of the variance of μ)"


def manifold_note(latent_dim: int, kind: Kind, condition) -> str:
    """What a Compare manifold shows: its plane and, for a conditional model, what it is given."""
    plane = (
        "a strip along z1"
        if latent_dim == 1
        else "z1 x z2"
        if latent_dim == 2
        else "the PCA plane of the test split's μ"
    )
    if condition is None or not kind.conditional:
        return plane
    return plane + (f", visible part of test #{condition}" if kind.by_part else f", class y = {condition}")


def caveats(rows: list[dict]) -> list[str]:
    """What to say before anyone reads a score table's rows against each other."""
    out = []
    if mixed_bounds(rows):
        out.append(
            "These models bound different things (column 'bound on'): a conditional model is given the "
            "class or part of the image, so its number is not a log p(x) and is not better or worse "
            "than an unconditional model's."
        )
    if mixed_binarization(rows):
        out.append(
            "Some models are scored on binarized test images and some on grey levels: their "
            "log-likelihoods are different quantities and should not be compared directly."
        )
    return out
