"""Background training jobs and the helpers that prepare a run (uploads, splits, names, configs)."""

import io
import os
import re
import time

import numpy as np
import pytest
import torch

from vae.data import datasets as data
from vae.models.config import ConfigError, ModelConfig, TrainConfig
from vae.models.registry import build
from vae.store import catalog as store
from vae.training import intake, jobs

MC = ModelConfig(image_shape=(1, 8, 8), hidden=(32,), latent_dim=2)


def _start(name, x, epochs=2, **kw):
    tc = TrainConfig(epochs=epochs, batch_size=32, lr=3e-3)
    return jobs.start(name, MC, tc, x[:200], x[200:], x[200:], dataset={"name": "blobs"}, iw_samples=5, **kw)


def test_a_finished_job_is_in_the_store_with_history_and_metrics(blobs):
    x, labels = blobs
    job = _start("j-done", x, preview_labels=labels[200:])
    assert job.wait(60) and job.state == "done", job.error
    model, info = store.load("j-done")
    assert [h["epoch"] for h in info.meta["history"]] == [1, 2]
    m = info.metrics
    assert m["iw_samples"] == 5 and m["iw_log_likelihood"] >= m["elbo"] - 1 and m["binarized"] is False
    assert m["samples_per_second"] > 0 and info.dataset == "blobs"
    assert job.saved.name == "j-done" and job.outcome == "completed" and job.fraction == 1.0
    assert info.meta["resumable"] and store.load_training_state("j-done") is not None  # the CLI can go on
    assert job.summary()["epochs"] == "2/2" and job.summary()["state"] == "done"
    assert job.preview_latents().shape == (56, 2) and len(job.preview_labels) == 56
    snap = job.snapshot_model().state_dict()
    assert all(torch.equal(snap[k], v) for k, v in model.state_dict().items())  # best = last epoch here


def test_stop_keeps_the_best_weights_so_far(blobs):
    x, _ = blobs
    job = _start("j-stop", x, epochs=10_000)
    deadline = time.time() + 30
    while not job.history and time.time() < deadline:
        time.sleep(0.01)
    job.stop()
    assert job.wait(60) and job.state == "done", job.error
    assert job.outcome == "cancelled"
    _, info = store.load("j-stop")
    assert 1 <= len(info.meta["history"]) < 10_000
    assert info.metrics["elbo"] < 0


@pytest.mark.parametrize(
    "name, error", [("bad name!", "not allowed"), ("default", "bundled"), ("taken", "already exists")]
)
def test_bad_or_existing_names_are_refused_at_start(blobs, name, error):
    x, _ = blobs
    store.save(build(MC, seed=0), "taken")
    with pytest.raises(store.StoreError, match=error):
        _start(name, x)


def test_a_running_name_is_refused_by_the_registry(blobs):
    x, _ = blobs
    registry = {}
    job = _start("j-reg", x, epochs=10_000, registry=registry)
    try:
        assert registry == {"j-reg": job}
        with pytest.raises(store.StoreError, match="being trained"):
            _start("j-reg", x, registry=registry)
    finally:
        job.stop()
        job.wait(60)


def test_wrong_shape_is_refused_at_start():
    with pytest.raises(ValueError, match="expects"):
        _start("j-shape", torch.rand(300, 1, 28, 28))


def test_an_error_in_the_training_process_marks_the_job_failed(blobs):
    job = _start("j-fail", blobs[0])
    store.save(build(MC, seed=1), "j-fail")  # the name is taken while it trains (the CLI, say)
    assert job.wait(60) and job.state == "failed" and "already exists" in job.error
    assert store.find("j-fail").meta["history"] == []  # the other model is untouched
    assert job.pid != os.getpid()  # it trained in a process of its own


def test_split_data_holds_out_a_seeded_tenth_with_labels():
    ds = data.load_dataset("digits", "train")
    test = data.load_dataset("digits", "test")
    td = intake.split_data(ds, test, seed=7)
    assert len(td.val) == round(len(ds) * 0.1) and len(td.train) + len(td.val) == len(ds)
    again = intake.split_data(ds, test, seed=7)
    assert torch.equal(td.val, again.val) and not torch.equal(td.val, intake.split_data(ds, test, seed=8).val)
    first = int(np.flatnonzero((ds.images == td.val[0].numpy()).all(axis=(1, 2, 3)))[0])
    assert td.val_labels[0] == ds.labels[first]
    assert td.dataset == {"name": "digits", "shape": [1, 8, 8], "class_names": ds.class_names}
    assert "path" in intake.split_data(ds, test, name="x.npz", path="/p/x.npz").dataset


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_save_upload_keeps_the_file_by_content_and_reloads(tmp_path):
    x = (np.random.default_rng(0).random((50, 8, 8)) * 255).astype(np.uint8)
    content = _npz(x=x, y=np.arange(50) % 5)
    path, train, test = intake.save_upload(content, "my data.npz", tmp_path)
    assert path.parent == tmp_path / "uploads" and re.fullmatch(r"[0-9a-f]{12}\.npz", path.name)
    assert len(train) + len(test) == 50 and train.shape == (1, 8, 8) and train.class_names == list("01234")
    again, _ = data.load_splits(path)  # what resources.dataset(path, "train") does later
    assert np.array_equal(again.images, train.images)
    assert intake.save_upload(content, "copy.npz", tmp_path)[0] == path


@pytest.mark.parametrize(
    "filename, content, error",
    [
        ("broken.npz", b"PK\x03\x04 not really a zip", "could not read|zip"),
        ("empty.zip", b"PK\x05\x06" + bytes(18), "empty"),  # a valid zip with no files
        ("notes.txt", b"hello", "upload a .zip"),
    ],
)
def test_save_upload_refuses_bad_files_and_keeps_nothing(tmp_path, filename, content, error):
    with pytest.raises(data.DataError, match=error):
        intake.save_upload(content, filename, tmp_path)
    assert not any((tmp_path / "uploads").glob("*"))


def test_parse_hidden_and_model_config_errors():
    assert intake.parse_hidden("512, 256") == (512, 256) and intake.parse_hidden("64") == (64,)
    for bad in ("", "a, b", "0", "-3"):
        with pytest.raises(ConfigError):
            intake.parse_hidden(bad)
    assert intake.model_config((1, 8, 8), arch="conv", latent_dim=3).image_shape == (1, 8, 8)
    for shape in ((4, 28, 28), (1, 2, 2)):
        with pytest.raises(ConfigError, match="this data has images of shape"):
            intake.model_config(shape, arch="conv")
    with pytest.raises(ConfigError, match="latent_dim"):  # past VAE_LATENT (512): an imported VanillaVAE has 128
        intake.model_config((1, 8, 8), latent_dim=513)


def test_auto_name_is_a_valid_fresh_name():
    name = intake.auto_name("mnist-5k", 2, when=0)
    assert re.fullmatch(r"mnist-5k-2d-\d{6}", name)
    assert store.check_name(intake.auto_name("my data (v2).npz", 10)).startswith("my-data-v2-10d-")
    assert store.check_name(intake.auto_name("…", 2)).startswith("data-2d-")
