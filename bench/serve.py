"""Many users and training in one server: do explorers and training jobs starve each other?

One process plays the server: 10 AppTest sessions of app.py in threads (tests/apptest_threads.py
lets AppTest runs share one runtime, as a real server's sessions do), each on the Playground with the
bundled 784-512-2 model, each moving z1 8 times (set_value + rerun, after 2 warm-up moves), timed
per rerun. The training jobs are the app's own (vae.training.jobs.start: a process each, one torch thread),
784-512-2 Bernoulli on 3,600 mnist-5k training images, batch 128; samples/s is 3,600 / an epoch's
seconds, over the epochs that overlapped the explorers' window (alone: epochs 2-4). Phases:
explorers alone; two trainings alone; both together; and, for comparison, the same training run
the way it ran before (vae.training.fit in a thread of the server process) with the explorers.
Peak memory is VmHWM of the server process and of each training process.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from .common import percentiles, record

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
SESSIONS, MOVES, JOBS = 10, 8, 2


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def explorers(n: int = SESSIONS, moves: int = MOVES) -> list[float]:
    """Milliseconds per Playground rerun, all sessions together."""
    from streamlit.testing.v1 import AppTest

    times, errors = [], []

    def session(i: int) -> None:
        try:
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
            at.switch_page("pages/playground.py").run()
            for k in range(moves + 2):
                t = time.perf_counter()
                at.slider(key="pg_default_0").set_value(round(-3 + 0.3 * i + 0.05 * k, 2)).run()
                if k >= 2:
                    times.append((time.perf_counter() - t) * 1000)
            assert not at.exception, [e.value for e in at.exception]
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=session, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError("; ".join(errors))
    return times


def trainings(tag: str, epochs: int):
    from ui import resources
    from vae.data import datasets as data
    from vae.models.config import ModelConfig, TrainConfig
    from vae.training import intake, jobs

    ds, test = data.load_dataset("mnist-5k", "train"), data.load_dataset("mnist-5k", "test")
    td = intake.split_data(ds, test, seed=0, val_fraction=0.1)
    td.train = td.train[:3600]
    return [
        jobs.start(
            f"bench-{tag}-{k}",
            ModelConfig(),
            TrainConfig(epochs=epochs, batch_size=128, seed=k),
            td.train,
            td.val,
            td.test[:200],
            iw_samples=2,
            registry=resources.training_jobs(),
        )
        for k in range(JOBS)
    ]


def main() -> None:
    import os

    import apptest_threads
    import torch

    torch.set_num_threads(1)
    os.environ["VAE_MODELS_DIR"] = tempfile.mkdtemp(prefix="bench-serve-")
    with apptest_threads.shared_runtime():
        explorers(2, 1)  # warm the caches (model, encoded test split, KL order)
        alone = explorers()
        solo = trainings("alone", epochs=4)
        for j in solo:
            j.wait()
        solo_rates = [r for j in solo for r in (3600 / h["seconds"] for h in j.history[1:])]
        busy = trainings("busy", epochs=10_000)
        while not all(len(j.history) >= 1 for j in busy):
            time.sleep(0.1)
        t0 = time.time()
        together = explorers()
        t1 = time.time()
        while not all(any(e >= t1 for e in j.epoch_ended) for j in busy):
            time.sleep(0.1)  # one more epoch: the last one overlapping the explorers' window
        busy_rates = [r for j in busy for r in _overlapping(j, t0, t1)]
        child_mb = [_vm_hwm_mb(j.pid) for j in busy]
        for j in busy:
            j.stop()
        for j in busy:
            j.wait()
        thread_rates = in_a_thread()
    server_mb = _vm_hwm_mb(os.getpid())
    a, b = percentiles(alone), percentiles(together)
    med = statistics.median
    rows = [
        {
            "what": f"sessions served at once, with {JOBS} trainings running",
            "value": SESSIONS,
            "unit": "sessions",
            "note": f"{SESSIONS * MOVES} timed reruns each phase, no errors; machine "
            f"load average {os.getloadavg()[0]:.0f} at the end (2 cores)",
        },
        {
            "what": "explorers' Playground rerun, alone",
            "value": f"{a['p50']:.0f} / {a['p95']:.0f}",
            "unit": "ms p50 / p95",
            "note": f"{SESSIONS} sessions in threads",
        },
        {
            "what": f"explorers' Playground rerun, with {JOBS} trainings",
            "value": f"{b['p50']:.0f} / {b['p95']:.0f}",
            "unit": "ms p50 / p95",
            "note": f"each training in its own process; {len(together)} reruns",
        },
        {
            "what": "training samples/s per job, alone",
            "value": f"{med(solo_rates):,.0f}",
            "unit": "samples/s",
            "note": f"median of epochs 2-4 of {JOBS} jobs running together",
        },
        {
            "what": f"training samples/s per job, with {SESSIONS} explorers",
            "value": f"{med(busy_rates):,.0f}",
            "unit": "samples/s",
            "note": f"median of {len(busy_rates)} epochs overlapping the explorers "
            f"(range {min(busy_rates):,.0f}-{max(busy_rates):,.0f})",
        },
        {
            "what": f"training samples/s in a thread of the server (before), with {SESSIONS} explorers",
            "value": f"{med(thread_rates):,.0f}",
            "unit": "samples/s",
            "note": "steps taken while the explorers ran x 128 / that time; "
            "sessions and job share one interpreter lock",
        },
        {
            "what": "peak memory: server process",
            "value": f"{server_mb:.0f}",
            "unit": "MB",
            "note": "VmHWM, sessions and caches (trainings run elsewhere)",
        },
        {
            "what": "peak memory: each training process",
            "value": " / ".join(f"{m:.0f}" for m in child_mb),
            "unit": "MB",
            "note": "VmHWM, forked from the fork server (pages shared with it)",
        },
    ]
    record(
        "serve",
        rows,
        __doc__.split("\n\n", 1)[1].replace("\n", " ").strip(),
        command="python -m bench serve",
        load=os.getloadavg(),
    )


def in_a_thread() -> list[float]:
    """Samples/s of one training run by fit in a thread of this process (how jobs ran before they
    had processes) while the explorers rerun: samples of the steps taken in that window / its length."""
    import torch

    from vae.data import datasets as data
    from vae.models.config import ModelConfig, TrainConfig
    from vae.training.loop import fit

    x = torch.from_numpy(data.load_dataset("mnist-5k", "train").images[:3600])
    steps, done, window = [0], threading.Event(), {}

    def on_progress(p):
        if p.event == "step" and "t0" in window and "t1" not in window:
            steps[0] += 1
        return done.is_set()

    t = threading.Thread(
        target=fit,
        args=(ModelConfig(), TrainConfig(epochs=10_000, batch_size=128), x),
        kwargs={"callback": on_progress},
    )
    t.start()
    time.sleep(2)  # past its start-up
    window["t0"] = time.time()
    explorers()
    window["t1"] = time.time()
    done.set()
    t.join()
    return [steps[0] * 128 / (window["t1"] - window["t0"])]


def _overlapping(job, t0: float, t1: float) -> list[float]:
    """Samples/s of the epochs that overlapped [t0, t1] (by their end time minus their length)."""
    return [
        3600 / h["seconds"] for h, end in zip(job.history, job.epoch_ended) if end >= t0 and end - h["seconds"] <= t1
    ]


if __name__ == "__main__":
    main()
