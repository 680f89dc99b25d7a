"""The command line, run in-process through vae.__main__.main (same code path as python -m vae)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from vae import store
from vae.__main__ import main


@pytest.fixture
def tiny_npz(tmp_path):
    """120 8x8 images of two classes, as a user's .npz."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 0.2, (120, 8, 8)).astype(np.float32)
    y = np.arange(120) % 2
    x[y == 0, :4] += 0.7
    x[y == 1, 4:] += 0.7
    path = tmp_path / "tiny.npz"
    np.savez(path, x=np.clip(x, 0, 1), y=y)
    return path


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("train", "evaluate", "list", "rename", "delete", "data"):
        assert cmd in out


def test_train_evaluate_list_rename_delete(tmp_path, tiny_npz, capsys):
    models = str(tmp_path / "models")
    assert main(["--models-dir", models, "train", "--dataset", str(tiny_npz), "--name", "t1",
                 "--epochs", "2", "--hidden", "32", "--batch-size", "16", "--eval-iw-samples", "5",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "saved" in out and "test ELBO" in out
    model, info = store.load("t1", models)
    assert model.config.image_shape == (1, 8, 8) and model.config.hidden == (32,)
    assert len(info.meta["history"]) == 2 and info.metrics["iw_samples"] == 5

    assert main(["--models-dir", models, "evaluate", "t1", "--iw-samples", "7",
                 "--dataset", str(tiny_npz)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["iw_samples"] == 7 and result["split"] == "test"
    for key in ("elbo", "reconstruction", "kl", "iw_log_likelihood", "active_units", "kl_per_dim"):
        assert key in result
    assert result["iw_log_likelihood"] >= result["elbo"] - 1.0

    assert main(["--models-dir", models, "list"]) == 0
    listing = capsys.readouterr().out
    assert "t1" in listing and "default" in listing
    assert main(["--models-dir", models, "rename", "t1", "t2"]) == 0
    assert main(["--models-dir", models, "delete", "t2"]) == 0
    assert [m.name for m in store.list_models(models)] == ["default"]


def test_resume_continues_the_history(tmp_path, tiny_npz, capsys):
    models = str(tmp_path / "models")
    common = ["--dataset", str(tiny_npz), "--hidden", "16", "--eval-iw-samples", "2", "--quiet"]
    assert main(["--models-dir", models, "train", "--name", "r", "--epochs", "2", *common]) == 0
    assert main(["--models-dir", models, "train", "--name", "r", "--epochs", "1", "--resume", "r", *common]) == 0
    history = store.load("r", models)[1].meta["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]


@pytest.mark.parametrize("argv, message", [
    (["train", "--dataset", "nope", "--name", "x"], "unknown"),
    (["train", "--dataset", "mnist-5k", "--name", "bad/name", "--epochs", "0"], "epochs"),
    (["evaluate", "missing-model"], "no model"),
    (["delete", "default"], "bundled"),
])
def test_errors_are_one_line_and_exit_2(tmp_path, capsys, argv, message):
    assert main(["--models-dir", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and "Traceback" not in err


def test_module_entry_point_runs():
    done = subprocess.run([sys.executable, "-m", "vae", "data", "list"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "mnist-5k" in done.stdout


def test_importing_vae_does_not_import_streamlit():
    code = ("import sys, vae, vae.data, vae.model, vae.training, vae.store, vae.latent, vae.plots, "
            "vae.images, vae.jobs, vae.objectives; print('streamlit' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr
