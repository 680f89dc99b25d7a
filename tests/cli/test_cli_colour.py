"""Colour end to end through the command line: a conv VAE with the discretized logistic on an emoji
cache the test writes (3 x 32 x 32), trained, resumed, evaluated in nats and bits per dimension, listed."""

import json

import numpy as np
import pytest

from vae.cli.main import main
from vae.data import emoji


@pytest.fixture
def emoji_cache(tmp_path, monkeypatch):
    """A small emoji-32.npz in the data cache: coloured squares on white, 9 categories, 30 emoji."""
    rng = np.random.default_rng(0)
    n = 90
    images = np.full((n, 32, 32, 3), 255, np.uint8)
    labels = np.arange(n) % 9
    for i in range(n):
        r, c = divmod(int(labels[i]), 3)
        images[i, r * 10 : r * 10 + 10, c * 10 : c * 10 + 10] = rng.integers(0, 256, 3)
    ids = np.array([f"E{i // 3}" for i in range(n)])
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    np.savez(
        emoji.cache_path(32, tmp_path / "data"), images=images, labels=labels, ids=ids, vendors=np.array(["google"] * n)
    )
    return tmp_path / "data"


def test_a_colour_model_trains_resumes_and_reports_bits_per_dim(emoji_cache, tmp_path, capsys):
    models = str(tmp_path / "models")
    assert (
        main(
            [
                "train",
                "--dataset",
                "emoji",
                "--arch",
                "conv",
                "--conv-channels",
                "8,16",
                "--conv-dense",
                "32",
                "--likelihood",
                "logistic",
                "--latent-dim",
                "2",
                "--epochs",
                "2",
                "--batch-size",
                "16",
                "--name",
                "colour",
                "--models-dir",
                models,
                "--eval-iw-samples",
                "5",
                "--quiet",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "bits/dim" in out and "no dequantization" in out
    assert (
        main(
            [
                "train",
                "--resume",
                "colour",
                "--epochs",
                "1",
                "--models-dir",
                models,
                "--quiet",
                "--eval-iw-samples",
                "5",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["evaluate", "colour", "--iw-samples", "5", "--models-dir", models]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert 0 < metrics["iw_log_likelihood_bits_per_dim"] < 9
    assert metrics["iw_log_likelihood_bits_per_dim"] == pytest.approx(
        -metrics["iw_log_likelihood"] / (3 * 32 * 32 * np.log(2))
    )
    assert main(["list", "--models-dir", models]) == 0
    assert "conv conv8-16-2 logistic" in capsys.readouterr().out


def test_the_emoji_recipe_trains_on_emoji(emoji_cache, tmp_path, capsys):
    assert main(["recipes"]) == 0
    assert "emoji-conv" in capsys.readouterr().out
    assert (
        main(
            [
                "train",
                "--recipe",
                "emoji-conv",
                "--epochs",
                "1",
                "--conv-channels",
                "8",
                "--conv-dense",
                "16",
                "--name",
                "r",
                "--models-dir",
                str(tmp_path / "m"),
                "--eval-iw-samples",
                "2",
                "--quiet",
            ]
        )
        == 0
    )
    assert "on emoji" in capsys.readouterr().err
