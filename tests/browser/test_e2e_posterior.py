"""The True posterior page in a real browser: a test image and an upload render the plane, the gap
bar, the KL and IW charts, with no exception. Skipped without playwright and /usr/bin/chromium."""

from __future__ import annotations

import io
import os

import browser
import pytest
from PIL import Image, ImageDraw

pytestmark = pytest.mark.skipif(not browser.chromium_available(), reason="needs playwright and /usr/bin/chromium")

if browser.chromium_available():
    from playwright.sync_api import expect, sync_playwright

SLOW = 180_000  # ms: the first visit loads mnist-5k and decodes the coarse grid on busy cores


def _digit_png() -> bytes:
    im = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(im).ellipse((55, 30, 145, 170), outline=0, width=14)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    state = tmp_path_factory.mktemp("e2e_posterior")
    with browser.serving(browser.isolated_env(state), log_dir=state) as server, sync_playwright() as p:
        b = browser.launch(p)
        try:
            pg = browser.new_page(b, {"width": 1400, "height": 1300})
            browser.open_page(pg, server, "True posterior", timeout=SLOW)
            yield pg
        finally:
            b.close()


def _charts(page) -> list[str]:
    return page.evaluate(
        "() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
        ".map(p => (p.layout.title && p.layout.title.text) || '')"
    )


def test_a_test_image_shows_the_posterior_plane_and_every_chart(page):
    expect(page.get_by_text("log p(x) (exact)")).to_be_visible(timeout=SLOW)
    titles = _charts(page)
    assert any("True posterior p(z|x)" in t for t in titles), titles
    assert any("Importance-weighted bound vs K" in t for t in titles), titles
    assert len(titles) == 4
    traces = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullData.map(t => t.name)")
    for name in ("p(z|x)", "q(z|x) 1σ", "q* 2σ", "z = μ + σ·ε"):
        assert name in traces
    if os.environ.get("VAE_SCREENSHOTS"):
        page.screenshot(path=f"{os.environ['VAE_SCREENSHOTS']}/posterior_test_image.png", full_page=True)


def test_an_upload_shows_its_posterior(page):
    page.get_by_text("An upload or a drawing").click()
    browser.wait_rendered(page, SLOW)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
        files=[{"name": "zero.png", "mimeType": "image/png", "buffer": _digit_png()}]
    )
    expect(page.get_by_text("zero.png").last).to_be_visible(timeout=SLOW)
    expect(page.get_by_text("log p(x) (exact)")).to_be_visible(timeout=SLOW)
    browser.wait_rendered(page, SLOW)
    assert not page.locator(browser.EXCEPTION).count()
    assert len(_charts(page)) == 4
    if os.environ.get("VAE_SCREENSHOTS"):
        page.screenshot(path=f"{os.environ['VAE_SCREENSHOTS']}/posterior_upload.png", full_page=True)
