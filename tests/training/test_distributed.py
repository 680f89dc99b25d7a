"""Training under torchrun: two CPU processes over loopback gloo against one, resuming across world
sizes, a killed rank; and, in-process, that the sharded arithmetic is the one-process arithmetic."""

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from vae.cli.main import main
from vae.models.config import ModelConfig, TrainConfig
from vae.store import catalog as store
from vae.training import distributed
from vae.training import loop as training
from vae.training.loop import fit

ROOT = Path(__file__).resolve().parents[2]
# 2 processes do 1 process's arithmetic (same global batches, same noise, per-shard sums scaled to
# the global mean), so results differ only by the order of float32 sums: measured here at most
# 4e-6 nats after these 3 epochs. 0.01 nats is far below any difference a real bug makes (a changed batch or noise
# moves these numbers by tenths of a nat or more).
TOL = 0.01
SETTINGS = [
    "--hidden",
    "16",
    "--batch-size",
    "25",
    "--binarize",
    "--lr",
    "0.003",
    "--warmup",
    "1",
    "--eval-iw-samples",
    "5",
    "--quiet",
]


@pytest.fixture
def images_npz(tmp_path):
    """400 8x8 images of two classes as a user's .npz (batches of 25 split 13/12 over two ranks)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 0.2, (400, 8, 8)).astype(np.float32)
    y = np.arange(400) % 2
    x[y == 0, :4] += 0.7
    x[y == 1, 4:] += 0.7
    path = tmp_path / "images.npz"
    np.savez(path, x=np.clip(x, 0, 1), y=y)
    return path


def _torchrun(models, *argv, nproc=2, **popen):
    """python -m vae train ... under torchrun (a free port on localhost), from the repository root."""
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        str(nproc),
        "-m",
        "vae",
        "--models-dir",
        str(models),
        "train",
        *argv,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    if popen:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, text=True, **popen)
    return subprocess.run(cmd, cwd=ROOT, env=env, text=True, capture_output=True, timeout=300)


def _close(meta_a: dict, meta_b: dict) -> None:
    for key in ("elbo", "reconstruction", "kl", "iw_log_likelihood"):
        assert meta_a["metrics"][key] == pytest.approx(meta_b["metrics"][key], abs=TOL), key
    assert [h["epoch"] for h in meta_a["history"]] == [h["epoch"] for h in meta_b["history"]]
    for ha, hb in zip(meta_a["history"], meta_b["history"]):
        for key in ("train_elbo", "val_elbo", "val_kl", "lr"):
            assert ha[key] == pytest.approx(hb[key], abs=TOL), (ha["epoch"], key)


def test_two_processes_reach_the_one_process_result_and_save_a_plain_model(tmp_path, images_npz):
    models = tmp_path / "models"
    common = ["--dataset", str(images_npz), "--epochs", "3", *SETTINGS]
    assert main(["--models-dir", str(models), "train", "--name", "one", *common]) == 0
    run = _torchrun(models, "--name", "two", *common)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "on 2 processes (cpu)" in run.stderr
    assert run.stdout.count("saved ") == 1  # rank 0 alone reports and writes
    _close(store.find("one", models).meta, store.find("two", models).meta)
    model, _ = store.load("two", models)  # in this plain process: no DDP, no "module." prefixes
    assert not any(k.startswith("module.") for k in model.state_dict())
    assert model.decode(torch.zeros(3, 2)).shape == (3, 1, 8, 8)


def test_resume_across_world_sizes_continues_the_run(tmp_path, images_npz):
    """1 epoch on 2 processes, 1 more on 1 process, 1 more on 2 again = 3 epochs on 1 process."""
    models = tmp_path / "models"
    assert (
        main(
            [
                "--models-dir",
                str(models),
                "train",
                "--dataset",
                str(images_npz),
                "--name",
                "whole",
                "--epochs",
                "3",
                *SETTINGS,
            ]
        )
        == 0
    )
    run = _torchrun(models, "--dataset", str(images_npz), "--name", "part", "--epochs", "1", *SETTINGS)
    assert run.returncode == 0, run.stderr[-3000:]
    assert store.find("part", models).meta["resumable"] is True
    assert main(["--models-dir", str(models), "train", "--resume", "part", "--epochs", "1", "--quiet"]) == 0
    run = _torchrun(models, "--resume", "part", "--epochs", "1", "--quiet")
    assert run.returncode == 0, run.stderr[-3000:]
    _close(store.find("whole", models).meta, store.find("part", models).meta)
    whole, part = store.load("whole", models)[0], store.load("part", models)[0]
    for a, b in zip(whole.state_dict().values(), part.state_dict().values()):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def _workers(pid: int) -> dict[int, int]:
    """{rank: pid} of the training processes below pid (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            ppid = int(re.search(r"^PPid:\s*(\d+)", status, re.M).group(1))
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = {}, [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            todo.append(child)
            try:
                env = dict(
                    v.split("=", 1)
                    for v in (Path("/proc") / str(child) / "environ").read_text().split("\0")
                    if "=" in v
                )
            except OSError:
                continue
            if "RANK" in env and "LOCAL_RANK" in env:
                found[int(env["RANK"])] = child
    return found


def test_a_killed_rank_ends_the_job_and_leaves_the_store_intact(tmp_path, images_npz):
    models = tmp_path / "models"
    assert (
        main(
            [
                "--models-dir",
                str(models),
                "train",
                "--dataset",
                str(images_npz),
                "--name",
                "kept",
                "--epochs",
                "1",
                *SETTINGS,
            ]
        )
        == 0
    )
    before = {p.name: p.read_bytes() for p in (models / "kept").iterdir()}
    # a long run (2-example batches, many epochs) with rank 0's progress bar on stderr
    proc = _torchrun(
        models,
        "--resume",
        "kept",
        "--epochs",
        "100",
        "--batch-size",
        "2",
        "--eval-iw-samples",
        "2",
        stderr=subprocess.PIPE,
    )
    err: list[str] = []
    stepping = threading.Event()

    def read():
        for chunk in iter(lambda: proc.stderr.read(64), ""):
            err.append(chunk)
            if re.search(r"\|\s*[1-9]\d*/\d+ \[", "".join(err)[-400:]):
                stepping.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert stepping.wait(180), "".join(err)[-3000:]  # training is under way
        workers = _workers(proc.pid)
        assert set(workers) == {0, 1}
        os.kill(workers[1], signal.SIGKILL)
        assert proc.wait(120) != 0
    finally:
        if proc.poll() is None:
            for pid in _workers(proc.pid).values():
                os.kill(pid, signal.SIGKILL)
            proc.kill()
    reader.join(10)
    text = "".join(err)
    assert re.search(r"rank\s*:\s*1 \(local_rank: 1\)\s*exitcode\s*:\s*-9", text), text[-3000:]
    assert "error: rank 0 of 2 stopped" in text and "nothing was saved" in text
    assert [p.name for p in models.iterdir()] == ["kept"]  # no half-written model, no temporary folder
    assert {p.name: p.read_bytes() for p in (models / "kept").iterdir()} == before


# --- in-process: the sharded arithmetic against the one-process functions ------------------------


@pytest.mark.parametrize("n,world", [(25, 2), (1, 2), (7, 3), (100, 4)])
def test_shards_cover_a_batch_once_in_order(n, world):
    rows = [distributed.Group(rank, world).shard(n) for rank in range(world)]
    assert [i for s in rows for i in range(n)[s]] == list(range(n))
    assert max(s.stop - s.start for s in rows) - min(s.stop - s.start for s in rows) <= 1


@pytest.mark.parametrize("likelihood,k", [("bernoulli", 1), ("bernoulli", 3), ("gaussian", 1)])
def test_one_rank_group_trains_and_scores_exactly_like_the_plain_path(likelihood, k):
    """The group path draws the noise itself (the whole batch's, then its rows): with one rank it
    must be the plain path's arithmetic, or N ranks would not be either."""
    x = torch.rand(150, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    mc = ModelConfig(image_shape=(1, 8, 8), latent_dim=2, hidden=(16,), likelihood=likelihood)
    tc = TrainConfig(epochs=2, batch_size=32, seed=3, binarize=likelihood == "bernoulli", iw_samples=k, warmup_epochs=1)
    plain, grouped = fit(mc, tc, x[:120], x[120:]), fit(mc, tc, x[:120], x[120:], group=distributed.Group())
    assert [h["val_elbo"] for h in plain.history] == pytest.approx([h["val_elbo"] for h in grouped.history], abs=1e-4)
    for a, b in zip(plain.model.state_dict().values(), grouped.model.state_dict().values()):
        torch.testing.assert_close(a, b)
    a = training.test_metrics(plain, x[120:], tc.binarize, 7)
    b = training.test_metrics(plain, x[120:], tc.binarize, 7, group=distributed.Group())
    for key in ("elbo", "iw_log_likelihood", "active_units", "kl_per_dim"):
        assert a[key] == pytest.approx(b[key], abs=1e-4), key


def test_device_is_checked_before_training(tmp_path, images_npz, capsys):
    assert (
        main(["--models-dir", str(tmp_path), "train", "--dataset", str(images_npz), "--name", "x", "--device", "tpu"])
        == 2
    )
    assert "expected cpu, cuda or cuda:N" in capsys.readouterr().err
