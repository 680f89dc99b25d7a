"""vae.inference.quality: precision/recall, the Frechet distance and the reader, where the answers are known."""

import numpy as np
import pytest

from vae.inference import quality


def test_precision_and_recall_tell_collapse_from_spread():
    rng = np.random.default_rng(0)
    real = rng.normal(0, 1, (600, 4))
    same = rng.normal(0, 1, (600, 4))
    collapsed = rng.normal(0, 0.1, (600, 4))  # all samples near one mode: precise, but covering little
    far = rng.normal(8, 1, (600, 4))
    p, r = quality.precision_recall(real, same)
    assert p > 0.85 and r > 0.85
    p, r = quality.precision_recall(real, collapsed)
    assert p > 0.95 and r < 0.3
    assert quality.precision_recall(real, far) == (0.0, 0.0)


def test_the_frechet_distance_is_zero_for_one_gaussian_and_the_mean_shift_squared_for_another():
    rng = np.random.default_rng(1)
    a = rng.normal(0, 1, (20000, 3))
    assert quality.frechet(a, a) == pytest.approx(0.0, abs=1e-6)
    assert quality.frechet(a, a + np.array([2.0, 0, 0])) == pytest.approx(4.0, rel=1e-6)


def test_a_reader_trained_on_two_classes_reads_them_and_measures_samples():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 0.2, (400, 1, 4, 4)).astype(np.float32)
    y = np.arange(400) % 2
    x[y == 1, :, :2] += 0.7
    reader = quality.train_reader(x, y, epochs=10)
    feats, probs = reader.read(x)
    assert feats.shape == (400, quality.HIDDEN) and np.mean(probs.argmax(1) == y) > 0.95
    again = quality.train_reader(x, y, epochs=10)  # reproducible
    np.testing.assert_allclose(again.read(x)[1], probs, atol=1e-6)
    only_ones = quality.measure(reader, x, x[y == 1])
    assert only_ones["class_balance"] < 0.05 and only_ones["confidence"] > 0.9  # one class: unbalanced
    both = quality.measure(reader, x, x[::-1].copy())
    assert both["class_balance"] > 0.95 and both["precision"] > 0.9
