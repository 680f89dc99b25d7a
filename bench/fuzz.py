"""Fuzzing every input path at scale: python -m bench fuzz [--cases N] (N per path, default 10,000).

The loop is tests/fuzzing.py's (seeded mutations of valid files made there); tests/test_fuzz.py runs
400 per path in CI. Each finding prints with its mutation; a new one becomes a file in
tests/fuzz_regressions/ with a line in its manifest.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "interop"))

import fuzzing  # noqa: E402

from bench.common import record  # noqa: E402
from vae import limits  # noqa: E402

LABELS = {
    "pictures": "pictures (the upload preparation, grey and colour)",
    "datasets": "datasets (.zip of pictures, .npz, .npy)",
    "state_dicts": "state dicts (.pt, .safetensors)",
    "onnx": "ONNX pairs (conversion and the onnxruntime check)",
    "store": "the store (a saved model's file mutated on disk; list, then load)",
}


def coverage_row(path: str, runs: int) -> tuple[dict, list[str]]:
    """bench/fuzz_coverage.py on one path in a subprocess (libFuzzer exits the process when done)."""
    import importlib.util
    import re
    import shutil
    import subprocess
    import tempfile

    from vae.data.datasets import default_data_dir

    if importlib.util.find_spec("atheris") is None:
        return {"what": f"coverage-guided: {path}", "value": "not run", "unit": "", "note": "pip install atheris"}, []
    script = Path(__file__).resolve().parent / "fuzz_coverage.py"
    with tempfile.TemporaryDirectory() as cwd:
        run = subprocess.run(
            [sys.executable, str(script), path, str(runs)], cwd=cwd, capture_output=True, text=True, timeout=3600
        )
        keep = default_data_dir() / "bench" / "fuzz-findings"  # past the temporary folder: to become regressions
        keep.mkdir(parents=True, exist_ok=True)
        found = sorted(Path(cwd).glob("crash-*")) + sorted(Path(cwd).glob("timeout-*"))
        stopped = [str(shutil.copy(f, keep / f"{path}-{f.name}")) for f in found]
    log = run.stderr
    done = re.findall(r"#(\d+)\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)", log)
    seconds = re.findall(r"Done (\d+) runs in (\d+) second", log)
    findings = []
    if run.returncode != 0:
        lines = log.splitlines()
        at = next((i for i, line in enumerate(lines) if "Uncaught Python exception" in line), None)
        reason = lines[at + 1] if at is not None and at + 1 < len(lines) else ""
        findings.append(f"{path} (coverage-guided): stopped with exit {run.returncode}: {reason[:200]} {stopped}")
    executed, cov, ft, corp = done[-1] if done else ("?", "?", "?", "?")
    note = (
        f"{'0 crashes, 0 hangs' if run.returncode == 0 else 'STOPPED: see the findings'}; coverage {cov} edges of "
        f"vae/ ({ft} features), the corpus grown to {corp} inputs from the seeds; "
        f"{seconds[-1][1] if seconds else '?'} s"
    )
    what = f"coverage-guided (atheris): {LABELS[path]}"
    return {"what": what, "value": executed, "unit": "runs", "note": note}, findings


def _regressions() -> list:
    import json

    return json.loads(
        (Path(__file__).resolve().parent.parent / "tests" / "fuzz_regressions" / "manifest.json").read_text()
    )


def main(cases: int | None = None) -> None:
    cases = cases or 10_000
    rows, findings = [], []
    start = time.perf_counter()
    for path in fuzzing.PATHS:
        report = fuzzing.fuzz(path, cases, seed=2026)
        print(fuzzing.summary(report), flush=True)
        errors = ", ".join(f"{n:,} {k}" for k, n in sorted(report.errors.items(), key=lambda kv: -kv[1]))
        rows.append(
            {
                "what": f"fuzzed: {LABELS[path]}",
                "value": f"{report.cases:,}",
                "unit": "cases",
                "note": f"{report.crashes} crashes, {report.hangs} hangs; {report.accepted:,} read, "
                f"{report.refused:,} refused ({errors}); slowest case {report.slowest * 1000:.0f} ms, "
                f"{report.seconds:.0f} s in all",
            }
        )
        findings += [
            f"{path}: {f.kind} after {f.mutation} of {f.seed_name}: {f.message[:160]}" for f in report.findings[:5]
        ]
        row, found = coverage_row(path, 10 * cases)  # libFuzzer's runs are cheap: ten times as many
        print(f"  {row['what']}: {row['value']} {row['note']}", flush=True)
        rows.append(row)
        findings += found
    rss = fuzzing.peak_rss_mb()
    rows.append(
        {
            "what": "peak memory of the whole run",
            "value": f"{rss:.0f}",
            "unit": "MB",
            "note": f"resident set size at its highest, against VAE_DATASET_BYTES "
            f"{limits.DATASET_BYTES / 2**30:.0f} GiB and VAE_MODEL_BYTES {limits.MODEL_BYTES / 2**30:.0f} GiB; "
            f"{time.perf_counter() - start:.0f} s in all",
        }
    )
    record(
        "fuzz",
        rows,
        f"python -m bench fuzz --cases {cases}: for each input path, {cases:,} inputs, each one seeded mutation of a "
        "valid file made by tests/fuzzing.py (bit flips, truncation, random insertion, chunk duplication, and "
        "format-aware ones: zip member names, sizes and compression; safetensors header fields; JSON values and "
        "nesting, 5,000-digit integers, NaN; ONNX nodes, operator types, data types, dims, attributes, opsets, input "
        "shapes, NaN weights), run through the path as the app runs it. A case passes when it ends in a result or "
        "in DataError, ImageError, StoreError, ConfigError or OSError whose message holds none of a list of library "
        "words (numpy, protobuf, onnxruntime, KeyError, codec...), within 10 s (SIGALRM). Then as many "
        "coverage-guided runs per path with atheris (libFuzzer over the coverage of vae/, bench/fuzz_coverage.py), "
        "its corpus started from the same seeds (ONNX: the encoder mutated beside a valid decoder; the store: "
        "model.json or model.safetensors replaced), judged the same way.",
        findings=findings
        or [
            f"No crash, hang or unclear message in any path at this count. Every input that once broke a reader "
            f"is kept with what it did then: {len(_regressions())} files in tests/fuzz_regressions/ "
            "(manifest.json), run by tests/test_fuzz.py; 15 came from the first 400 cases per path, before the "
            "fixes of issue 36, the rest from larger and coverage-guided runs after them.",
        ],
    )


if __name__ == "__main__":
    main()
