"""vae.interop.export: ONNX run by onnxruntime and plain tensors loaded by the printed code compute
what the model does; export then import gives the same model."""

import numpy as np
import onnxruntime as ort
import pytest
import torch

from vae.interop import export, importer
from vae.models.config import ModelConfig
from vae.models.registry import build
from vae.store.modelfiles import StoreError

CONFIGS = {
    "mlp": ModelConfig(latent_dim=3, hidden=(32, 16), activation="tanh"),
    "conv": ModelConfig(latent_dim=2, arch="conv", conv_channels=(4, 8), activation="elu"),
    "gaussian": ModelConfig(latent_dim=2, hidden=(16,), likelihood="gaussian"),
    "layers": ModelConfig(
        arch="layers",
        latent_dim=2,
        encoder_layers=(("linear", 784, 8), ("act", "gelu"), ("linear", 8, 4)),
        decoder_layers=(("linear", 2, 784),),
    ),
}
X = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))
Z = torch.randn(6, 3, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("kind", CONFIGS)
def test_onnx_runs_in_onnxruntime_as_in_torch(kind):
    model = build(CONFIGS[kind], seed=0).eval()
    enc, dec = export.onnx_bytes(model)
    z = Z[:, : model.latent_dim]
    with torch.no_grad():
        mu, logvar = model.encode(X)
        mean = model.decode(z)
    e = ort.InferenceSession(enc, providers=["CPUExecutionProvider"])
    d = ort.InferenceSession(dec, providers=["CPUExecutionProvider"])
    got_mu, got_logvar = e.run(None, {"image": X.numpy()})
    np.testing.assert_allclose(got_mu, mu.numpy(), atol=1e-5)
    np.testing.assert_allclose(got_logvar, logvar.numpy(), atol=1e-5)
    np.testing.assert_allclose(d.run(None, {"z": z.numpy()})[0], mean.numpy(), atol=1e-5)


@pytest.mark.parametrize("kind", CONFIGS)
def test_plain_tensors_load_into_the_printed_code_and_import_back(kind, tmp_path):
    model = build(CONFIGS[kind], seed=0).eval()
    path = tmp_path / "m.safetensors"
    code = export.write_state_dict(model, path, "m")
    scope = {}
    import os

    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(code, "exported.py", "exec"), scope)  # the snippet a user copies
    finally:
        os.chdir(here)
    theirs = scope["model"].eval()
    z = Z[:, : model.latent_dim]
    with torch.no_grad():
        for a, b in zip(theirs.encode(X), model.encode(X)):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
        torch.testing.assert_close(theirs.decode(z), model.decode(z), atol=1e-5, rtol=0)
    activation = {"mlp": "tanh", "conv": "elu", "gaussian": "relu", "layers": "gelu"}[kind]
    rec = importer.recognise(str(path), activation=activation, likelihood=model.config.likelihood)
    back = rec.model()
    with torch.no_grad():
        for a, b in zip(back.encode(X), model.encode(X)):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
        torch.testing.assert_close(back.decode(z), model.decode(z), atol=1e-5, rtol=0)


def test_a_conditional_model_is_not_exported_and_says_why(tmp_path):
    model = build(ModelConfig(latent_dim=2, hidden=(8,), conditional="label", num_classes=3), seed=0)
    with pytest.raises(StoreError, match="label-conditional"):
        export.write_onnx(model, tmp_path)
    assert not list(tmp_path.iterdir())
