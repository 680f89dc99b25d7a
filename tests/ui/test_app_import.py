"""The Import page and the Overview's export through AppTest: upload a state dict, see the table and the
preview, save it; the model card then says where it came from; a refused file is an error, not a
traceback."""

import io
import sys
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from vae.store import catalog as store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop"))
from foreign_models import ExamplesVAE, sequential_conv, trained  # noqa: E402

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/import_model.py").run()
    assert not at.exception
    return at


def _bytes(state) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def test_upload_shows_what_was_recognised_then_saves_an_imported_model():
    at = _page()
    assert at.title[0].value == "Import" and "Upload a state dict" in at.info[0].value
    model = trained(ExamplesVAE(hidden=64, latent=2), steps=5)
    at.file_uploader(key="imp_file").set_value(("examples.pth", _bytes(model.state_dict()), "application/octet-stream"))
    at.run()
    assert not at.exception and not at.error
    assert "layout pytorch-examples" in at.success[0].value
    table = at.dataframe[0].value
    assert list(table["tensor"]) == [
        "fc1.weight",
        "fc1.bias",
        "fc21.weight",
        "fc21.bias",
        "fc22.weight",
        "fc22.bias",
        "fc3.weight",
        "fc3.bias",
        "fc4.weight",
        "fc4.bias",
    ]
    assert table["became"][2] == "mu head" and table["became"][4] == "log-variance head"
    assert len(at.get("image")) == 2  # the decoded grid and the reconstructions
    at.text_input(key="imp_name").input("their-vae")
    submit = next(b for b in at.button if "Measure and save" in b.label)
    submit.click().run()
    assert not at.exception and "Saved **their-vae**" in at.success[-1].value
    _, info = store.load("their-vae")
    assert info.source["file"] == "examples.pth" and info.source["layout"] == "pytorch-examples"

    at.switch_page("app.py").run()  # the sidebar selects it; its card says it was imported
    assert not at.exception
    assert at.session_state["model_name"] == "their-vae"
    card = " ".join(c.value for c in at.sidebar.caption)
    assert "Imported, not trained here" in card and "examples.pth" in card and "measured here on mnist-5k" in card
    assert any("class VAE(nn.Module)" in c.value for c in at.code)


def test_a_conv_model_is_recognised_and_a_refused_file_is_an_error():
    at = _page()
    at.file_uploader(key="imp_file").set_value(("conv.pt", _bytes(sequential_conv().state_dict()), "x"))
    at.run()
    assert not at.exception and "sequential" in at.success[0].value
    assert any("stride 2" in m.value for m in at.markdown)
    at.file_uploader(key="imp_file").set_value(("module.pt", _bytes(ExamplesVAE(hidden=4, latent=2)), "x"))
    at.run()
    assert not at.exception and "refused" in at.error[0].value and "state_dict()" in at.error[0].value


@pytest.mark.parametrize("kind", ["examples-2d", "vanilla-vae-128d"])
def test_every_page_opens_on_an_imported_model(kind):
    """pytorch/examples' 2-D VAE, and AntixK's VanillaVAE with a 128-D latent, BatchNorm and a Tanh
    output over colour pictures in [-1, 1] (four blocks: 32x32, measured on emoji-mini)."""
    from foreign_models import VanillaVAE, with_statistics

    from vae.interop import importer

    if kind == "examples-2d":
        model, data = trained(ExamplesVAE(hidden=64, latent=2), steps=5), "mnist-5k"
    else:
        model, data = with_statistics(VanillaVAE(hidden_dims=(8, 16, 32, 32))), "emoji-mini"
    rec = importer.recognise("e.pth", _bytes(model.state_dict()))
    importer.save_imported(rec, "imported", data, iw_samples=2)
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["model_name"] = "imported"
    at.run()
    for page in [
        "app.py",
        "pages/latent_map.py",
        "pages/manifold.py",
        "pages/playground.py",
        "pages/reconstruct.py",
        "pages/interpolate.py",
        "pages/posterior.py",
        *(["pages/compare.py"] if kind == "examples-2d" else []),  # beside emoji-2d, Compare scores it: 150 s
    ]:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert not at.error, (page, [e.value for e in at.error])
        assert at.session_state["model_name"] == "imported"
        assert at.get("image") or at.get("plotly_chart") or at.get("bidi_component"), page  # it shows something
        if page == "pages/playground.py" and kind == "vanilla-vae-128d":  # sliders for the 24 with the most KL
            assert len([s for s in at.slider if s.label.startswith("z")]) == 24
            assert any(c.value.startswith("104 more dimensions") for c in at.caption)


def test_an_onnx_pair_is_imported_on_the_page():
    import onnx_models

    enc, dec = onnx_models.conv(2)
    e, d = onnx_models.pair(enc, dec, 2, ("stats",))
    at = _page()
    at.button_group(key="imp_kind").set_value("ONNX encoder + decoder").run()
    assert not at.exception
    at.file_uploader(key="imp_enc").set_value(("encoder.onnx", e, "application/octet-stream"))
    at.file_uploader(key="imp_dec").set_value(("decoder.onnx", d, "application/octet-stream")).run()
    assert not at.exception and not at.error, [x.value for x in at.error]
    assert "layout onnx" in at.success[0].value and "(2+2)" in at.success[0].value  # mu + logvar, latent 2
    read = next(m.value for m in at.markdown if m.value.startswith("**Read from the file or checked**"))
    assumed = next(m.value for m in at.markdown if m.value.startswith("**Assumed, not read from the file**"))
    assert "onnxruntime" in read and "operators:" in read and "onnxruntime" not in assumed
    assert at.text_input(key="imp_name").value == ""  # "encoder" would name nothing: asked for instead
    next(b for b in at.button if "Measure and save" in b.label).click().run()
    assert not at.exception and "Give the model a name" in at.error[0].value
    at.text_input(key="imp_name").input("conv-onnx")
    next(b for b in at.button if "Measure and save" in b.label).click().run()
    assert not at.exception and "Saved" in at.success[-1].value
    _, info = store.load("conv-onnx")
    assert set(info.source["files"]) == {"encoder.onnx", "decoder.onnx"} and "ConvTranspose" in info.source["operators"]


def test_anything_inside_a_file_that_breaks_the_reader_is_one_clear_error(monkeypatch):
    """Issue 36: the Import page caught only StoreError, so any other exception from inside a file
    showed a traceback. A reader that breaks in an unforeseen way is now one error, logged."""
    from vae.interop import importer

    def broken(*a, **k):
        raise KeyError(140095463167520)  # as ONNX's node bookkeeping once did

    monkeypatch.setattr(importer, "recognise", broken)
    at = _page()
    at.file_uploader(key="imp_file").set_value(("odd.pt", b"\x80\x02}q\x00.", "application/octet-stream"))
    at.run()
    assert not at.exception
    (error,) = at.error
    assert "could not be read" in error.value and "Nothing was saved" in error.value and "KeyError" in error.value
