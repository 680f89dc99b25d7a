"""The bundled colour model in a real browser: the Playground's pad decodes the 3-channel conv
decoder in the browser and paints colour pixels, frame after frame, while the crosshair is dragged."""

from __future__ import annotations

import browser
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(not browser.chromium_available(), reason="needs playwright and /usr/bin/chromium")

SLOW = 180_000
ROOT = """Array.from(document.querySelectorAll('[data-testid="stBidiComponentIsolated"]'))
  .map((h) => h.shadowRoot).find((r) => r && r.querySelector('.pad-image'))"""
# The decoded image's canvas: how many pixels are clearly coloured (red, green and blue apart).
COLOURED = """() => {
  const c = (ROOT).querySelector('.pad-image'), px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < px.length; i += 4) {
    const hi = Math.max(px[i], px[i + 1], px[i + 2]), lo = Math.min(px[i], px[i + 1], px[i + 2]);
    if (hi - lo > 60) n += 1;
  }
  return [n, c.width * c.height, Array.from(px.slice(0, 4000)).join(',')];
}""".replace("(ROOT)", f"({ROOT})")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    state = tmp_path_factory.mktemp("e2e-colour")
    with browser.serving(browser.isolated_env(state), log_dir=state) as srv:
        yield srv


def test_the_colour_playground_paints_colour_while_dragging(server):
    with browser.chromium() as chromium:
        page = browser.new_page(chromium)
        browser.open_live(page, f"{server.url}/playground?model=emoji-2d", "latent_pad", SLOW)
        pad = page.locator("canvas.pad-cross")
        box = pad.bounding_box()
        cx, cy, r = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"] * 0.3
        seen, pictures = [], set()
        page.mouse.move(cx, cy)
        page.mouse.down()
        for k in range(40):
            page.mouse.move(cx + r * np.cos(k / 6) * (k + 5) / 45, cy + r * np.sin(k / 6) * (k + 5) / 45)
            if k % 8 == 7:
                coloured, total, head = page.evaluate(COLOURED)
                seen.append(coloured / total)
                pictures.add(head)
        page.mouse.up()
        assert max(seen) > 0.05, seen  # colour pixels, not a grey picture
        assert len(pictures) >= 3  # the picture changed as the crosshair moved
        page.wait_for_function("() => new URL(location.href).searchParams.get('z') !== null", timeout=SLOW)
        page.context.close()


def test_the_colour_interpolation_plays_in_the_browser(server):
    frames = browser.LIVE_FRAMES
    with browser.chromium() as chromium:
        page = browser.new_page(chromium)
        browser.open_live(page, f"{server.url}/interpolate?model=emoji-2d", "latent_path", SLOW)
        start = page.evaluate(f"() => ({frames})('latent_path')")
        page.get_by_role("button", name="Play").click()
        page.wait_for_function(f"(n) => ({frames})('latent_path') > n + 30", arg=start, timeout=SLOW)
        page.get_by_role("button", name="Pause").click()
        page.context.close()


def test_drawing_in_colour_on_white_reaches_the_colour_model(server):
    """Reconstruct on emoji-2d: the canvas is white, an ink from the palette draws in that colour,
    and the drawing is prepared on white and reconstructed (issue 40: it was white on black)."""
    from playwright.sync_api import expect

    with browser.chromium() as chromium:
        page = browser.new_page(chromium)
        page.goto(f"{server.url}/reconstruct?model=emoji-2d")
        canvas = page.locator('canvas[aria-label^="Drawing canvas"]')
        expect(canvas).to_be_visible(timeout=SLOW)
        page.locator('[aria-label="ink #d62728"]').click()
        expect(page.locator('[aria-label="ink #d62728"]')).to_have_attribute("aria-checked", "true")
        box = canvas.bounding_box()
        x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
        page.mouse.move(x0 + 0.3 * w, y0 + 0.3 * h)
        page.mouse.down()
        for fx, fy in ((0.7, 0.3), (0.7, 0.7), (0.3, 0.7), (0.3, 0.3)):
            page.mouse.move(x0 + fx * w, y0 + fy * h, steps=10)
        page.mouse.up()
        corner, red = canvas.evaluate("""(c) => {
          const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let red = 0;
          for (let i = 0; i < px.length; i += 4) if (px[i] > 180 && px[i + 1] < 80 && px[i + 2] < 80) red += 1;
          return [Array.from(px.slice(0, 3)), red];
        }""")
        assert corner == [255, 255, 255] and red > 2000, (corner, red)  # red strokes on white paper
        expect(page.get_by_role("heading", name="your drawing")).to_be_visible(timeout=SLOW)
        expect(page.get_by_text("centred on white").first).to_be_visible(timeout=SLOW)
        page.context.close()
