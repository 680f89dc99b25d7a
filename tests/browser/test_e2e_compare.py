"""Compare and a conditional Playground in a real browser: `streamlit run app.py` on a free loopback
port with tiny models saved into its own models folder, driven by headless Chromium. Waits are on
page state, never fixed sleeps. Skipped when playwright or /usr/bin/chromium is missing."""

from __future__ import annotations

import browser
import pytest
import torch

from vae.data import datasets as data
from vae.models.config import ModelConfig, TrainConfig
from vae.store import catalog as store
from vae.training.loop import fit

pytestmark = pytest.mark.skipif(not browser.chromium_available(), reason="needs playwright and /usr/bin/chromium")

if browser.chromium_available():
    from playwright.sync_api import expect, sync_playwright

SLOW = 180_000  # ms: a first visit loads mnist-5k, encodes and scores it on 2 busy cores
MNIST = {"name": "mnist-5k", "shape": [1, 28, 28]}
IMAGE = '[data-testid="stImageContainer"] img'


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    state = tmp_path_factory.mktemp("e2e-compare")
    env = browser.isolated_env(state)
    train = data.load_dataset("mnist-5k", "train")
    x, y = torch.from_numpy(train.images[:512]), torch.from_numpy(train.labels[:512]).long()
    tc = TrainConfig(epochs=1, batch_size=128)
    for name, cfg in {
        "plain-4d": ModelConfig(latent_dim=4, hidden=(32,)),
        "label-2d": ModelConfig(hidden=(32,), conditional="label", num_classes=10),
    }.items():
        result = fit(cfg, tc, x, train_labels=y)
        store.save(result.model, name, env["VAE_MODELS_DIR"], dataset=MNIST, history=result.history)
    with browser.serving(env, log_dir=state) as srv:
        yield srv


@pytest.fixture(scope="module")
def page(server):
    with sync_playwright() as p:
        b = browser.launch(p)
        try:
            pg = browser.new_page(b)
            yield pg
        finally:
            b.close()


def _goto(page, server, path: str) -> None:
    page.goto(f"{server.url}/{path}", wait_until="domcontentloaded")
    page.wait_for_selector(f'[data-testid="stMainBlockContainer"] h1, {browser.EXCEPTION}', timeout=SLOW)
    browser.wait_rendered(page, SLOW)
    expect(page.locator(browser.EXCEPTION)).to_have_count(0)


def test_compare_draws_three_models_side_by_side(page, server):
    _goto(page, server, "compare?models=default,plain-4d,label-2d")
    expect(page.locator("h1").first).to_have_text("Compare")
    table = page.get_by_test_id("stDataFrame").first
    expect(table).to_be_visible()
    expect(page.locator(".js-plotly-plot")).to_have_count(9)  # scores, curves, 3 maps, 3 manifolds, recons
    expect(page.get_by_text("bound different things")).to_be_visible()
    page.screenshot(path="/tmp/i10-compare-e2e-compare.png")


def test_conditional_playground_class_changes_the_image(page, server):
    _goto(page, server, "playground?model=label-2d")
    expect(page.get_by_text("label-conditional VAE")).to_be_visible()
    page.wait_for_selector(IMAGE, timeout=SLOW)  # a first visit draws the pad alone, the image follows
    before = browser.image_src(page, IMAGE)
    page.get_by_test_id("stRadio").get_by_text("3", exact=True).click()
    page.wait_for_function(
        f"""() => {{ const i = document.querySelector('{IMAGE}');
        return i && i.src !== {before!r} && i.complete && i.naturalWidth > 0; }}""",
        timeout=SLOW,
    )
    browser.wait_rendered(page, SLOW)
    expect(page.get_by_text("decode(z, y = 3)")).to_be_visible()
    expect(page.locator(browser.EXCEPTION)).to_have_count(0)


PAD = """() => { const r = Array.from(document.querySelectorAll('[data-testid="stBidiComponentIsolated"]'))
  .map((h) => h.shadowRoot).find((s) => s && s.querySelector('.pad-image'));
  const live = globalThis.__vaeLive || {stats: {}, builds: []};
  return {png: r ? r.querySelector('.pad-image').toDataURL() : null, builds: live.builds.length,
          frames: (live.stats.latent_pad || {frames: 0}).frames}; }"""


def test_label_cvae_pad_decodes_in_the_browser_and_a_class_change_sends_no_weights(page, server):
    _goto(page, server, "playground?model=label-2d")
    page.wait_for_function(f"() => ({PAD})().frames > 0", timeout=SLOW)
    start = page.evaluate(PAD)
    box = page.locator("canvas.pad-cross").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    for k in range(1, 21):  # towards the top-right corner
        page.mouse.move(box["x"] + box["width"] * (0.5 + 0.02 * k), box["y"] + box["height"] * (0.5 - 0.02 * k))
    page.mouse.up()
    page.wait_for_function(f"(png) => ({PAD})().png !== png", arg=start["png"], timeout=SLOW)
    browser.wait_rendered(page, SLOW)
    dragged = page.evaluate(PAD)
    page.get_by_test_id("stRadio").get_by_text("7", exact=True).click()  # only the one-hot changes
    page.wait_for_function(f"(png) => ({PAD})().png !== png", arg=dragged["png"], timeout=SLOW)
    browser.wait_rendered(page, SLOW)
    assert page.evaluate(PAD)["builds"] == dragged["builds"]  # no weights were sent again
    expect(page.get_by_text("decode(z, y = 7)")).to_be_visible()
    expect(page.locator(browser.EXCEPTION)).to_have_count(0)
    page.screenshot(path="/tmp/i10-live-label-pad.png", full_page=True)
