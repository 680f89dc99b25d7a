"""A Direction made from a model and its data, with its quality measured on the held-out split:
what the command line (and the pages) call, so each does the same thing.

- from_groups: two groups of items (vae.inference.directions.group specs) of the training split ->
  a vector by mean, balanced or probe; quality: the AUC on the test split's two groups, the
  consistency of matched pairs where the data has them (the same emoji in both groups), and, when
  the groups are two classes, transfer: the test split's source items moved by the vector, read by
  a pixel classifier fitted on the training split (cached per dataset), beside a random direction.
- from_property: a measured property (brightness, saturation, hue) regressed on the training codes;
  quality: R^2 on the test split.
- principal_directions: PCA of the training codes (share of variance) and the axes ordered by KL.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from vae.inference import conditioning, latent
from vae.inference import directions as dirs

PAIR_COLUMN = "emoji"  # items that are the same thing drawn differently (vendors, skin tones) share it
MATCHED_ON = ("emoji", "vendor", "skin")  # a pair agrees on these, but for the column the groups differ in
TRANSFER_ITEMS = 500  # held-out source items moved and read (a sample when there are more)


def encode(model, ds) -> np.ndarray:
    """The posterior means of a dataset's images (each with its own condition for a conditional model)."""
    return conditioning.encode_dataset(model, ds.images, ds.labels)[0]


def columns(ds) -> dict[str, np.ndarray]:
    return dirs.columns_of(ds.labels, ds.class_names, getattr(ds, "columns", None))


def from_groups(
    model,
    train,
    test,
    source: str,
    target: str,
    *,
    method: str = "mean",
    balance: str | None = None,
    orthogonal_to=(),
    reader_cache: Path | None = None,
) -> dirs.Direction:
    mu = encode(model, train)
    cols = columns(train)
    s, t = dirs.group(source, cols, len(mu)), dirs.group(target, cols, len(mu))
    confounder = None
    if balance is not None:
        if balance not in cols:
            raise dirs.DirectionError(
                f"this dataset has no column {balance!r} to balance over; it has: "
                f"{', '.join(c for c in cols if ':' not in c)}"
            )
        confounder = cols[balance]
    vector = dirs.between(mu, s, t, method, confounder=confounder, orthogonal_to=orthogonal_to)
    quality = {"train_items": [int(s.sum()), int(t.sum())]}
    mu_test, test_cols = encode(model, test), columns(test)
    try:
        ts, tt = dirs.group(source, test_cols, len(mu_test)), dirs.group(target, test_cols, len(mu_test))
    except dirs.DirectionError:  # ids name training items; a class may be missing from the test split
        ts = tt = None
    if ts is not None and not (ts & tt).any():
        quality["test_items"] = [int(ts.sum()), int(tt.sum())]
        quality["auc"] = dirs.auc(vector, mu_test, ts, tt)
        pairs = matched_pairs(test_cols, ts, tt, differ_in={source.split("=")[0], target.split("=")[0]})
        if len(pairs):
            quality["consistency"] = dirs.consistency(mu_test[pairs[:, 1]] - mu_test[pairs[:, 0]], mu_test)
        target_class = _class_of(target, test_cols)
        if target_class is not None and reader_cache is not None and train.labels is not None:
            read = cached_reader(train, reader_cache)
            items = np.flatnonzero(ts)[:TRANSFER_ITEMS]
            moved = dirs.transfer(model, vector, mu_test[items], test.images[items], read, target_class)
            quality["transfer"] = moved
    return dirs.Direction(vector, method, f"{source} -> {target}", quality)


def from_property(model, train, test, name: str) -> dirs.Direction:
    mu, values = encode(model, train), dirs.measure(train.images, name)
    vector, reg = dirs.along(mu, values)
    mu_test, values_test = encode(model, test), dirs.measure(test.images, name)
    quality = {"r2": float(reg.score(mu_test, values_test)), "std": float(values.std())}
    return dirs.Direction(vector, "ridge", name, quality)


def principal_directions(model, train, k: int = 5) -> list[dirs.Direction]:
    mu = encode(model, train)
    return [
        dirs.Direction(v, "pca", f"PC{i + 1}", {"variance_share": share})
        for i, (v, share) in enumerate(dirs.principal(mu, k))
    ]


def axes_by_kl(model, train) -> list[dirs.Direction]:
    """The latent axes by decreasing average KL (on the training split), each one standard deviation
    of the codes along it; an axis below vae.inference.latent.ACTIVE_KL nats carries nothing."""
    import torch

    from vae.models import objectives

    mu, sigma = conditioning.encode_dataset(model, train.images, train.labels)
    kl = objectives.kl_standard_normal(torch.from_numpy(mu), torch.from_numpy(2 * np.log(sigma))).mean(0).numpy()
    return [
        dirs.Direction(v, "axis", f"z{i + 1}", {"kl": k, "active": bool(k >= latent.ACTIVE_KL)})
        for i, v, k in dirs.axes(mu, kl)
    ]


def matched_pairs(cols: dict, source, target, differ_in=()) -> np.ndarray:
    """(start, end) item pairs that are the same thing in the source and target groups: the same
    emoji (PAIR_COLUMN), and the same in every other MATCHED_ON column but those the groups are
    defined by (a google/twitter pair has the same skin tone)."""
    if PAIR_COLUMN not in cols:
        return np.zeros((0, 2), int)
    same = [c for c in MATCHED_ON if c in cols and c not in differ_in]
    key = np.array(["|".join(parts) for parts in zip(*(np.asarray(cols[c]).astype(str) for c in same))])
    ends = {}
    for i in np.flatnonzero(target):
        ends.setdefault(key[i], i)
    return np.array([(i, ends[key[i]]) for i in np.flatnonzero(source) if key[i] in ends], int).reshape(-1, 2)


def _class_of(spec: str, cols: dict) -> int | None:
    """The class a "label=..." group spec names (by number or class name), else None."""
    name, _, value = spec.partition("=")
    if name.strip() != "label" or "label" not in cols:
        return None
    value = value.strip()
    names = [str(n) for n in cols.get("label:names", [])]
    if value in names:
        return names.index(value)
    return int(value) if value.lstrip("-").isdigit() else None


def cached_reader(train, cache_dir: Path):
    """The pixel classifier of a dataset's training split, fitted once and kept in cache_dir."""
    digest = hashlib.sha256(np.ascontiguousarray(train.images[:: max(1, len(train.images) // 64)]).tobytes())
    path = Path(cache_dir) / f"reader-{train.name}-{len(train.images)}-{digest.hexdigest()[:16]}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            return dirs.reader(z["coef"], z["intercept"], z["classes"])
    coef, intercept, classes = dirs.pixel_classifier(train.images, train.labels)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.part.npz")
    np.savez(part, coef=coef, intercept=intercept, classes=classes)
    part.replace(path)
    return dirs.reader(coef, intercept, classes)
