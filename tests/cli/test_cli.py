"""The command line, run in-process through vae.cli.main.main (same code path as python -m vae)."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from vae.cli.main import main
from vae.store import catalog as store


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
    assert (
        main(
            [
                "--models-dir",
                models,
                "train",
                "--dataset",
                str(tiny_npz),
                "--name",
                "t1",
                "--epochs",
                "2",
                "--hidden",
                "32",
                "--batch-size",
                "16",
                "--eval-iw-samples",
                "5",
                "--quiet",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "saved" in out and "test ELBO" in out
    model, info = store.load("t1", models)
    assert model.config.image_shape == (1, 8, 8) and model.config.hidden == (32,)
    assert len(info.meta["history"]) == 2 and info.metrics["iw_samples"] == 5

    assert main(["--models-dir", models, "evaluate", "t1", "--iw-samples", "7", "--dataset", str(tiny_npz)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["iw_samples"] == 7 and result["split"] == "test"
    for key in ("elbo", "reconstruction", "kl", "iw_log_likelihood", "active_units", "kl_per_dim"):
        assert key in result
    assert result["iw_log_likelihood"] >= result["elbo"] - 1.0

    assert main(["--models-dir", models, "list"]) == 0
    listing = capsys.readouterr().out
    assert "t1" in listing and "default" in listing
    assert "resumable" in next(line for line in listing.splitlines() if line.startswith("t1"))
    assert main(["--models-dir", models, "rename", "t1", "t2"]) == 0
    assert main(["--models-dir", models, "delete", "t2"]) == 0
    assert [m.name for m in store.list_models(models)] == ["default", "emoji-2d", "mnist-5k-2d"]


def test_resume_continues_the_history(tmp_path, tiny_npz, capsys):
    models = str(tmp_path / "models")
    common = ["--dataset", str(tiny_npz), "--hidden", "16", "--eval-iw-samples", "2", "--quiet"]
    assert main(["--models-dir", models, "train", "--name", "r", "--epochs", "2", *common]) == 0
    assert main(["--models-dir", models, "train", "--name", "r", "--epochs", "1", "--resume", "r", *common]) == 0
    history = store.load("r", models)[1].meta["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
    (tmp_path / "models" / "r" / store.TRAINING).unlink()  # a model saved without its training state
    capsys.readouterr()
    assert main(["--models-dir", models, "train", "--epochs", "1", "--resume", "r", *common]) == 0
    assert "no saved training state" in capsys.readouterr().err
    assert [h["epoch"] for h in store.find("r", models).meta["history"]] == [1, 2, 3, 4]


def test_resume_takes_the_saved_settings_and_continues_exactly(tmp_path, tiny_npz, capsys):
    """2 epochs, then --resume for 2 more, equal one 4-epoch run: same settings (taken from the saved
    run, not the defaults), same history, same weights. The dataset is the model's own."""
    models = str(tmp_path / "models")
    settings = [
        "--hidden",
        "16",
        "--batch-size",
        "16",
        "--lr",
        "0.004",
        "--lr-decay",
        "0.8",
        "--binarize",
        "--warmup",
        "3",
        "--eval-iw-samples",
        "2",
        "--quiet",
    ]
    assert (
        main(
            ["--models-dir", models, "train", "--dataset", str(tiny_npz), "--name", "whole", "--epochs", "4", *settings]
        )
        == 0
    )
    assert (
        main(
            ["--models-dir", models, "train", "--dataset", str(tiny_npz), "--name", "part", "--epochs", "2", *settings]
        )
        == 0
    )
    assert store.find("part", models).meta["resumable"] is True
    capsys.readouterr()
    assert main(["--models-dir", models, "train", "--resume", "part", "--epochs", "2", "--quiet"]) == 0
    assert "resuming mlp 64-16-2" in capsys.readouterr().err
    (whole, w_info), (part, p_info) = store.load("whole", models), store.load("part", models)
    settings_of = {
        n: {k: v for k, v in i.meta["train_config"].items() if k != "epochs"}
        for n, i in (("whole", w_info), ("part", p_info))
    }
    assert (
        settings_of["part"]
        == settings_of["whole"]
        == {**settings_of["whole"], "batch_size": 16, "lr": 0.004, "lr_decay": 0.8, "binarize": True}
    )
    untimed = [[{k: v for k, v in h.items() if k != "seconds"} for h in i.meta["history"]] for i in (w_info, p_info)]
    assert len(untimed[0]) == 4 and untimed[0] == untimed[1]
    assert all(torch.equal(a, b) for a, b in zip(whole.state_dict().values(), part.state_dict().values()))


def test_resume_refuses_a_new_architecture_and_a_taken_name_before_training(tmp_path, tiny_npz, capsys):
    models = str(tmp_path / "models")
    common = ["--dataset", str(tiny_npz), "--hidden", "16", "--epochs", "1", "--eval-iw-samples", "2", "--quiet"]
    assert main(["--models-dir", models, "train", "--name", "a", *common]) == 0
    assert main(["--models-dir", models, "train", "--name", "b", *common]) == 0
    capsys.readouterr()
    assert main(["--models-dir", models, "train", "--resume", "a", "--latent-dim", "3"]) == 2
    assert "keeps its own architecture" in capsys.readouterr().err
    for argv in (["--resume", "a", "--name", "b"], ["--name", "b", *common], ["--name", "default", *common]):
        assert main(["--models-dir", models, "train", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and "training" not in err  # refused before any training
    history_b = store.find("b", models).meta["history"]
    assert main(["--models-dir", models, "train", "--resume", "a", "--name", "a2", "--epochs", "1", "--quiet"]) == 0
    assert len(store.find("a2", models).meta["history"]) == 2 and len(store.find("a", models).meta["history"]) == 1
    assert store.find("b", models).meta["history"] == history_b


def test_ctrl_c_stops_after_the_step_and_saves_the_finished_epochs(tmp_path, tiny_npz):
    """A real SIGINT to a real `python -m vae train`, sent once the first epoch has finished."""
    import os
    import signal
    import time

    models = tmp_path / "models"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vae",
            "--models-dir",
            str(models),
            "train",
            "--dataset",
            str(tiny_npz),
            "--name",
            "stopped",
            "--epochs",
            "100000",
            "--hidden",
            "16",
            "--eval-iw-samples",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    seen, deadline = b"", time.monotonic() + 120
    while b"val_elbo" not in seen and time.monotonic() < deadline:  # tqdm's postfix after an epoch
        seen += os.read(proc.stderr.fileno(), 4096)
    proc.send_signal(signal.SIGINT)
    out, rest = proc.communicate(timeout=120)
    err = (seen + rest).decode()
    assert proc.returncode == 0 and b"saved" in out, err
    assert "stopping after this step" in err and "cancelled" in err
    info = store.find("stopped", models)
    assert 1 <= len(info.meta["history"]) < 100000 and info.meta["resumable"] is True


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--dataset", "nope", "--name", "x"], "unknown"),
        (["train", "--dataset", "mnist-5k", "--name", "bad/name", "--epochs", "0"], "epochs"),
        (["evaluate", "missing-model"], "no model"),
        (["delete", "default"], "bundled"),
    ],
)
def test_errors_are_one_line_and_exit_2(tmp_path, capsys, argv, message):
    assert main(["--models-dir", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and "Traceback" not in err


def test_module_entry_point_runs():
    done = subprocess.run([sys.executable, "-m", "vae", "data", "list"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "mnist-5k" in done.stdout


def test_importing_vae_does_not_import_streamlit():
    code = (
        "import importlib, pkgutil, sys, vae\n"
        "for m in pkgutil.walk_packages(vae.__path__, 'vae.'):\n"
        "    importlib.import_module(m.name)\n"
        "print('streamlit' in sys.modules, 'ui' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False False", done.stderr
