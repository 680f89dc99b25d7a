"""Imported models in a real browser: a `sequential` conv VAE state dict and an ONNX conv pair (with
LeakyReLU, ELU, Softplus and GELU), imported into the store, decode live on the Playground (the
browser runs their decoders)."""

from __future__ import annotations

import sys
from pathlib import Path

import browser
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop"))

pytestmark = pytest.mark.skipif(not browser.chromium_available(), reason="needs playwright and /usr/bin/chromium")

SLOW = 120_000
FRAMES = browser.LIVE_FRAMES


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import io

    import torch
    from foreign_models import sequential_conv, trained

    from vae.interop import importer

    state = tmp_path_factory.mktemp("e2e-import")
    env = browser.isolated_env(state)
    buf = io.BytesIO()
    torch.save(trained(sequential_conv(latent=2), steps=10).state_dict(), buf)
    rec = importer.recognise("conv.pt", buf.getvalue())
    importer.save_imported(rec, "imported-conv", "mnist-5k", env["VAE_MODELS_DIR"], iw_samples=5)
    import onnx_models

    from vae.interop import onnx_import

    torch.manual_seed(0)
    e, d = onnx_models.pair(*onnx_models.conv(2), 2, ("stats",))
    rec = onnx_import.recognise_onnx(("enc.onnx", e), ("dec.onnx", d))
    importer.save_imported(rec, "onnx-conv", "mnist-5k", env["VAE_MODELS_DIR"], iw_samples=5)
    with browser.serving(env, log_dir=state) as srv:
        yield srv


@pytest.mark.parametrize("name", ["imported-conv", "onnx-conv"])
def test_an_imported_conv_model_decodes_live_in_the_playground(server, name):
    with browser.chromium() as chromium:
        page = browser.new_page(chromium)
        browser.open_live(page, f"{server.url}/playground?model={name}", "latent_pad", SLOW)
        assert name in page.url
        pad = page.locator("canvas.pad-cross")
        box = pad.bounding_box()
        before = page.evaluate(f"() => ({FRAMES})('latent_pad')")
        cx, cy, r = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"] * 0.3
        page.mouse.move(cx, cy)
        page.mouse.down()
        for k in range(60):
            page.mouse.move(cx + r * np.cos(k / 8) * k / 60, cy + r * np.sin(k / 8) * k / 60)
        page.mouse.up()
        frames = page.evaluate(f"() => ({FRAMES})('latent_pad')") - before
        assert frames >= 10, frames  # the browser decoded the imported decoder frame after frame
        page.wait_for_function("() => new URL(location.href).searchParams.get('z') !== null", timeout=SLOW)
        page.context.close()
