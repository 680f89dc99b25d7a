"""Live decoding in the browser: frames during a drag, decode time, key move latency, weights.

`streamlit run app.py` on a loopback port with a scratch model store holding, besides the bundled
default (784-512-2 relu MLP), an untrained 784-512-512-2 tanh MLP and an untrained conv decoder
(conv 32-64, the app's default conv settings): untrained weights cost the same to run. For each
model a new headless Chromium page (1280x900, software rendering) opens /playground?model=NAME and:
(1) time to first live frame: from navigation start to the first image the pad decoded and painted
(performance.now() in the page, the pad's own paint log), the bytes the websocket received in
that time (a wrapped WebSocket counts every message), and when the message with the weights came
and how long the page took to read it (the component's own log); then the bytes of the
rerun a drag release causes (no weights again). (2) A scripted drag driven in the page the way Chromium
delivers a real one (moves coalesced, one per frame, before the frame's callbacks; playwright's own
mouse moves arrive only every 20-70 ms on this loaded machine): pointerdown, then one pointermove
per animation frame along a circle over the pad for DRAG_S seconds, then pointerup; the frames are
counted by that requestAnimationFrame loop, and the pad's paint log counts the frames
that painted a new decoded image; frames with a new image per 60 frames is reported. The pad's
own timing of each decode (decoder.js only, not the painting) gives the median and p95. (3) KEYS
arrow-key presses on the focused pad, alternating right and left: from the keydown event's time
stamp to the animation frame after the pad painted the new image (the next frame shows it).
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from .common import percentiles, record

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
import browser  # noqa: E402  (tests/browser.py: the server and Chromium helpers the e2e tests use)

DRAG_S = 4.0
KEYS = 40
MODELS = {"default": "784-512-2 relu MLP (bundled)", "mlp-512-512": "784-512-512-2 tanh MLP",
          "conv": "conv 32-64 decoder", "emoji-2d": "colour 32x32 conv 32-64-128 (bundled emoji-2d)",
          "colour-64": "colour 64x64 conv 32-64-128"}

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
# A drag driven inside the page, the way Chromium delivers a real one: pointer moves are coalesced
# and dispatched once per frame, before the frame's callbacks. Here each animation frame dispatches
# one pointermove along a circle over the pad (pointerdown first, pointerup after `ms`) and counts
# the frames. Resolves {frames, moves, ms}.
DRAG = """([ms]) => new Promise((resolve) => {
  const pad = Array.from(document.querySelectorAll('[data-testid="stBidiComponentIsolated"]'))
    .map((h) => h.shadowRoot).find((r) => r && r.querySelector('.pad-cross')).querySelector('.pad-cross');
  const box = pad.getBoundingClientRect(), cx = box.left + box.width / 2, cy = box.top + box.height / 2;
  const r = box.width * 0.3, start = performance.now();
  const at = (t) => ({clientX: cx + r * Math.cos(t / 400), clientY: cy + r * Math.sin(t / 400),
                      pointerId: 7, pointerType: 'mouse', buttons: 1, bubbles: true});
  let frames = 0, moves = 0;
  pad.dispatchEvent(new PointerEvent('pointerdown', at(0)));
  const tick = () => {
    const t = performance.now() - start;
    frames += 1;  // this frame also paints the move of the frame before
    if (t >= ms) {
      pad.dispatchEvent(new PointerEvent('pointerup', at(t)));
      resolve({frames, moves, ms: t, from: start, to: performance.now()});
      return;
    }
    moves += 1;
    pad.dispatchEvent(new PointerEvent('pointermove', at(t)));
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})"""


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


def _colour_64_data(data_dir: Path) -> None:
    """A stand-in emoji-64 cache (emoji-mini's pictures, upscaled) so a 64x64 model has images of its
    shape without a download; what the pad decodes does not depend on them."""
    import numpy as np
    from PIL import Image

    from vae.data import emoji
    with np.load(emoji.MINI) as z:
        images = np.concatenate([z["train_images"], z["test_images"]])
        labels = np.concatenate([z["train_labels"], z["test_labels"]])
    big = np.stack([np.asarray(Image.fromarray(im).resize((64, 64), Image.Resampling.BICUBIC)) for im in images])
    data_dir.mkdir(parents=True, exist_ok=True)
    ids = np.array([f"E{i}" for i in range(len(big))])
    np.savez(emoji.cache_path(64, data_dir), images=big, labels=labels, ids=ids, groups=ids,
             vendors=np.array(["mini"] * len(big)))


def _models(directory: Path) -> None:
    from vae.models.config import ModelConfig
    from vae.models.registry import build
    from vae.store import catalog as store
    store.save(build(ModelConfig(hidden=(512, 512), activation="tanh"), seed=0), "mlp-512-512", directory,
               dataset={"name": "mnist-5k"})
    store.save(build(ModelConfig(arch="conv"), seed=0), "conv", directory, dataset={"name": "mnist-5k"})
    store.save(build(ModelConfig(image_shape=(3, 64, 64), arch="conv", conv_channels=(32, 64, 128), conv_dense=256,
                                 likelihood="logistic"), seed=0), "colour-64", directory, dataset={"name": "emoji-64"})


def measure(chromium, server, name: str) -> dict:
    page = browser.new_page(chromium)
    page.add_init_script(f"({BYTES})()")
    url = f"{server.url}/playground" + ("" if name == "default" else f"?model={name}")
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_function(f"() => {{ const s = ({STATS})(); return s && s.frames > 0; }}", timeout=180_000)
    first = page.evaluate(f"() => ({STATS})().paints[0]")
    build = page.evaluate("() => globalThis.__vaeLive.builds.find((b) => b.ids.includes('dec'))")
    received = page.evaluate("(t) => window.__ws.filter(([at]) => at <= t).reduce((a, [, n]) => a + n, 0)", first)
    browser.wait_rendered(page, 180_000)

    before = page.evaluate(f"() => ({STATS})().decodeMs.length")
    ws_before = page.evaluate("() => window.__ws.length")
    drag = page.evaluate(DRAG, [DRAG_S * 1000])  # ends with pointerup: z goes to Python
    frames, k, elapsed = drag["frames"], drag["moves"], drag["ms"] / 1000
    after = page.evaluate(f"() => [({STATS})().frames, ({STATS})().decodeMs]")
    painted = page.evaluate(f"([a, b]) => ({STATS})().paints.filter((t) => t > a && t <= b).length",
                            [drag["from"], drag["to"]])  # images painted during the drag's frames
    page.wait_for_function("(n) => window.__ws.length > n", arg=ws_before, timeout=60_000)
    browser.wait_rendered(page, 180_000)
    rerun_bytes = page.evaluate("(n) => window.__ws.slice(n).reduce((a, [, b]) => a + b, 0)", ws_before)
    decode = percentiles(after[1][before:])

    page.locator("canvas.pad-cross").focus()
    keys = []
    for i in range(KEYS):
        page.evaluate(KEY)
        page.keyboard.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
        keys.append(page.wait_for_function("() => window.__key", timeout=60_000).json_value())
    page.context.close()
    return {"first_ms": first, "build": build, "first_bytes": received, "rerun_bytes": rerun_bytes, "frames": frames,
            "painted": painted, "moves": k, "elapsed": elapsed, "decode": decode, "keys": percentiles(keys)}


def main() -> dict:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="vae-bench-live-"))
    env = browser.isolated_env(tmp)
    _models(Path(env["VAE_MODELS_DIR"]))
    if not (Path(env["VAE_DATA_DIR"]) / "emoji-64.npz").exists():
        _colour_64_data(Path(env["VAE_DATA_DIR"]))
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
             "note": f"{r['first_bytes'] / 1e6:.2f} MB received over the websocket by then; the weights and "
                     f"points came in one {r['build']['bytes'] / 1e6:.2f} MB message at {r['build']['at']:.0f} ms "
                     f"(read and set up in {r['build']['ms']:.0f} ms); a drag release's rerun then received "
                     f"{r['rerun_bytes'] / 1e3:.1f} kB (no weights)"},
        ]
    return record("live", rows, __doc__.strip().split("\n\n", 1)[1].replace("\n", " "), command="python -m bench live",
                  drag_s=DRAG_S, keys=KEYS)


if __name__ == "__main__":
    main()
