"""The true posterior: time per image for the exact log p(x) and for q*, the inference-gap table of
the bundled model(s), and upload -> everything drawn on Reconstruct and True posterior.

python -m bench.posterior [--images N] [--skip-table] [--skip-browser]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

import torch

from vae.data import datasets as data
from vae.inference import gaps, posterior, posterior_view
from vae.models import objectives
from vae.models.config import ModelConfig
from vae.models.registry import build
from vae.store import catalog as store

from .common import RESULTS, percentiles, record

TIMED_IMAGES = 20
REPEATS = 5  # uploads of one picture timed per page (after a warm-up)


def _images(info, n: int) -> torch.Tensor:
    _, test = data.load_splits(info.dataset or "mnist-5k")
    x = torch.from_numpy(test.images[:n])
    return objectives.binarized_test(x) if info.meta.get("train_config", {}).get("binarize") else x


def time_per_image(model, x: torch.Tensor, label: str) -> list[dict]:
    """Seconds per image: the coarse grid (once per model), log p(x), and q* (each image alone)."""
    t = time.perf_counter()
    grid = posterior.coarse_grid(model)
    coarse = time.perf_counter() - t
    exact, fit = [], []
    with torch.inference_mode():
        mu, logvar = model.encode(x)
    for i in range(len(x)):
        t = time.perf_counter()
        posterior.log_marginal(model, x[i : i + 1], grid, hints=mu[i : i + 1].numpy())
        exact.append(time.perf_counter() - t)
        t = time.perf_counter()
        gaps.fit_best_gaussian(model, x[i : i + 1], mu[i : i + 1].clone(), logvar[i : i + 1].clone())
        fit.append(time.perf_counter() - t)
    view = []
    for i in range(len(x)):  # everything the page computes for one image (on posterior_view.WORKERS threads)
        t = time.perf_counter()
        posterior_view.describe(model, x[i].numpy(), grid=grid)
        view.append(time.perf_counter() - t)
    e, f, v = percentiles(exact), percentiles(fit), percentiles(view)
    return [
        {"what": f"{label}: coarse grid, once per model", "value": round(coarse, 2), "unit": "s"},
        {
            "what": f"{label}: the page's whole view per image",
            "value": round(v["p50"], 3),
            "unit": "s",
            "note": f"p50 of {v['n']} test images, p95 {v['p95']:.3f} s: IW(K) to 5000, log p(x), q*, the KL "
            f"on a grid and the {posterior_view.PLANE_POINTS}^2 plane, on {posterior_view.WORKERS} threads",
        },
        {
            "what": f"{label}: exact log p(x) per image",
            "value": round(e["p50"], 3),
            "unit": "s",
            "note": f"p50 of {e['n']} test images, p95 {e['p95']:.3f} s (target < 0.5 s)",
        },
        {
            "what": f"{label}: q* fit per image",
            "value": round(f["p50"], 3),
            "unit": "s",
            "note": f"p50 of {f['n']} test images, p95 {f['p95']:.3f} s (target < 1 s)",
        },
    ]


def gap_table(name: str, n: int) -> list[dict]:
    model, info = store.load(name)
    x = _images(info, n)
    t = time.perf_counter()
    exact = gaps.evaluate_exact(model, x)
    took = time.perf_counter() - t
    with torch.inference_mode():
        base = objectives.evaluate(model, x, iw_samples=1000)
    note = f"{name}, first {len(x)} test images of {info.dataset}"
    rows = [
        ("exact log p(x)", exact["exact_log_likelihood"]),
        ("IW(1000)", base["iw_log_likelihood"]),
        ("ELBO (one sample, as in training)", base["elbo"]),
        ("ELBO(q) (quadrature)", exact["elbo_exact"]),
        ("ELBO(q*)", exact["elbo_best_gaussian"]),
        ("approximation gap", exact["approximation_gap"]),
        ("amortization gap", exact["amortization_gap"]),
    ]
    out = [{"what": f"{name}: {k}", "value": round(v, 2), "unit": "nats", "note": note} for k, v in rows]
    out.append(
        {
            "what": f"{name}: not converged to 0.01 nats",
            "value": exact["exact_not_converged"],
            "note": f"{len(x)} images in {took:.0f} s",
        }
    )
    return out


def _digit(k: int) -> bytes:
    """A ring drawn on white, different for every k (its size and stroke), like a photographed digit."""
    from PIL import Image, ImageDraw

    im = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(im).ellipse((55 + 3 * (k % 12), 30, 145, 170 - 3 * (k % 12)), outline=0, width=8 + k // 12)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def upload_to_drawn() -> list[dict]:
    """Chromium: set the uploader's files -> the page's script idle, every chart and image drawn.
    Each timed upload goes to a freshly opened page (a new session, so the pictures of earlier
    uploads are not drawn again) with warm server caches (one warm-up upload first); every picture is
    new to the server."""
    import tempfile

    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import browser  # tests/browser.py: the server and Chromium helpers the e2e tests use

    rows, fresh = [], iter(range(10_000))
    with (
        tempfile.TemporaryDirectory() as tmp,
        browser.serving(browser.isolated_env(tmp)) as server,
        sync_playwright() as p,
    ):
        b = browser.launch(p)
        for title in ("Reconstruct", "True posterior"):
            counts = (1,) * REPEATS if title == "True posterior" else (1,) * REPEATS + (4,) * 3
            times = {}
            for rep, n in enumerate((1, *counts)):  # the first is the warm-up
                page = browser.new_page(b, {"width": 1400, "height": 1300})
                browser.open_page(page, server, title, timeout=300_000)
                if title == "True posterior":
                    page.get_by_text("An upload or a drawing").click()
                    browser.wait_rendered(page, 300_000)
                box = page.locator('[data-testid="stFileUploader"] input[type="file"]')
                files = [
                    {"name": f"d{rep}_{k}.png", "mimeType": "image/png", "buffer": _digit(next(fresh))}
                    for k in range(n)
                ]
                t = time.perf_counter()
                box.set_input_files(files=files)
                last = files[-1]["name"]  # its heading (Reconstruct) or image caption (True posterior)
                shown = (
                    page.get_by_role("heading", name=last)
                    if title == "Reconstruct"
                    else page.get_by_test_id("stImageCaption").filter(has_text=last)
                )
                shown.first.wait_for(timeout=300_000)
                browser.wait_rendered(page, 300_000)
                if rep:
                    times.setdefault(n, []).append(time.perf_counter() - t)
                page.context.close()
            for n, took in times.items():
                p = percentiles(took)
                rows.append(
                    {
                        "what": f"{title}: upload {n} picture{'s' * (n > 1)} -> all drawn",
                        "value": round(p["p50"], 2),
                        "unit": "s",
                        "note": f"{p['p50'] / n:.2f} s per picture; median of {len(took)} uploads "
                        f"({min(took):.2f} to {max(took):.2f} s)",
                    }
                )
        b.close()
    return rows


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m bench.posterior")
    p.add_argument("--images", type=int, default=1000, help="test images in the gap table")
    p.add_argument("--timed", type=int, default=TIMED_IMAGES, help="images timed one by one")
    p.add_argument("--skip-table", action="store_true")
    p.add_argument("--skip-browser", action="store_true")
    p.add_argument("--skip-core", action="store_true", help="keep the recorded core timings")
    args = p.parse_args(argv or [])  # python -m bench runs main() with the defaults
    torch.manual_seed(0)
    default, info = store.load(store.DEFAULT_MODEL)
    x = _images(info, args.timed)
    torch.set_num_threads(1)
    rows = []
    if not args.skip_core:
        rows += time_per_image(default, x, f"default ({default.config.describe()})")
        print(rows, flush=True)
        big = build(ModelConfig(hidden=(512, 512), activation="tanh"), seed=0)  # issue 13's size, untrained
        rows += time_per_image(big, x, "untrained 784-512-512-2 tanh")
    if not args.skip_table:
        for m in store.list_models():
            if m.bundled and not m.error and m.config.latent_dim <= 2:
                rows += gap_table(m.name, args.images)
                print(rows[-8:], flush=True)
    if not args.skip_browser:
        rows += upload_to_drawn()
    method = (
        f"Core timings: one torch thread, {args.timed} test images, each alone (as the page does): "
        "log p(x) by adaptive quadrature to 0.01 nats, then q* by L-BFGS on the Gauss-Hermite ELBO; "
        "the coarse grid is decoded once per model and cached. Table: `python -m vae evaluate NAME "
        "--exact --iw-samples 1000 --limit N` computes the same numbers (means over the first N test "
        "images; binarized with the fixed test seed where the model was trained binarized). Browser: "
        "`streamlit run` + headless Chromium, time from setting the uploader's files to the script idle "
        "with every chart laid out and every image loaded (tests/browser.wait_rendered), after one "
        "warm-up upload; each timed upload into a freshly opened page, the median of "
        f"{REPEATS} (3 for four pictures)."
    )
    kept = RESULTS / "posterior.json"
    if kept.exists():  # rows of the parts skipped this time stay as they were recorded
        new = {r["what"] for r in rows}
        rows = [r for r in json.loads(kept.read_text())["rows"] if r["what"] not in new] + rows
    load = os.getloadavg()[0]
    return record(
        "posterior",
        rows,
        method + f" 1-minute load average at the end: {load:.1f} on {os.cpu_count()} cores.",
        command="python -m bench.posterior",
    )


if __name__ == "__main__":
    main(sys.argv[1:])
