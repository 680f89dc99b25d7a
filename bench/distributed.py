"""Training on 1 and 2 processes (torchrun, gloo over loopback) on this machine's CPU cores.

Every run is a fresh process (`python -m bench.distributed`, or the same under `torchrun --standalone
--nproc_per_node 2`) that trains the 784-512-2 MLP VAE with vae.training.fit on the mnist-5k training
split (4000 images, no validation) for EPOCHS epochs, and reports fit's own samples/s (the training
epochs only: no start-up, no evaluation; for 2 processes, the global batch's samples). One process
runs the plain path with 1 and with 2 torch threads; 2 processes run one thread each. In the 2-process
runs, the communication share of a step is timed where it happens: DDP's gradient all-reduce through a
comm hook (from the moment a bucket of gradients is handed to gloo to the moment its average comes
back, so waiting for the slower rank counts as communication; the time covered by any bucket's
all-reduce, so overlap with the rest of the backward pass counts too: an upper bound on the exposed
communication) plus every other collective of the step
(the batch statistics and the stop agreement), divided by the training time. The configurations run
interleaved, ROUNDS times, and the median (with the range) is reported.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EPOCHS = 8
ROUNDS = 3
BATCHES = (128, 512)


def _worker(batch: int) -> None:
    """One run (under torchrun: one rank); rank 0 prints its numbers as one JSON line."""
    import torch
    import torch.distributed as dist

    from vae.data import datasets as data
    from vae.models.config import ModelConfig, TrainConfig
    from vae.training import distributed
    from vae.training.intake import split_data
    from vae.training.loop import fit

    timed, spans = {"reduce": 0.0}, []  # spans: (start, end) of each gradient bucket's all-reduce

    class TimedGroup(distributed.Group):
        def attach(self, model):
            super().attach(model)

            def hook(state, bucket):
                t0 = time.perf_counter()
                fut = dist.all_reduce(bucket.buffer().div_(self.world_size), async_op=True).get_future()

                def done(f):
                    spans.append((t0, time.perf_counter()))
                    return f.value()[0]

                return fut.then(done)

            self._step.register_comm_hook(None, hook)

        def reduce(self, t, op=None):
            t0 = time.perf_counter()
            out = super().reduce(t, op)
            timed["reduce"] += time.perf_counter() - t0
            return out

    train, test = data.load_splits("mnist-5k")
    split = split_data(train, test, seed=0, val_fraction=0)
    tc = TrainConfig(epochs=EPOCHS, batch_size=batch, lr=2e-3, seed=0)
    with distributed.session("cpu") as plain:
        group = None if plain is None else TimedGroup(plain.rank, plain.world_size, plain.device)
        result = fit(ModelConfig(), tc, split.train, group=group)
        seconds = EPOCHS * len(split.train) / result.samples_per_second
        timed["allreduce"] = _union(spans)
        if group is None or group.is_main:
            print(
                "RESULT "
                + json.dumps(
                    {"sps": result.samples_per_second, "seconds": seconds, "threads": torch.get_num_threads(), **timed}
                ),
                flush=True,
            )


def _union(spans: list[tuple[float, float]]) -> float:
    """Seconds covered by the spans (the buckets' all-reduces overlap each other and the backward)."""
    total, end = 0.0, -float("inf")
    for a, b in sorted(spans):
        if b > end:
            total += b - max(a, end)
            end = b
    return total


def _run(procs: int, threads: int, batch: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    worker = ["-m", "bench.distributed", "--worker", str(batch)]
    cmd = [
        sys.executable,
        *(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs)] if procs > 1 else []),
        *worker,
    ]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    found = re.search(r"^RESULT (.*)$", out.stdout, re.M)
    if out.returncode or not found:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    return json.loads(found.group(1))


def main() -> dict:
    from .common import record

    configs = [(procs, threads, batch) for batch in BATCHES for procs, threads in ((1, 1), (1, 2), (2, 1))]
    runs, load = {c: [] for c in configs}, [os.getloadavg()[0]]
    for _ in range(ROUNDS):
        for c in configs:
            runs[c].append(_run(*c))
            print(
                f"  {c[0]} process(es) x {c[1]} thread(s), batch {c[2]}: {runs[c][-1]['sps']:.0f} samples/s", flush=True
            )
    load.append(os.getloadavg()[0])
    rows = [
        {
            "what": "machine load during the runs",
            "value": f"{load[0]:.1f} -> {load[1]:.1f}",
            "unit": "",
            "note": f"1-minute load average at the start and the end, on {os.cpu_count()} cores: above the "
            "core count, other work shares the cores and every number below is low and noisy (2 threads "
            "in one process suffer most: each parallel region waits for a descheduled thread)",
        }
    ]
    for batch in BATCHES:
        base = statistics.median(r["sps"] for r in runs[(1, 1, batch)])
        for procs, threads in ((1, 1), (1, 2), (2, 1)):
            rs = runs[(procs, threads, batch)]
            sps = [r["sps"] for r in rs]
            note = (
                f"median of {ROUNDS} (range {min(sps):.0f}-{max(sps):.0f}); {statistics.median(sps) / base:.2f}x "
                "1 process on 1 thread"
            )
            if procs > 1:
                grad = statistics.median(r["allreduce"] / r["seconds"] for r in rs)
                other = statistics.median(r["reduce"] / r["seconds"] for r in rs)
                note += (
                    f"; communication {grad + other:.0%} of the training time (gradient all-reduce "
                    f"{grad:.0%}, batch statistics and stop agreement {other:.0%})"
                )
            rows.append(
                {
                    "what": f"global batch {batch}: {procs} process{'es' * (procs > 1)} x {threads} "
                    f"thread{'s' * (threads > 1)}",
                    "value": round(statistics.median(sps)),
                    "unit": "samples/s",
                    "note": note,
                }
            )
    rows.append(
        {
            "what": "1 GPU, full-MNIST recipe (docs/benchmarks.md)",
            "value": "",
            "unit": "",
            "note": "not measured: no GPU was lent to this work; the row stays empty until one is",
        }
    )
    method = " ".join(__doc__.strip().split("\n\n", 1)[1].split()) + (
        " On 2 cores, 2 processes can at best match 1 process on 2 threads: the same cores do the same "
        "arithmetic, and the processes add the all-reduce, the per-rank copy of each epoch's data "
        "preparation and Python's per-step overhead twice. What 2 processes show here is that the "
        "machinery works and what it costs; the gain comes from more machines or GPUs."
    )
    return record(
        "distributed",
        rows,
        method,
        epochs=EPOCHS,
        rounds=ROUNDS,
        runs={f"{p}x{t}@{b}": runs[(p, t, b)] for p, t, b in configs},
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        _worker(int(sys.argv[2]))
    else:
        main()
