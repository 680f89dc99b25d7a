"""What every benchmark shares: the machine description, timing helpers and the result files."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).parent / "results"


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem, 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def matmul_gflops(n: int = 1024, repeats: int = 30) -> float:
    """Dense float32 matmul rate of this machine (n x n @ n x n), the best of a few runs."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = max(best, 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9)
    return best


def percentiles(samples: list[float]) -> dict:
    s = sorted(samples)
    pick = lambda q: s[min(len(s) - 1, int(round(q * (len(s) - 1))))]  # noqa: E731
    return {"n": len(s), "p50": pick(0.5), "p95": pick(0.95), "mean": statistics.fmean(s), "min": s[0]}


def record(name: str, rows: list[dict], method: str, **extra) -> dict:
    """Write bench/results/NAME.json: rows of {what, value, unit, note}, how it was measured."""
    result = {
        "name": name,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "load_average": [round(v, 1) for v in os.getloadavg()],  # 1, 5, 15 min, as it ends
        "method": method,
        "rows": rows,
        **extra,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=1))
    for r in rows:
        print(f"  {r['what']}: {r['value']} {r.get('unit', '')}  {r.get('note', '')}")
    return result


def load_results() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))]
