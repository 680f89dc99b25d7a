"""Live decoding in the browser: frames during a drag, decode time, key move latency, weights.

`streamlit run app.py` on a loopback port with a scratch model store holding, besides the bundled
default (784-512-2 relu MLP), an untrained 784-512-512-2 tanh MLP and an untrained conv decoder
(conv 32-64, the app's default conv settings): untrained weights cost the same to run. For each
model a new headless Chromium page (1280x900, software rendering) opens /playground?model=NAME and:
(1) time to first live frame: from navigation start to the first image the pad decoded and painted
(performance.now() in the page, the pad's own paint log), and the bytes the websocket received in
that time (a wrapped WebSocket counts every message), which hold the weights; then the bytes of the
rerun a drag release causes (no weights again). (2) A scripted drag: playwright moves the mouse
with the button down in a circle over the pad, one move right after the other, for DRAG_S seconds;
an in-page requestAnimationFrame loop counts the frames, and the pad's paint log counts the frames
that painted a new decoded image; frames with a new image per 60 frames is reported. The pad's
own timing of each decode (decoder.js only, not the painting) gives the median and p95. (3) KEYS
arrow-key presses on the focused pad, alternating right and left: from the keydown event's time
stamp to the animation frame after the pad painted the new image (the next frame shows it).
"""
from __future__ import annotations

import math
import sys
import tempfile
import time
from pathlib import Path

from .common import percentiles, record

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
import browser  # noqa: E402  (tests/browser.py: the server and Chromium helpers the e2e tests use)

DRAG_S = 4.0
KEYS = 40
MODELS = {"default": "784-512-2 relu MLP (bundled)", "mlp-512-512": "784-512-512-2 tanh MLP",
          "conv": "conv 32-64 decoder"}

BYTES = """() => {  // count the websocket's incoming bytes, with their arrival times
  window.__ws = [];
  const Orig = window.WebSocket;
  window.WebSocket = function (...args) {
    const ws = new Orig(...args);
    ws.addEventListener('message', (e) => {
      const n = e.data.byteLength ?? e.data.size ?? e.data.length;
      window.__ws.push([performance.now(), n]);
    });
    return ws;
  };
  window.WebSocket.prototype = Orig.prototype;
  Object.assign(window.WebSocket, Orig);
}"""
STATS = "() => globalThis.__vaeLive && globalThis.__vaeLive.stats.latent_pad"
COUNT_FRAMES = """() => { window.__rafs = 0; window.__counting = true;
  const tick = () => { if (!window.__counting) return; window.__rafs += 1; requestAnimationFrame(tick); };
  requestAnimationFrame(tick); }"""
KEY = """() => {  // arm: the next keydown on the pad -> window.__key = ms to the frame after its paint
  window.__key = null;
  const stats = globalThis.__vaeLive.stats.latent_pad, before = stats.frames;
  const pad = Array.from(document.querySelectorAll('[data-testid="stBidiComponentIsolated"]'))
    .map((h) => h.shadowRoot).find((r) => r && r.querySelector('.pad-cross')).querySelector('.pad-cross');
  pad.addEventListener('keydown', (e) => {
    const t0 = e.timeStamp;
    const wait = () => {
      if (stats.frames > before) requestAnimationFrame(() => { window.__key = performance.now() - t0; });
      else requestAnimationFrame(wait);
    };
    requestAnimationFrame(wait);
  }, {once: true, capture: true});
}"""


def _models(directory: Path) -> None:
    from vae import store
    from vae.config import ModelConfig
    from vae.model import build
    store.save(build(ModelConfig(hidden=(512, 512), activation="tanh"), seed=0), "mlp-512-512", directory,
               dataset={"name": "mnist-5k"})
    store.save(build(ModelConfig(arch="conv"), seed=0), "conv", directory, dataset={"name": "mnist-5k"})


def measure(chromium, server, name: str) -> dict:
    page = browser.new_page(chromium)
    page.add_init_script(f"({BYTES})()")
    url = f"{server.url}/playground" + ("" if name == "default" else f"?model={name}")
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_function(f"() => {{ const s = ({STATS})(); return s && s.frames > 0; }}", timeout=180_000)
    first = page.evaluate(f"() => ({STATS})().paints[0]")
    received = page.evaluate("(t) => window.__ws.filter(([at]) => at <= t).reduce((a, [, n]) => a + n, 0)", first)
    browser.wait_rendered(page, 180_000)

    pad = page.locator("canvas.pad-cross")
    box = pad.bounding_box()
    cx, cy, r = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"] * 0.3
    page.mouse.move(cx + r, cy)
    page.mouse.down()
    before = page.evaluate(f"() => [({STATS})().frames, ({STATS})().decodeMs.length]")
    page.evaluate(COUNT_FRAMES)
    t0, k = time.perf_counter(), 0
    while time.perf_counter() - t0 < DRAG_S:
        k += 1
        a = k / 40
        page.mouse.move(cx + r * math.cos(a), cy + r * math.sin(a))
    frames = page.evaluate("() => { window.__counting = false; return window.__rafs; }")
    elapsed = time.perf_counter() - t0
    after = page.evaluate(f"() => [({STATS})().frames, ({STATS})().decodeMs]")
    ws_before = page.evaluate("() => window.__ws.length")
    page.mouse.up()
    page.wait_for_function("(n) => window.__ws.length > n", arg=ws_before, timeout=60_000)
    browser.wait_rendered(page, 180_000)
    rerun_bytes = page.evaluate("(n) => window.__ws.slice(n).reduce((a, [, b]) => a + b, 0)", ws_before)
    painted = after[0] - before[0]
    decode = percentiles(after[1][before[1]:])

    pad.focus()
    keys = []
    for i in range(KEYS):
        page.evaluate(KEY)
        page.keyboard.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
        keys.append(page.wait_for_function("() => window.__key", timeout=60_000).json_value())
    page.context.close()
    return {"first_ms": first, "first_bytes": received, "rerun_bytes": rerun_bytes, "frames": frames,
            "painted": painted, "moves": k, "elapsed": elapsed, "decode": decode, "keys": percentiles(keys)}


def main() -> dict:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="vae-bench-live-"))
    env = browser.isolated_env(tmp)
    _models(Path(env["VAE_MODELS_DIR"]))
    results = {}
    with browser.serving(env, log_dir=tmp) as server, sync_playwright() as p:
        chromium = browser.launch(p)
        try:
            measure(chromium, server, "default")  # warm-up: the server loads mnist-5k and encodes it
            for name in MODELS:
                results[name] = measure(chromium, server, name)
        finally:
            chromium.close()
    rows = []
    for name, label in MODELS.items():
        r = results[name]
        per60 = 60 * r["painted"] / max(r["frames"], 1)
        fps = r["frames"] / r["elapsed"]
        rows += [
            {"what": f"{label}: frames with a new image during a drag", "value": round(per60, 1), "unit": "of 60",
             "note": f"{r['painted']} of {r['frames']} animation frames in {r['elapsed']:.1f} s ({fps:.0f} frames/s, "
                     f"{r['moves']} mouse moves); target >= 55 (MLP), >= 30 (conv)"},
            {"what": f"{label}: JS decode per frame, median", "value": round(r["decode"]["p50"], 2), "unit": "ms",
             "note": f"p95 {r['decode']['p95']:.2f} ms over {r['decode']['n']} decodes"},
            {"what": f"{label}: arrow key -> new image painted, p95", "value": round(r["keys"]["p95"], 1),
             "unit": "ms", "note": f"p50 {r['keys']['p50']:.1f} ms over {r['keys']['n']} presses; target < 50 ms "
                                   "(server-side slider before: p95 396 ms)"},
            {"what": f"{label}: open Playground -> first live frame", "value": round(r["first_ms"]), "unit": "ms",
             "note": f"{r['first_bytes'] / 1e6:.2f} MB received over the websocket by then (weights, points, page); "
                     f"a drag release's rerun then received {r['rerun_bytes'] / 1e3:.1f} kB"},
        ]
    return record("live", rows, __doc__.strip().split("\n\n", 1)[1].replace("\n", " "), command="python -m bench live",
                  drag_s=DRAG_S, keys=KEYS)


if __name__ == "__main__":
    main()
