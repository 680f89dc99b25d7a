"""python -m bench.screenshots: docs/screenshots/*.png of every page at 1280x900, as a person sees
them, from an app this starts itself (tests/browser.py: `streamlit run app.py` on a free loopback
port, headless /usr/bin/chromium). A scratch model store, so only the bundled models are listed (the default shown).

Each shot waits for the page to finish: the script idle (no "Running..." widget), every plotly
chart drawn, every image loaded. Some pages are shown after doing what the page is for: a slider
moved, a picture uploaded, a point clicked, a 2-epoch model trained.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import browser  # noqa: E402  (tests/browser.py)

OUT = ROOT / "docs" / "screenshots"
SLOW = 180_000  # ms: t-SNE or a first encode on 2 busy cores


def _digit_png() -> bytes:
    """A real test digit from mnist-5k, 4x upscaled: what someone might upload."""
    from PIL import Image

    from vae.data import datasets as data

    x = data.load_dataset("mnist-5k", "test").images[3, 0]  # (28, 28) in [0, 1]
    im = Image.fromarray((x * 255).round().astype("uint8")).resize((112, 112), Image.NEAREST)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def _scroll_to(page, locator) -> None:
    """Put `locator` near the top of Streamlit's scrolling main area."""
    locator.first.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_function("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))")


def _settle(page) -> None:
    page.mouse.move(2, 2)  # no hover labels or tooltips in the picture
    page.evaluate("() => document.querySelectorAll('.js-plotly-plot .hoverlayer').forEach(h => h.replaceChildren())")
    browser.wait_rendered(page, SLOW)


def _shoot(page, name: str, out: Path) -> Path:
    _settle(page)
    assert page.locator(browser.EXCEPTION).count() == 0, f"{name}: the page shows an exception"
    path = out / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"  {path.resolve().relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path}")
    return path


def overview(page, server, out):
    browser.open_page(page, server, "Overview", SLOW)
    return [_shoot(page, "overview", out)]


def train(page, server, out):
    browser.open_page(page, server, "Train", SLOW)
    shots = [_shoot(page, "train", out)]
    page.get_by_label("Epochs").fill("3")
    page.get_by_label("Epochs").press("Enter")
    page.get_by_label("Model name").fill("demo-2d")
    page.get_by_label("Model name").press("Enter")
    browser.wait_rendered(page, SLOW)
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("Saved as demo-2d").wait_for(timeout=SLOW)
    _scroll_to(page, page.get_by_role("heading", name="demo-2d"))
    return shots + [_shoot(page, "train_run", out)]


def latent_map(page, server, out):
    browser.open_page(page, server, "Latent map", SLOW)
    shots = [_shoot(page, "latent_map", out)]
    chart = page.get_by_test_id("stPlotlyChart").first
    chart.hover()
    chart.get_by_role("button", name="Box Select").click()  # a patch, not one point: the toolbar's box tool
    box = chart.locator(".nsewdrag").first.bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.40
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + box["width"] * 0.08, y0 + box["height"] * 0.08, steps=8)
    page.mouse.up()
    page.get_by_role("heading", name="selected").wait_for(timeout=SLOW)
    _scroll_to(page, page.get_by_role("heading", name="selected"))
    return shots + [_shoot(page, "latent_map_selection", out)]


def manifold(page, server, out):
    browser.open_page(page, server, "Manifold", SLOW)
    return [_shoot(page, "manifold", out)]


def playground(page, server, out):
    """The live pad after a drag: the crosshair moved, the browser's decode beside it."""
    browser.open_page(page, server, "Playground", SLOW)
    _drag_pad(page, 0.62, 0.3)
    browser.wait_rendered(page, SLOW)
    return [_shoot(page, "playground", out)]


def _drag_pad(page, fx: float, fy: float) -> None:
    """Once the pad decodes, drag its crosshair from the centre to (fx, fy) of its box; wait for z in the URL."""
    page.wait_for_function("() => (globalThis.__vaeLive?.stats.latent_pad?.frames || 0) > 0", timeout=SLOW)
    box = page.locator("canvas.pad-cross").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy, steps=15)
    page.mouse.up()
    page.wait_for_function("() => /[?&]z=(?!0\\.00%2C0\\.00)/.test(location.search)", timeout=SLOW)


def reconstruct(page, server, out):
    browser.open_page(page, server, "Reconstruct", SLOW)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
        files=[{"name": "digit.png", "mimeType": "image/png", "buffer": _digit_png()}]
    )
    heading = page.get_by_role("heading", name="digit.png")
    heading.wait_for(timeout=SLOW)
    shots = [_shoot(page, "reconstruct", out)]
    _scroll_to(page, heading)
    return shots + [_shoot(page, "reconstruct_result", out)]


def interpolate(page, server, out):
    browser.open_page(page, server, "Interpolate", SLOW)
    return [_shoot(page, "interpolate", out)]


def posterior(page, server, out):
    browser.open_page(page, server, "True posterior", SLOW)
    return [_shoot(page, "posterior", out)]


def compare(page, server, out):
    browser.open_page(page, server, "Compare", SLOW)
    return [_shoot(page, "compare", out)]


COLOUR = "emoji-2d"  # the bundled colour model


def _open_colour(page, server, title: str) -> None:
    page.goto(f"{server.page_url(title)}?model={COLOUR}", wait_until="domcontentloaded")
    page.wait_for_selector(f'[data-testid="stMainBlockContainer"] h1, {browser.EXCEPTION}', timeout=SLOW)
    browser.wait_rendered(page, SLOW)


def _emoji_png() -> bytes:
    """A held-out emoji from emoji-mini as a 128x128 RGBA picture whose white is transparent."""
    import numpy as np
    from PIL import Image

    from vae.data import datasets as data

    x = data.load_dataset("emoji-mini", "test").images[40].transpose(1, 2, 0)  # (32, 32, 3)
    rgb = (x * 255).round().astype("uint8")
    alpha = np.where(rgb.min(-1) > 245, 0, 255).astype("uint8")
    im = Image.fromarray(np.dstack([rgb, alpha]), "RGBA").resize((128, 128), Image.NEAREST)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def colour(page, server, out):
    """Every page on the bundled colour model, with emoji-mini (no download)."""
    shots = []
    for title, name in (
        ("Overview", "colour_overview"),
        ("Latent map", "colour_latent_map"),
        ("Manifold", "colour_manifold"),
        ("Interpolate", "colour_interpolate"),
        ("True posterior", "colour_posterior"),
    ):
        _open_colour(page, server, title)
        shots.append(_shoot(page, name, out))
    _open_colour(page, server, "Playground")
    _drag_pad(page, 0.35, 0.62)
    shots.append(_shoot(page, "colour_playground", out))
    _open_colour(page, server, "Reconstruct")
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
        files=[{"name": "emoji.png", "mimeType": "image/png", "buffer": _emoji_png()}]
    )
    heading = page.get_by_role("heading", name="emoji.png")
    heading.wait_for(timeout=SLOW)
    _scroll_to(page, heading)
    return shots + [_shoot(page, "colour_reconstruct", out)]


SHOTS = {
    "overview": overview,
    "train": train,
    "latent_map": latent_map,
    "manifold": manifold,
    "playground": playground,
    "reconstruct": reconstruct,
    "interpolate": interpolate,
    "posterior": posterior,
    "compare": compare,
    "colour": colour,
}


def main(argv: list[str] | None = None) -> list[Path]:
    p = argparse.ArgumentParser(prog="python -m bench.screenshots", description=__doc__.split("\n\n")[0])
    p.add_argument("pages", nargs="*", help=f"pages to shoot: {', '.join(SHOTS)} (default: all)")
    p.add_argument("--out", type=Path, default=OUT, help=f"folder for the PNGs (default {OUT.relative_to(ROOT)})")
    args = p.parse_args(argv)
    unknown = [n for n in args.pages if n not in SHOTS]
    if unknown:
        p.error(f"unknown page(s) {', '.join(unknown)}; choose from {', '.join(SHOTS)}")
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="vae-shots-") as tmp:
        models = Path(tmp) / "models"
        models.mkdir()
        with browser.serving({"VAE_MODELS_DIR": str(models)}, log_dir=tmp) as server, sync_playwright() as pw:
            chromium = browser.launch(pw)
            try:
                for name in args.pages or SHOTS:
                    page = browser.new_page(chromium, browser.VIEWPORT)
                    try:
                        written += SHOTS[name](page, server, args.out)
                    except Exception:
                        failed = Path(tempfile.gettempdir()) / f"vae-shot-failed-{name}.png"
                        page.screenshot(path=str(failed))
                        print(f"  {name} failed; the page as it was: {failed}\n{server.log_tail(2000)}")
                        raise
                    finally:
                        page.context.close()
            finally:
                chromium.close()
    return written


if __name__ == "__main__":
    main()
