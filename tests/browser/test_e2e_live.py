"""Live decoding in a real browser (ui/components/decoder.js, latent_pad, latent_path).

- The decoder's JavaScript, loaded alone in a blank Chromium page, equals torch's decode within
  1e-4 per pixel for MLP and conv decoders, every activation, latent sizes 1, 2, 5 and 16.
- On the real Playground a mouse drag repaints the decoded image on many frames, and the final z
  reaches Python (the URL and the server's sliders); arrow keys move it too, and a z from Python
  (Sample z) moves the pad.
- The Interpolate page plays its path in the browser.
(The Playground without the component's script is tested in test_e2e.py.)
Waits are on page state, never fixed sleeps. Skipped without playwright and /usr/bin/chromium.
"""

from __future__ import annotations

import base64
import re

import browser
import numpy as np
import pytest
import torch

from ui.components import asset
from vae.models.config import ModelConfig
from vae.models.layers import ChannelAffine
from vae.models.registry import build
from vae.store import bundle
from vae.store import catalog as store

pytestmark = pytest.mark.skipif(not browser.chromium_available(), reason="needs playwright and /usr/bin/chromium")

if browser.chromium_available():
    from playwright.sync_api import expect

SLOW = 120_000  # ms: a first visit encodes mnist-5k on 2 busy cores
LOAD_DECODER = """async (source) => {
  const url = URL.createObjectURL(new Blob([source], {type: 'text/javascript'}));
  window.dec = await import(url);
}"""
DECODE = """([b64, zs, extra]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const b = window.dec.parseBundle(bytes);
  const d = window.dec.buildDecoder(b.meta.spec, b.arrays);
  return zs.map((z) => Array.from(d.decode(z, extra)));
}"""
# The component's shadow root holding `sel`, and the live statistics of one component.
ROOT = """(sel) => Array.from(document.querySelectorAll('[data-testid="stBidiComponentIsolated"]'))
  .map((h) => h.shadowRoot).find((r) => r && r.querySelector(sel))"""
FRAMES = "(name) => (globalThis.__vaeLive && globalThis.__vaeLive.stats[name] || {frames: 0}).frames"
# Every animation frame, hash the decoded image's pixels and count the frames where they changed.
WATCH_IMAGE = """() => {
  const canvas = (ROOT)('.pad-image').querySelector('.pad-image'), ctx = canvas.getContext('2d');
  window.__watch = {frames: 0, changed: 0, last: null, on: true};
  const tick = () => {
    const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let h = 2166136261;
    for (let i = 0; i < px.length; i += 12) h = Math.imul(h ^ px[i], 16777619);
    const w = window.__watch;
    w.frames += 1;
    if (w.last !== null && h !== w.last) w.changed += 1;
    w.last = h;
    if (w.on) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}""".replace("ROOT", ROOT)


def _scaled(model, factor: float = 2.5):
    """Untrained weights give pictures near 0.5 everywhere; scaled ones use the whole [0, 1] range."""
    with torch.no_grad():
        for p in model.decoder.parameters():
            p.mul_(factor)
    return model.eval()


CASES = {
    "mlp-relu-1": ModelConfig(latent_dim=1, hidden=(64,), activation="relu"),
    "mlp-relu-2": ModelConfig(latent_dim=2, hidden=(64, 32), activation="relu"),
    "mlp-tanh-5": ModelConfig(latent_dim=5, hidden=(48,), activation="tanh"),
    "mlp-tanh-16": ModelConfig(latent_dim=16, hidden=(32, 32), activation="tanh"),
    "mlp-gelu-2": ModelConfig(latent_dim=2, hidden=(32,), activation="gelu"),
    "mlp-elu-5": ModelConfig(latent_dim=5, hidden=(32,), activation="elu"),
    "conv-relu-1": ModelConfig(latent_dim=1, arch="conv", conv_channels=(4, 8), activation="relu"),
    "conv-relu-2": ModelConfig(latent_dim=2, arch="conv", conv_channels=(8, 16), activation="relu"),
    "conv-tanh-5": ModelConfig(latent_dim=5, arch="conv", conv_channels=(4, 8), activation="tanh"),
    "conv-gelu-16-rgb": ModelConfig(
        latent_dim=16, arch="conv", conv_channels=(4,), activation="gelu", image_shape=(3, 13, 11)
    ),
    "conv-emoji-32": ModelConfig(
        latent_dim=2,
        arch="conv",
        conv_channels=(32, 64, 128),
        conv_dense=256,
        image_shape=(3, 32, 32),
        likelihood="logistic",
    ),  # the emoji recipe's shape
    "conv-emoji-64": ModelConfig(
        latent_dim=2,
        arch="conv",
        conv_channels=(16, 32, 64),
        conv_dense=64,
        image_shape=(3, 64, 64),
        likelihood="logistic",
    ),
}


def _imported(decoder: list, latent: int = 3, shape=(1, 8, 8), output: str = "sigmoid", signed: bool = False):
    """An arch 'layers' config (what an import builds) with the given decoder and a small MLP encoder."""
    n = shape[0] * shape[1] * shape[2]
    return ModelConfig(
        arch="layers",
        image_shape=shape,
        latent_dim=latent,
        likelihood="bernoulli" if output == "sigmoid" else "gaussian",
        encoder_layers=(("linear", n, 16), ("act", "relu"), ("linear", 16, 2 * latent)),
        decoder_layers=tuple(decoder),
        output=output,
        signed=signed,
    )


# The layer vocabulary of imported models (vae/models/layers.py): activations with their parameters,
# a BatchNorm kept as a per-channel affine, nearest and bilinear upsampling, a Tanh output over [-1, 1].
CASES.update(
    {
        "layers-activations": _imported(
            [
                ("linear", 3, 24),
                ("act", "leaky_relu", 0.2),
                ("linear", 24, 24),
                ("act", "elu", 0.5),
                ("affine", 24),
                ("linear", 24, 24),
                ("act", "softplus", 2.0),
                ("linear", 24, 24),
                ("act", "silu"),
                ("linear", 24, 24),
                ("act", "mish"),
                ("linear", 24, 24),
                ("act", "hardtanh", -0.5, 2.0),
                ("linear", 24, 64),
            ]  # fmt: skip
        ),
        "layers-upsample-tanh-signed": _imported(
            [
                ("linear", 4, 2 * 3 * 3),
                ("act", "leaky_relu", 0.2),
                ("unflatten", 2, 3, 3),
                ("affine", 2),
                ("upsample", 2, "nearest"),
                ("conv", 2, 4, 3, 1, 1),
                ("act", "gelu_tanh"),
                ("upsample", 2, "bilinear"),
                ("conv", 4, 3, 3, 1, 1),
            ],  # fmt: skip
            latent=4,
            shape=(3, 12, 12),
            output="tanh",
            signed=True,
        ),
    }
)


@pytest.fixture(scope="module")
def chromium():
    with browser.chromium() as b:
        yield b


@pytest.fixture(scope="module")
def blank(chromium):
    """A blank page with ui/components/decoder.js imported as window.dec: no server."""
    page = browser.new_page(chromium)
    page.set_content("<!doctype html><title>decoder</title>")
    page.evaluate(LOAD_DECODER, asset("decoder.js"))
    yield page
    page.context.close()


def _js_decode(page, model, z: np.ndarray, extra=None) -> np.ndarray:
    spec, arrays = bundle.decoder_layers(model)
    blob = base64.b64encode(bundle.pack(arrays, {"spec": spec})).decode("ascii")
    out = page.evaluate(DECODE, [blob, z.tolist(), extra])
    return np.asarray(out, dtype=np.float64)


@pytest.mark.parametrize("case", [*CASES, "bundled-default"])
def test_browser_decode_equals_torch(blank, case):
    if case == "bundled-default":
        model, _ = store.load(store.DEFAULT_MODEL)
        model.eval()
    else:
        model = _scaled(build(CASES[case], seed=3))
        with torch.no_grad():
            for m in model.decoder.modules():
                if isinstance(m, ChannelAffine):  # not the identity it starts as
                    m.weight.uniform_(0.5, 1.5), m.bias.normal_(0, 0.5)
    d = model.latent_dim
    z = np.random.default_rng(7).normal(0, 1.5, (6, d)).astype(np.float32)
    z[0] = 0
    with torch.no_grad():
        expected = model.decode(torch.from_numpy(z)).reshape(len(z), -1).numpy()
    got = _js_decode(blank, model, z)
    assert got.shape == expected.shape
    assert expected.std() > 0.05, "the check needs pictures with contrast"
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


ENGINES = """([b64, zs]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const b = window.dec.parseBundle(bytes);
  return [true, false].map((simd) => {
    const d = window.dec.buildDecoder(b.meta.spec, b.arrays, {simd});
    return {engine: d.engine, out: zs.map((z) => Array.from(d.decode(z)))};
  });
}"""


@pytest.mark.parametrize("case", ["conv-relu-2", "conv-gelu-16-rgb", "conv-emoji-32", "layers-upsample-tanh-signed"])
def test_both_convolution_engines_equal_torch(blank, case):
    """The WebAssembly SIMD kernel (conv_simd.wat, chosen where the browser validates it, as Chromium
    does) and the JavaScript one it falls back to each decode as torch does, within 1e-4."""
    model = _scaled(build(CASES[case], seed=3))
    z = np.random.default_rng(8).normal(0, 1.5, (4, model.latent_dim)).astype(np.float32)
    with torch.no_grad():
        expected = model.decode(torch.from_numpy(z)).reshape(len(z), -1).numpy()
    spec, arrays = bundle.decoder_layers(model)
    blob = base64.b64encode(bundle.pack(arrays, {"spec": spec})).decode("ascii")
    simd, plain = blank.evaluate(ENGINES, [blob, z.tolist()])
    assert simd["engine"] == "WebAssembly SIMD convolutions" and plain["engine"] == "JavaScript"
    for run in (simd, plain):
        np.testing.assert_allclose(np.asarray(run["out"]), expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("case", ["bundled-default", "untrained-512-512-tanh"])
def test_browser_decodes_compact_weights_as_the_server_checked_them(blank, case):
    """float16 (the bundled default) and int8 with a scale per row (an untrained MLP) bundles, as
    the Playground sends them: the browser's decode equals the dequantized weights' decode in
    torch, and stays within one grey level of the float32 model."""
    from vae.store import compact

    if case == "bundled-default":
        model = store.load(store.DEFAULT_MODEL)[0].eval()
    else:
        model = build(ModelConfig(hidden=(512, 512), activation="tanh"), seed=0).eval()
    spec, arrays = bundle.decoder_layers(model)
    encoded, report = compact.encode(spec, arrays, model.latent_dim)
    assert report["encoding"] == ("float16" if case == "bundled-default" else "int8")
    z, _ = compact.grid(2)
    blob = base64.b64encode(bundle.pack(encoded, {"spec": spec})).decode("ascii")
    got = np.asarray(blank.evaluate(DECODE, [blob, z.tolist(), None]))
    expected = compact.run(spec, compact.decoded(encoded), z).reshape(got.shape)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    with torch.no_grad():
        full = model.decode(torch.from_numpy(z).float()).reshape(got.shape).numpy()
    assert np.abs(np.clip(got, 0, 1) - np.clip(full, 0, 1)).max() <= compact.TOLERANCE + 1e-6


def test_browser_decode_appends_extra_to_z(blank):
    """The [z, extra] hook: a decoder whose first layer takes 2 + 3 inputs, fed z (2) and extra (3),
    equals torch's decode of the concatenation (how a label-conditional decoder gets its one-hot)."""
    model = _scaled(build(ModelConfig(latent_dim=5, hidden=(32,)), seed=0))
    z = np.random.default_rng(1).normal(size=(3, 2)).astype(np.float32)
    extra = [0.0, 1.0, 0.0]
    with torch.no_grad():
        full = torch.from_numpy(np.hstack([z, np.tile(extra, (3, 1))]).astype(np.float32))
        expected = model.decode(full).reshape(3, -1).numpy()
    np.testing.assert_allclose(_js_decode(blank, model, z, extra), expected, atol=1e-4, rtol=0)


def test_browser_decodes_a_label_cvae_as_torch_does(blank):
    """A label CVAE's bundle, fed [z, one_hot(y)] (extra = the one-hot), equals model.decode(z, y)."""
    model = _scaled(build(ModelConfig(latent_dim=2, hidden=(48, 32), conditional="label", num_classes=10), seed=5))
    z = np.random.default_rng(2).normal(0, 1.5, (3, 2)).astype(np.float32)
    for y in (0, 7):
        with torch.no_grad():
            expected = model.decode(torch.from_numpy(z), y).reshape(3, -1).numpy()
        got = _js_decode(blank, model, z, np.eye(10)[y].tolist())
        assert expected.std() > 0.05
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


def test_the_pads_hole_map_is_the_cores_log_ratio(blank):
    """pad_map.js's logRatio (the Playground's hole backdrop) equals vae.inference.aggregate.log_ratio
    on the same posteriors, in 3-D, far from and inside the codes."""
    from vae.inference import aggregate

    rng = np.random.default_rng(3)
    mu = rng.normal(0, 1, (300, 3)).astype(np.float32)
    log_sigma = rng.uniform(-2, -0.5, (300, 3)).astype(np.float32)
    z = np.r_[rng.normal(0, 1, (8, 3)), [[4.0, -4.0, 3.0]]]
    blank.evaluate(
        LOAD_DECODER.replace("window.dec", "window.holes"), asset("pad_map.js") + "\nexport { holeModel, logRatio };"
    )
    got = blank.evaluate(
        """([mu, ls, zs]) => { const h = window.holes.holeModel(Float32Array.from(mu), Float32Array.from(ls), 3);
           return zs.map((z) => window.holes.logRatio(h, z)); }""",
        [mu.ravel().tolist(), log_sigma.ravel().tolist(), z.tolist()],
    )
    expected = aggregate.log_ratio(z, mu, np.exp(log_sigma.astype(np.float64)))
    assert expected[-1] < aggregate.HOLE < expected[:8].max()  # both a hole and a crowd are checked
    np.testing.assert_allclose(got, expected, atol=1e-3, rtol=1e-5)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    state = tmp_path_factory.mktemp("e2e-live")
    with browser.serving(browser.isolated_env(state), log_dir=state) as srv:
        yield srv


@pytest.fixture
def page(chromium, server):
    p = browser.new_page(chromium)
    yield p
    p.context.close()


def _open_live(page, server, title: str, name: str) -> None:
    browser.open_page(page, server, title, timeout=SLOW)
    page.wait_for_function(f"() => ({FRAMES})('{name}') > 0", timeout=SLOW)


def _url_z(page) -> str:
    return re.search(r"[?&]z=([^&]*)", page.url).group(1).replace("%2C", ",")


def _pad_z(page) -> str:
    text = page.locator(".pad-readout").inner_text()  # "z = (1.23, -0.45)"
    return ",".join(v.strip() for v in text.split("(")[1].rstrip(")").split(","))


def _wait_url_z(page, z: str) -> None:
    page.wait_for_function("(z) => new URL(location.href).searchParams.get('z') === z", arg=z, timeout=SLOW)


COUNT_WS = """(() => {  // the websocket's incoming bytes, on window.__wsBytes
  window.__wsBytes = 0;
  const Orig = window.WebSocket;
  window.WebSocket = function (...args) {
    const ws = new Orig(...args);
    ws.addEventListener('message', (e) => { window.__wsBytes += e.data.byteLength ?? e.data.size ?? e.data.length; });
    return ws;
  };
  window.WebSocket.prototype = Orig.prototype;
  Object.assign(window.WebSocket, Orig);
})()"""
BUILDS = "() => globalThis.__vaeLive.builds.map((b) => [b.from, b.ids.join('+'), b.bytes])"
DROP_STORE = """() => new Promise((done) => { const q = indexedDB.deleteDatabase('vae-live');
  q.onsuccess = q.onerror = q.onblocked = () => done(); })"""


def test_the_weights_reach_a_browser_once_and_a_revisit_reads_them_back(page, server):
    """First visit: the weights arrive in the component's data (float16, 1.3 MB) and are stored in
    IndexedDB, listed in the vae_live cookie. A revisit in the same browser (a new session) gets no
    weights: the server reads the cookie, the page reads IndexedDB, and decodes live. With the
    storage cleared but the cookie kept, the page reports what it lacks and the server sends it."""
    page.add_init_script(COUNT_WS)
    url = server.page_url("Playground")
    browser.open_live(page, url, "latent_pad")
    first = page.evaluate("() => window.__wsBytes")
    assert first > 1_300_000 and ["data", "dec+pts"] == page.evaluate(BUILDS)[0][:2], page.evaluate(BUILDS)
    page.wait_for_function("() => /vae_live=[^;]*dec-/.test(document.cookie)", timeout=SLOW)

    page.goto("about:blank")
    browser.open_live(page, url, "latent_pad")
    again = page.evaluate("() => window.__wsBytes")
    builds = page.evaluate(BUILDS)
    assert again < 300_000, (first, again)  # the page, the map's points' ids, z: no weights
    assert {b[0] for b in builds} == {"stored"} and any(b[1] == "dec" for b in builds), builds

    page.goto(f"{server.url}/_stcore/health")  # same origin, no live page holding the database open
    page.evaluate(DROP_STORE)
    assert re.search("vae_live=[^;]*dec-", page.evaluate("() => document.cookie"))
    browser.open_live(page, url, "latent_pad")
    assert page.evaluate("() => window.__wsBytes") > 1_300_000  # asked for, and sent again
    assert any(b[0] == "data" and "dec" in b[1] for b in page.evaluate(BUILDS))
    # meanwhile the image was not empty: the server's picture of the same z stood in
    assert page.evaluate("() => globalThis.__vaeLive.stats.latent_pad.previews") >= 1


def test_dragging_the_pad_decodes_on_many_frames_and_z_reaches_python(page, server):
    _open_live(page, server, "Playground", "latent_pad")
    pad = page.locator("canvas.pad-cross")
    box = pad.bounding_box()
    assert box and box["width"] >= 300, box
    page.evaluate(WATCH_IMAGE)
    cx, cy, r = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"] * 0.35
    page.mouse.move(cx, cy)
    page.mouse.down()
    for k in range(150):  # a spiral: every move reaches a new z
        a, f = k / 12, (k + 10) / 160
        page.mouse.move(cx + f * r * np.cos(a), cy + f * r * np.sin(a))
    page.mouse.up()
    watch = page.evaluate("() => { window.__watch.on = false; return window.__watch; }")
    assert watch["changed"] >= 20, watch  # the image followed the drag, frame after frame
    z = _pad_z(page)
    assert z != "0.00,0.00"
    _wait_url_z(page, z)  # the release sent z to Python, which put it in the URL...
    browser.wait_rendered(page, SLOW)
    values = page.get_by_test_id("stSliderThumbValue")  # ...and in the server's sliders
    expect(values).to_have_count(2)
    assert sorted(map(float, values.all_inner_texts())) == sorted(map(float, z.split(",")))

    before = page.evaluate(f"() => ({FRAMES})('latent_pad')")
    pad.focus()
    page.keyboard.press("ArrowRight")  # one key move: a new frame, then z to Python on keyup
    page.wait_for_function(f"(n) => ({FRAMES})('latent_pad') > n", arg=before, timeout=30_000)
    moved = _pad_z(page)
    assert sum(a != b for a, b in zip(moved.split(","), z.split(","))) == 1  # one axis moved
    _wait_url_z(page, moved)

    before = page.evaluate(f"() => ({FRAMES})('latent_pad')")  # Sample z is decided in Python:
    page.get_by_role("button", name="Sample z").click()  # the pad adopts it
    page.wait_for_function(f"(n) => ({FRAMES})('latent_pad') > n", arg=before, timeout=SLOW)
    browser.wait_rendered(page, SLOW)
    _wait_url_z(page, _pad_z(page))
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)

    reds = f"""() => {{ const c = ({ROOT})('.pad-points').querySelector('.pad-points');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] > 150 && d[i + 1] < 140 && d[i + 2] < 140) n++;
      return n; }}"""  # reddish pixels of the map: the digit 3's points, and the holes once shown
    before = page.evaluate(reds)
    page.locator("select.pad-backdrop").select_option("holes")  # the holes of q(z) behind the points
    page.wait_for_function(f"(n) => ({reds})() > n + 3000", arg=before, timeout=30_000)


def test_interpolate_plays_the_path_in_the_browser(page, server):
    _open_live(page, server, "Interpolate", "latent_path")
    start = page.evaluate(f"() => ({FRAMES})('latent_path')")
    page.get_by_role("button", name="Play").click()
    page.wait_for_function(f"(n) => ({FRAMES})('latent_path') > n + 30", arg=start, timeout=SLOW)
    page.get_by_role("button", name="Pause").click()
    scrubber = page.get_by_role("slider", name="Position on the path from A to B")
    scrubber.focus()
    page.keyboard.press("End")
    expect(page.locator(".path-readout")).to_have_text(re.compile(r"t = 1\.000 \(B\)"))


def test_the_direction_slider_moves_z_along_it_decoded_in_the_browser(page, server):
    """A direction from the URL (brightness, made on the spot): the slider under the image moves z
    along it, the pad's own decoder paints frame after frame, the path is on the pad, and the release
    sends z to Python; the URL keeps the direction."""
    browser.open_live(page, f"{server.url}/playground?dir=property:brightness", "latent_pad", SLOW)
    slider = page.locator("input.pad-dir")
    expect(slider).to_be_visible(timeout=SLOW)
    expect(page.locator(".pad-dir-text")).to_have_text("along brightness")
    slider.scroll_into_view_if_needed()
    page.evaluate(WATCH_IMAGE)
    before = _pad_z(page)
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    for k in range(60):  # from the middle (0) to the right end (+3 times the vector)
        page.mouse.move(box["x"] + box["width"] * (0.5 + 0.5 * (k + 1) / 60), y)
    page.mouse.up()
    watch = page.evaluate("() => { window.__watch.on = false; return window.__watch; }")
    assert watch["changed"] >= 10, watch  # the image followed the slider, frame after frame
    after = _pad_z(page)
    assert after != before and page.locator(".pad-dir-text").inner_text().startswith("along brightness · +")
    _wait_url_z(page, after)  # the release sent z to Python
    assert "dir=property%3Abrightness" in page.url or "dir=property:brightness" in page.url
    red = page.evaluate(
        """() => { const c = (ROOT)('.pad-cross').querySelector('.pad-cross'), px = c.getContext('2d')
          .getImageData(0, 0, c.width, c.height).data; let n = 0;
          for (let i = 0; i < px.length; i += 4) if (px[i] > 150 && px[i + 1] < 90 && px[i + 3] > 100) n += 1;
          return n; }""".replace("ROOT", ROOT)
    )
    assert red > 100, red  # the direction's path is drawn on the pad
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
