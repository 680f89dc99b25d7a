"""A server stopped while it trains: on the next start the store holds only whole models, the job
is reported as interrupted, and its last finished epoch is saved (resumable). The "server" is a
real process that starts jobs through vae.training.jobs and is killed with SIGKILL."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from ui import resources
from vae.store import catalog as store
from vae.training import jobs, recovery

ROOT = Path(__file__).resolve().parents[2]
SERVER = """
import sys, time, torch
from vae.training import jobs
from vae.models.config import ModelConfig, TrainConfig
x = torch.rand(4000, 1, 8, 8, generator=torch.Generator().manual_seed(0))
mc = ModelConfig(image_shape=(1, 8, 8), hidden=(32,))
cut = jobs.start("cut", mc, TrainConfig(epochs=100000, batch_size=64), x[:1800], x[1800:2000], x[1800:2000])
early = jobs.start("early", mc, TrainConfig(epochs=5, batch_size=1), x, None, None)  # a very long epoch
while len(cut.history) < 2 or early.state != "running":
    time.sleep(0.02)
print(cut.pid, early.pid, len(early.history), flush=True)
time.sleep(600)
"""


def _gone(pid: int, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while recovery._alive(pid, None) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not recovery._alive(pid, None)


def _serve_and_kill(models: Path, whole_group: bool) -> tuple[int, int]:
    env = {**os.environ, "VAE_MODELS_DIR": str(models), "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        cut, early, early_epochs = map(int, server.stdout.readline().split())
        assert early_epochs == 0
    finally:
        if whole_group:  # server, fork server and training processes at once: nobody can tidy up
            os.killpg(server.pid, signal.SIGKILL)
        else:
            server.kill()
        server.wait(30)
    assert _gone(cut) and _gone(early)  # the training processes end with their server
    return cut, early


def _check_store(models: Path, found: dict, whole_group: bool) -> None:
    cut, early = found["cut"], found["early"]
    assert cut.state == early.state == "interrupted"
    assert "nothing was saved" in early.error and not (models / "early").exists()
    model, info = store.load("cut", models)
    # killed alone, the server's training process saves its last epoch itself; killed with it, the
    # last checkpoint (at most CHECKPOINT_EVERY seconds old, the first epoch's always) is what is left
    assert len(info.meta["history"]) == len(cut.history) >= (1 if whole_group else 2)
    assert "interrupted" in info.meta["train_config"]["extra"] and "--resume cut" in cut.message
    assert store.load_training_state("cut", models) is not None  # `python -m vae train --resume cut`
    assert not any((models / recovery.JOBS).iterdir())
    assert jobs.recover(models) == {}  # reported once


def test_a_killed_process_group_leaves_whole_models_and_interrupted_jobs(tmp_path):
    models = tmp_path / "models"
    _serve_and_kill(models, whole_group=True)
    assert [m.name for m in store.list_models(models) if not m.bundled] == []  # nothing half-made shows
    _check_store(models, jobs.recover(models), whole_group=True)  # what the next server start does


def test_after_a_killed_server_the_app_reports_interrupted_jobs_and_offers_the_saved_one(tmp_path, monkeypatch):
    models = tmp_path / "models"
    _serve_and_kill(models, whole_group=False)
    assert [m.name for m in store.list_models(models) if not m.bundled] == []
    monkeypatch.setenv("VAE_MODELS_DIR", str(models))
    resources.training_jobs.clear()  # a fresh server
    resources.model_list.clear()
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
        assert "cut" in at.sidebar.selectbox(key="_model_name").options  # on the first page anyone opens
        at.switch_page("pages/train.py").run()
        assert not at.exception
        table = at.dataframe[0].value
        assert dict(zip(table["model"], table["state"])) == {"cut": "interrupted", "early": "interrupted"}
        at.selectbox(key="tr_shown").set_value("cut").run()
        assert any("Interrupted" in w.value and "is saved as cut" in w.value for w in at.warning)
        _check_store(models, resources.training_jobs(), whole_group=False)
    finally:
        resources.training_jobs.clear()
