"""The real app in a real browser: `streamlit run app.py` on a free loopback port, driven by headless
Chromium (Python playwright). One server and one browser for the module; each test opens its own
page (a new browser session). Waits are on page state (expect, wait_for_*), never fixed sleeps.

Skipped when playwright or /usr/bin/chromium is missing (.ci/run installs both).
"""

from __future__ import annotations

import io

import browser
import pytest
from PIL import Image, ImageDraw

pytestmark = pytest.mark.skipif(not browser.chromium_available(), reason="needs playwright and /usr/bin/chromium")

if browser.chromium_available():
    from playwright.sync_api import expect

PAGE_H1 = {title: title for title in browser.PAGES} | {"Overview": "VAE Latent Explorer"}
SLOW = 120_000  # ms: a first visit encodes and scores mnist-5k on 2 busy cores
IMAGE = '[data-testid="stImageContainer"] img'


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
def server(state_dir):
    env = browser.isolated_env(state_dir)
    with browser.serving(env, log_dir=state_dir) as srv:
        srv.env = env
        yield srv


@pytest.fixture(scope="module")
def chromium():
    with browser.chromium() as b:
        yield b


@pytest.fixture(scope="module")
def warm(server, chromium):
    """Visit / once: fills the dataset and model caches every page needs, so the per-page
    timeouts measure the page, not the first load of mnist-5k."""
    page = browser.new_page(chromium)
    try:
        browser.open_page(page, server, "Overview", timeout=SLOW)
    finally:
        page.context.close()
    return server


@pytest.fixture
def page(chromium, warm):
    p = browser.new_page(chromium)
    yield p
    p.context.close()


def _no_exception(page) -> None:
    expect(page.locator(browser.EXCEPTION)).to_have_count(0)


def _open(page, server, title: str) -> None:
    browser.open_page(page, server, title, timeout=SLOW)
    expect(page.locator("h1").first).to_have_text(PAGE_H1[title])
    _no_exception(page)


def _digit_png() -> bytes:
    """A black '3'-ish scrawl on white, 160x160: nothing like MNIST until images.prepare is done."""
    im = Image.new("L", (160, 160), 255)
    draw = ImageDraw.Draw(im)
    draw.arc((40, 20, 120, 80), 200, 90, fill=0, width=12)
    draw.arc((40, 76, 120, 140), 270, 160, fill=0, width=12)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("title", list(browser.PAGES))
def test_page_loads_by_url_path(page, warm, title):
    _open(page, warm, title)
    expect(page.get_by_test_id("stSidebar").get_by_text("Model", exact=True)).to_be_visible()


def test_sidebar_links_navigate(page, warm):
    _open(page, warm, "Overview")
    for title in ("Manifold", "Interpolate"):
        page.get_by_test_id("stSidebar").get_by_role("link", name=title, exact=True).click()
        page.wait_for_url(f"**/{browser.PAGES[title]}")
        expect(page.locator("h1").first).to_have_text(PAGE_H1[title], timeout=SLOW)
        browser.wait_rendered(page, SLOW)
        _no_exception(page)


def test_playground_without_the_live_component_decodes_with_server_sliders(page, warm):
    """The component frontend's script is blocked (as a strict proxy or an old browser would): the
    page keeps its server-side sliders, image and map, and says once that live decoding is off."""
    page.route("**/static/js/BidiComponent*.js", lambda route: route.abort())
    _open(page, warm, "Playground")
    image = page.locator(IMAGE).first
    expect(image).to_be_visible()
    before_src, before_png = browser.image_src(page, IMAGE), image.screenshot()
    thumb = page.get_by_role("slider").first  # react-aria's input[type=range] inside the thumb
    thumb.focus()
    for _ in range(10):  # 10 steps of 0.05: 0.00 -> 0.50 on the first slider (the dimension with most KL)
        thumb.press("ArrowRight")
    expect(page.get_by_test_id("stSliderThumbValue").first).to_have_text("0.50")
    # each key press is a rerun; the last one's z reaches the URL (the position is kept there)
    page.wait_for_function("() => /[?&]z=[^&]*0\\.50/.test(decodeURIComponent(location.search))", timeout=30_000)
    page.wait_for_function(
        "([sel, old]) => { const i = document.querySelector(sel);"
        " return i && i.src !== old && i.complete && i.naturalWidth > 0; }",
        arg=[IMAGE, before_src],
        timeout=30_000,
    )
    browser.wait_rendered(page)
    assert image.screenshot() != before_png
    assert "0.50" in page.url.replace("%2C", ",").split("z=")[1]
    _no_exception(page)
    page.wait_for_function(
        "() => { for (const gd of document.querySelectorAll('.js-plotly-plot'))"
        " for (const t of gd._fullData) if (t.name === 'z')"
        " return Math.abs(t.x[0] - 0.5) < 1e-6 || Math.abs(t.y[0] - 0.5) < 1e-6;"
        " return false; }",
        timeout=30_000,
    )  # the star on the map follows z
    expect(page.get_by_text("Live decoding is not running")).to_have_count(1)


def test_reconstruct_upload_shows_reconstruction(page, warm):
    _open(page, warm, "Reconstruct")
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
        files=[{"name": "three.png", "mimeType": "image/png", "buffer": _digit_png()}]
    )
    caption = page.get_by_text("its reconstruction, decode(mu)")
    expect(caption).to_be_visible(timeout=SLOW)
    browser.wait_rendered(page, SLOW)
    expect(page.get_by_role("heading", name="three.png")).to_be_visible()
    _no_exception(page)
    pair = page.locator('[data-testid="stImage"]', has=caption).locator("img").first
    box = pair.bounding_box()
    assert box and box["width"] > 100, box  # the input/reconstruction pair is drawn, not a speck


def test_reconstruct_drawing_on_the_canvas_shows_reconstruction_and_clear_removes_it(page, warm):
    """Mouse strokes on the canvas component: the drawing is prepared and reconstructed like an upload."""
    _open(page, warm, "Reconstruct")
    pad = page.locator('canvas[aria-label^="Drawing canvas"]')
    expect(pad).to_be_visible(timeout=SLOW)
    box = pad.bounding_box()
    assert box and box["width"] >= 200, box
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x0 + 0.3 * w, y0 + 0.25 * h)  # one stroke: a '7'
    page.mouse.down()
    for fx, fy in ((0.7, 0.25), (0.45, 0.8)):
        page.mouse.move(x0 + fx * w, y0 + fy * h, steps=12)
    page.mouse.up()
    expect(page.get_by_role("heading", name="your drawing")).to_be_visible(timeout=SLOW)
    caption = page.get_by_text("its reconstruction, decode(mu)")
    expect(caption).to_be_visible(timeout=SLOW)
    browser.wait_rendered(page, SLOW)
    _no_exception(page)
    page.get_by_role("button", name="Clear").click()
    expect(page.get_by_text("Upload a picture or draw one to see its reconstruction")).to_be_visible(timeout=SLOW)
    expect(page.get_by_role("heading", name="your drawing")).to_have_count(0)
    browser.wait_rendered(page, SLOW)  # with no picture, the test set's map alone
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(1)


# A scattergl point's pixel, from the chart's own axes: l2p maps data to the plot area, _size
# is the plot area's offset inside the chart element. Picks the first point of the first trace
# that lies well inside the plot area.
POINT_PIXEL = """(root) => {
  const gd = root.querySelector('.js-plotly-plot');
  const fl = gd._fullLayout, xa = fl.xaxis, ya = fl.yaxis, rect = gd.getBoundingClientRect();
  for (const [t, trace] of gd._fullData.entries()) {  // decoded arrays (data holds base64)
    if (!trace.visible || !trace.x) continue;
    for (let i = 0; i < trace.x.length; i++) {
      const px = xa.l2p(trace.x[i]), py = ya.l2p(trace.y[i]);
      if (px > 10 && px < xa._length - 10 && py > 10 && py < ya._length - 10)
        return {x: rect.left + fl._size.l + px, y: rect.top + fl._size.t + py, id: trace.customdata[i],
                trace: t};
    }
  }
  return null;
}"""


def test_latent_map_click_selects_point(page, warm):
    _open(page, warm, "Latent map")
    chart = page.get_by_test_id("stPlotlyChart").first
    chart.scroll_into_view_if_needed()
    # Streamlit makes a click select a point only when clickmode has "select"; it forces plain
    # "event" while the figure's dragmode is lasso or box select. Then a person must pick Pan first.
    modes = chart.evaluate(
        "r => { const f = r.querySelector('.js-plotly-plot')._fullLayout; return [f.clickmode, f.dragmode]; }"
    )
    assert "select" in modes[0], f"a click selects nothing in drag mode {modes[1]!r} (clickmode {modes[0]!r})"
    target = chart.evaluate(POINT_PIXEL)
    assert target, "no point inside the plot area"
    page.mouse.move(target["x"], target["y"])
    expect(chart.locator(".hoverlayer .hovertext")).to_have_count(1)  # plotly found the point: click it
    page.mouse.click(target["x"], target["y"])
    expect(page.get_by_role("heading", name="1 selected")).to_be_visible(timeout=SLOW)
    browser.wait_rendered(page, SLOW)
    expect(page.get_by_test_id("stImageCaption").filter(has_text="originals")).to_be_visible()
    _no_exception(page)


def test_train_one_epoch_lands_in_model_picker(page, warm):
    _open(page, warm, "Train")
    epochs = page.get_by_label("Epochs")
    epochs.fill("1")
    epochs.press("Enter")
    name = page.get_by_label("Model name")
    name.fill("e2e-one-epoch")
    name.press("Enter")
    browser.wait_rendered(page)
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_text("Saved as e2e-one-epoch")).to_be_visible(timeout=SLOW)
    _no_exception(page)
    picker = page.get_by_test_id("stSidebar").get_by_role("combobox", name="Model")
    page.get_by_role("button", name="Explore e2e-one-epoch").click()
    expect(picker).to_have_value("e2e-one-epoch", timeout=30_000)
    picker.click()
    options = page.get_by_role("option")
    expect(options.filter(has_text="e2e-one-epoch")).to_have_count(1)
    expect(options.filter(has_text="default")).to_have_count(1)
    models = warm.env["VAE_MODELS_DIR"]
    assert (browser.Path(models) / "e2e-one-epoch" / "model.json").is_file()


def test_a_shared_link_opens_its_model_and_z_and_the_model_follows_navigation(page, warm):
    from vae.models.config import ModelConfig
    from vae.models.registry import build
    from vae.store import catalog as store

    store.save(
        build(ModelConfig(latent_dim=3, hidden=(32,)), seed=0),
        "shared-3d",
        warm.env["VAE_MODELS_DIR"],
        dataset={"name": "mnist-5k", "shape": [1, 28, 28]},
    )
    page.goto(warm.page_url("Playground") + "?model=shared-3d&z=0.50,-1.00,0.25", wait_until="domcontentloaded")
    expect(page.locator("h1").first).to_have_text("Playground", timeout=SLOW)
    browser.wait_rendered(page, SLOW)
    picker = page.get_by_test_id("stSidebar").get_by_role("combobox", name="Model")
    expect(picker).to_have_value("shared-3d")
    values = page.get_by_test_id("stSliderThumbValue")
    expect(values).to_have_count(3)
    assert sorted(float(v) for v in values.all_inner_texts()) == [-1.0, 0.25, 0.5]
    page.get_by_test_id("stSidebar").get_by_role("link", name="Manifold", exact=True).click()
    expect(page.get_by_role("combobox", name="x dimension")).to_be_visible(timeout=SLOW)  # 3-D controls
    browser.wait_rendered(page, SLOW)
    expect(picker).to_have_value("shared-3d")
    assert "model=shared-3d" in page.url
    _no_exception(page)


def test_first_visit_by_url_path(chromium, tmp_path):
    """A fresh server's first visitor arrives by a shared link to a page, not by /: the page must
    still come with the app's sidebar (Streamlit 1.67 once ran pages/x.py alone in this case)."""
    with browser.serving(browser.isolated_env(tmp_path), log_dir=tmp_path) as fresh:
        p = browser.new_page(chromium)
        try:
            p.goto(fresh.page_url("Playground") + "?z=1.00,-0.50", wait_until="domcontentloaded")
            expect(p.locator("h1").first).to_have_text("Playground", timeout=SLOW)
            browser.wait_rendered(p, SLOW)
            expect(p.get_by_test_id("stSidebar").get_by_text("Model", exact=True)).to_be_visible()
            thumbs = p.get_by_test_id("stSliderThumbValue")  # sliders are in KL order, not z1, z2
            expect(thumbs).to_have_count(2)
            assert sorted(thumbs.all_inner_texts()) == ["-0.50", "1.00"]  # z from the link
            _no_exception(p)
        finally:
            p.context.close()
