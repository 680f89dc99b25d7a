"""Hostile input against the real server in a real browser: a models folder full of broken and
planted model folders, and a batch of hostile pictures uploaded to Reconstruct. Every one ends in
its message on the page, and the same server then serves a good upload.

Skipped when playwright or /usr/bin/chromium is missing (.ci/run installs both).
"""

from __future__ import annotations

import browser
import corpus
import pytest

pytestmark = pytest.mark.skipif(not browser.chromium_available(), reason="needs playwright and /usr/bin/chromium")

if browser.chromium_available():
    from playwright.sync_api import expect, sync_playwright

SLOW = 120_000  # ms: a first visit encodes and scores mnist-5k on 2 busy cores
ALERT = '[data-testid="stAlertContentError"]'


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e-hostile")
    env = browser.isolated_env(base)
    for i, case in enumerate(corpus.MODELS):
        case.make(base / "models" / f"hostile-{i}")
    with browser.serving(env, log_dir=base) as srv:
        yield srv


def test_hostile_models_and_pictures_end_in_messages_and_the_server_keeps_serving(server):
    refused = [c for c in corpus.PICTURES if c.error and not c.limits]
    good = corpus.PICTURES[-1]
    with sync_playwright() as p:
        chromium = browser.launch(p)
        try:
            page = browser.new_page(chromium)
            browser.open_page(page, server, "Reconstruct", timeout=SLOW)
            sidebar = page.get_by_test_id("stSidebar")
            expect(sidebar.get_by_text("cannot be opened")).to_have_count(sum(c.listed for c in corpus.MODELS))
            page.screenshot(path="/tmp/i11-store-hostile-sidebar.png")
            upload = page.locator('[data-testid="stFileUploader"] input[type="file"]')
            upload.set_input_files(
                files=[{"name": c.filename, "mimeType": "image/png", "buffer": c.make()} for c in refused]
            )
            expect(page.locator(ALERT)).to_have_count(len(refused), timeout=SLOW)
            browser.wait_rendered(page, SLOW)
            texts = page.locator(ALERT).all_inner_texts()
            for case in refused:
                assert any(t.startswith(f"{case.filename}:") for t in texts), (case.name, texts)
            assert not any("could not be processed" in t for t in texts), texts
            expect(page.locator(browser.EXCEPTION)).to_have_count(0)
            page.screenshot(path="/tmp/i11-store-hostile-errors.png", full_page=True)

            other = browser.new_page(chromium)  # a second session on the same server, a good picture
            browser.open_page(other, server, "Reconstruct", timeout=SLOW)
            other.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
                files=[{"name": good.filename, "mimeType": "image/jpeg", "buffer": good.make()}]
            )
            expect(other.get_by_text("its reconstruction, decode(mu)")).to_be_visible(timeout=SLOW)
            expect(other.locator(browser.EXCEPTION)).to_have_count(0)
        finally:
            chromium.close()
    assert server.proc.poll() is None, server.log_tail()
