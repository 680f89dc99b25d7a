"""AppTest: the codes leave the app: the latent map's CSV and Projector downloads, the Playground's z to copy."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _open(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_latent_map_offers_the_codes_and_a_projector_bundle():
    at = _open("pages/latent_map.py")
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Codes of all items (CSV)", "Embedding Projector (.zip)"]


def test_the_playground_shows_z_to_copy():
    at = _open("pages/playground.py")
    assert any(c.value == "0.00,0.00" for c in at.code)
    at.slider[0].set_value(1.25).run()
    assert any(c.value.startswith("1.25,") or c.value.endswith(",1.25") for c in at.code)
