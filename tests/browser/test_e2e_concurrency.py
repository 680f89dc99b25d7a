"""Several people on one `streamlit run` server, in their own browser contexts: two start trainings
and walk away to explore, two explore (Playground z, Reconstruct uploads) while both jobs run. No
page shows an exception, nobody sees another's z or upload, and both jobs stop and save.

Skipped when playwright or /usr/bin/chromium is missing (.ci/run installs both).
"""

from __future__ import annotations

import io
import re

import browser
import pytest
from PIL import Image, ImageDraw

pytestmark = pytest.mark.skipif(not browser.chromium_available(), reason="needs playwright and /usr/bin/chromium")

if browser.chromium_available():
    from playwright.sync_api import expect, sync_playwright

SLOW = 180_000  # ms: first visits encode mnist-5k while two trainings take a core each


def _png(size: int) -> bytes:
    im = Image.new("L", (160, 160), 255)
    ImageDraw.Draw(im).ellipse((80 - size, 20, 80 + size, 140), outline=0, width=12)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def _open(page, server, title):
    browser.open_page(page, server, title, timeout=SLOW)


def _go(page, title):
    """Follow a sidebar link: the same session (a new URL load would start a new one)."""
    page.get_by_test_id("stSidebar").get_by_role("link", name=title, exact=True).click()
    page.wait_for_url(f"**/{browser.PAGES[title]}*")
    expect(page.locator("h1").first).to_have_text(title, timeout=SLOW)
    browser.wait_rendered(page, SLOW)


def _start_training(page, server, name):
    _open(page, server, "Train")
    for label, value in (("Epochs", "500"), ("Model name", name)):
        field = page.get_by_label(label)
        field.fill(value)
        field.press("Enter")
    browser.wait_rendered(page, SLOW)
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_role("button", name="Stop (keeps the best weights)")).to_be_visible(timeout=SLOW)


def _move_z(page, key, times):
    thumb = page.get_by_role("slider").first
    thumb.focus()
    for _ in range(times):
        thumb.press(key)


def _upload(page, name, size):
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
        files=[{"name": name, "mimeType": "image/png", "buffer": _png(size)}]
    )


def test_four_people_two_trainings_one_server(tmp_path):
    env = browser.isolated_env(tmp_path)
    with browser.serving(env, log_dir=tmp_path) as server, sync_playwright() as p:
        chromium = browser.launch(p)
        a, b, c, d = (browser.new_page(chromium) for _ in range(4))
        _start_training(a, server, "busy-a")
        _start_training(b, server, "busy-b")
        _go(a, "Playground")  # a and b walk away from their jobs
        _go(b, "Reconstruct")
        _open(c, server, "Playground")
        _open(d, server, "Reconstruct")
        _upload(b, "from-b.png", 30)
        _upload(d, "from-d.png", 50)
        for _ in range(4):  # interleaved moves: a up, c down
            _move_z(a, "ArrowRight", 1)
            _move_z(c, "ArrowLeft", 2)
        expect(a.get_by_test_id("stSliderThumbValue").first).to_have_text("0.20", timeout=SLOW)
        expect(c.get_by_test_id("stSliderThumbValue").first).to_have_text("-0.40", timeout=SLOW)
        for page, heading in ((b, "from-b.png"), (d, "from-d.png")):
            expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=SLOW)
        for page in (a, b, c, d):
            browser.wait_rendered(page, SLOW)
            expect(page.locator(browser.EXCEPTION)).to_have_count(0)
        a.wait_for_url(re.compile(r"z=[^&]*0\.20"), timeout=SLOW)  # the first slider: the dimension with most KL
        c.wait_for_url(re.compile(r"z=[^&]*-0\.40"), timeout=SLOW)
        assert b.get_by_role("heading", name="from-d.png").count() == 0
        assert d.get_by_role("heading", name="from-b.png").count() == 0
        for page, name in ((a, "busy-a"), (b, "busy-b")):  # back to their own runs: both still train
            _go(page, "Train")
            expect(page.get_by_text(f"{name} · mlp 784-512-2")).to_be_visible(timeout=SLOW)
            page.get_by_role("button", name="Stop (keeps the best weights)").click()
            expect(page.get_by_text(f"Saved as {name}")).to_be_visible(timeout=SLOW)
        chromium.close()
        assert "Traceback" not in server.log_tail(200_000)
    for name in ("busy-a", "busy-b"):
        assert (tmp_path / "models" / name / "model.safetensors").is_file()
