"""Hostile input and the store under killed and racing writers: how many cases were tried per input
path and how each ended, and what the store's kill-at-every-line runs found.

Run: python -m bench hostile (about a minute on 2 cores).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import corpus  # noqa: E402  (tests/corpus.py: the hostile-input corpus the tests write)
import test_store_crash as crash  # noqa: E402  (the fork-and-SIGKILL harness)

from bench.common import record  # noqa: E402
from vae import limits
from vae.data import datasets as data  # noqa: E402
from vae.data import pictures
from vae.models.config import ModelConfig  # noqa: E402
from vae.models.registry import build  # noqa: E402
from vae.store import catalog as store
from vae.store import storage


def _try(case, tmp: Path) -> str:
    saved = {k: getattr(limits, k) for k in case.limits}
    for k, v in case.limits.items():
        setattr(limits, k, v)
    try:
        if case.path == "picture":
            pictures.prepare(case.make())
        elif case.path in ("zip", "array"):
            data.load_user_data(case.make())
        else:
            case.make(tmp / "m")
            store.load("m", tmp)
        return "accepted"
    except Exception as e:  # noqa: BLE001  (counted: the wrong type is a finding, not a crash)
        return type(e).__name__
    finally:
        for k, v in saved.items():
            setattr(limits, k, v)


def corpus_rows() -> list[dict]:
    rows = []
    for path, label in corpus.PATHS.items():
        cases = [c for c in corpus.CASES if c.path == path]
        outcomes = []
        for case in cases:
            with tempfile.TemporaryDirectory() as tmp:
                outcomes.append((_try(case, Path(tmp)), case.error.__name__ if case.error else "accepted"))
        right = sum(got == want for got, want in outcomes)
        refused = sum(want != "accepted" for _, want in outcomes)
        rows.append(
            {
                "what": f"hostile inputs tried: {label}",
                "value": len(cases),
                "unit": "cases",
                "note": f"{right}/{len(cases)} ended as specified: {refused} refused with "
                f"{outcomes[0][1] if refused else '-'}, {len(cases) - refused} odd but valid read "
                f"correctly; payload ran: {corpus.MARKER.exists()}",
            }
        )
    return rows


def _kills(label: str, existing: bool, action, native: bool) -> dict:
    seen = {"old": 0, "new": 0, "none": 0}

    def check(root, finished, recovered):
        if recovered:
            got = crash._version("m", root)
            seen[{1.0: "old", 2.0: "new", None: "none"}[got]] += 1
            assert got is not None or not existing, "an overwrite lost the model"

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        lines = crash._kill_everywhere(Path(tmp), existing, action, check, native)
        wall = time.perf_counter() - t
    return {
        "what": f"store: SIGKILL at every line of {label}",
        "value": lines,
        "unit": "kill points",
        "note": f"after recovery: {seen['old']} old version, {seen['new']} new, {seen['none']} none; "
        f"0 half-written or mixed; {1000 * wall / (lines + 1):.0f} ms per kill and check",
    }


def store_rows() -> list[dict]:
    storage.DURABLE = False  # killed processes, not machines: fsync only slows the loop down
    save = lambda r: crash._save(r, 2.0)  # noqa: E731
    over = lambda r: crash._save(r, 2.0, overwrite=True)  # noqa: E731
    rows = [
        _kills("an overwrite (renameat2 exchange)", True, over, True),
        _kills("an overwrite (portable: rename aside, restored on start)", True, over, False),
        _kills("a new save (renameat2 no-replace)", False, save, True),
        _kills("a new save (portable: mkdir claim)", False, save, False),
    ]
    storage.DURABLE = True
    model = build(ModelConfig(hidden=(512,)), seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        for durable in (True, False):
            storage.DURABLE = durable
            times = []
            for _ in range(5):
                t = time.perf_counter()
                store.save(model, "m", tmp, overwrite=True)
                times.append(time.perf_counter() - t)
            rows.append(
                {
                    "what": f"overwrite of a 784-512-2 model (1.6 MB), {'with' if durable else 'without'} fsync",
                    "value": round(1000 * sorted(times)[2], 1),
                    "unit": "ms",
                    "note": "median of 5",
                }
            )
    storage.DURABLE = True
    return rows


def main() -> None:
    rows = corpus_rows() + store_rows()
    record(
        "hostile",
        rows,
        "Every case of tests/corpus.py (written by code: broken and hostile pictures, .zip datasets, "
        ".npy/.npz files, model folders) run through the API (pictures.prepare, data.load_user_data, "
        "store.load) and counted by how it ended. The store rows fork a child per line N that runs the "
        "save, SIGKILLed by a sys.settrace hook at the Nth executed line of the store's writing code, "
        "for every N until the save completes; after each kill store.recover() runs and the model is "
        "loaded (it must be the old or the new version whole). fsync is off for the kill loop and "
        "measured separately on a real save.",
    )


if __name__ == "__main__":
    main()
