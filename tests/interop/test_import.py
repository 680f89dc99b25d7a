"""vae.interop: foreign state dicts become models of the store that compute exactly what the
original did (mu, log-variance and the decoded mean within 1e-5)."""

import io
import json

import pytest
import torch
from foreign_models import ExamplesVAE, sequential_conv, sequential_mlp, trained
from safetensors.torch import save as save_safetensors

from vae import store
from vae.data import datasets
from vae.interop import importer
from vae.store.modelfiles import StoreError

X = torch.from_numpy(datasets.load_dataset("mnist-5k", "test").images[:16])


def _pt(model) -> bytes:
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getvalue()


def _st(model) -> bytes:
    return save_safetensors({k: v.contiguous() for k, v in model.state_dict().items()})


def _agrees(original, ours):
    with torch.no_grad():
        mu, logvar = original.encode(X)
        our_mu, our_logvar = ours.encode(X)
        torch.testing.assert_close(our_mu, mu, atol=1e-5, rtol=0)
        torch.testing.assert_close(our_logvar, logvar, atol=1e-5, rtol=0)
        torch.testing.assert_close(torch.exp(0.5 * our_logvar), torch.exp(0.5 * logvar), atol=1e-5, rtol=1e-5)
        z = torch.randn(8, mu.shape[1], generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(ours.decode(z).view(8, -1), original.decode(z).reshape(8, -1), atol=1e-5, rtol=0)


CASES = {
    "pytorch-examples": (lambda: ExamplesVAE(), "relu", "pytorch-examples"),
    "sequential-mlp": (sequential_mlp, "tanh", "sequential"),
    "sequential-conv": (sequential_conv, "relu", "sequential"),
}


@pytest.fixture(scope="module")
def originals():
    return {k: trained(make()) for k, (make, _, _) in CASES.items()}


@pytest.mark.parametrize("kind", CASES)
@pytest.mark.parametrize("fmt", ["pt", "safetensors"])
def test_an_imported_model_computes_what_the_original_did(originals, kind, fmt):
    original = originals[kind]
    data = _pt(original) if fmt == "pt" else _st(original)
    rec = importer.recognise(f"their.{fmt}", data, activation=CASES[kind][1])
    assert rec.layout == CASES[kind][2]
    assert {r["tensor"] for r in rec.rows} == set(original.state_dict())
    _agrees(original, rec.model())


def test_import_saves_a_store_model_with_its_source_and_metrics(originals):
    data = _pt(originals["pytorch-examples"])
    rec = importer.recognise("examples.pt", data)
    info = importer.save_imported(rec, "theirs", "mnist-5k", iw_samples=5)
    model, info = store.load("theirs")
    assert info.source["kind"] == "imported" and info.source["layout"] == "pytorch-examples"
    assert info.source["sha256"] == __import__("hashlib").sha256(data).hexdigest()
    assert info.metrics["n"] == 1000 and info.metrics["elbo"] < info.metrics["iw_log_likelihood"] < 0
    _agrees(originals["pytorch-examples"], model)
    with pytest.raises(StoreError, match="already exists"):
        importer.save_imported(rec, "theirs", "mnist-5k", iw_samples=5)


def test_a_checkpoint_holding_the_state_dict_and_dataparallel_names_import(originals):
    sd = {f"module.{k}": v for k, v in originals["sequential-mlp"].state_dict().items()}
    buf = io.BytesIO()
    torch.save({"epoch": 3, "state_dict": sd}, buf)
    rec = importer.recognise("ckpt.pth", buf.getvalue(), activation="tanh")
    assert any("module." in n for n in rec.notes)
    _agrees(originals["sequential-mlp"], rec.model())


def test_a_layout_map_names_every_layer(originals):
    mapping = {
        "encoder": [["linear", "fc1"], ["act", "relu"]],
        "heads": ["fc21", "fc22"],
        "decoder": [["linear", "fc3"], ["act", "relu"], ["linear", "fc4"], ["act", "sigmoid"]],
    }
    rec = importer.recognise("e.pt", _pt(originals["pytorch-examples"]), layout_map=json.dumps(mapping))
    assert rec.layout == "map"
    _agrees(originals["pytorch-examples"], rec.model())


def _broken(change):
    sd = dict(ExamplesVAE(n=784, hidden=16, latent=2).state_dict())
    change(sd)
    return save_safetensors({k: v.contiguous() for k, v in sd.items()})


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda sd: sd.pop("fc22.weight"), "no tensor 'fc22.weight'"),
        (lambda sd: sd.update({"extra.weight": torch.zeros(3, 3)}), "does not use: extra.weight"),
        (lambda sd: sd.update({"fc3.weight": torch.zeros(16, 5)}), "latent size mismatch.*fc3.weight.*takes 5"),
        (lambda sd: sd.update({"fc4.weight": torch.zeros(700, 16), "fc4.bias": torch.zeros(700)}), "decoder must end"),
        (lambda sd: sd.update({"fc21.bias": torch.zeros(7)}), "fc21.bias has shape \\(7,\\)"),
        (lambda sd: sd["fc1.weight"].__setitem__((0, 0), float("nan")), "fc1.weight holds NaN"),
        (lambda sd: sd.update({"fc22.weight": torch.zeros(3, 16), "fc22.bias": torch.zeros(3)}), "differ in shape"),
    ],
    ids=["missing", "extra", "latent", "image", "bias", "nan", "heads"],
)
def test_what_does_not_fit_is_refused_naming_the_tensor(change, message):
    with pytest.raises(StoreError, match=message):
        importer.recognise("bad.safetensors", _broken(change))
    assert store.list_models() == [m for m in store.list_models() if m.bundled]  # nothing saved


def test_the_image_shape_must_match_the_dataset(originals):
    rec = importer.recognise("e.pt", _pt(originals["pytorch-examples"]))
    with pytest.raises(StoreError, match="digits has images of shape"):
        importer.save_imported(rec, "x", "digits", iw_samples=2)


@pytest.mark.parametrize(
    "file_name, name",
    [
        ("mnist vae.pt", "mnist-vae"),
        ("encoder.onnx", ""),
        ("model.safetensors", ""),
        ("encoder.onnx + decoder.onnx", ""),
        ("their_vae.pth", "their_vae"),
    ],
)
def test_a_name_is_suggested_only_when_the_file_name_says_something(file_name, name):
    assert importer.suggest_name(file_name) == name
