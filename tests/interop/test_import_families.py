"""Import the VAEs people already have (issue 35): BatchNorm folded in, LeakyReLU of any slope, Tanh
outputs over data in [-1, 1], AntixK/PyTorch-VAE's VanillaVAE, pythae's saved folders, DCGAN-style
stacks; each built here from its description, saved as its code saves it, imported and compared
with its own forward pass (mu, log-variance and the decoded picture within 1e-5)."""

import io

import pytest
import torch
from foreign_models import DCGANVAE, VanillaVAE, with_statistics

from vae.interop import importer
from vae.store.modelfiles import StoreError


def _pt(state) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def _agrees(original, ours, x, signed: bool):
    """ours takes pictures in [0, 1] and gives means in [0, 1]; a signed original works on [-1, 1]."""
    with torch.no_grad():
        mu, logvar = original.encode(x * 2 - 1 if signed else x)
        our_mu, our_logvar = ours.encode(x)
        torch.testing.assert_close(our_mu, mu, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(our_logvar, logvar, atol=1e-5, rtol=1e-5)
        z = torch.randn(4, mu.shape[1], generator=torch.Generator().manual_seed(0))
        theirs = original.decode(z)
        theirs = (theirs + 1) / 2 if signed else theirs
        assert theirs.std() > 0.01, "the check needs pictures with contrast"
        torch.testing.assert_close(ours.decode(z).reshape(theirs.shape), theirs, atol=1e-5, rtol=0)


def test_antixk_vanilla_vae_imports_from_its_lightning_checkpoint():
    """The default VanillaVAE (hidden 32-64-128-256-512, a 128-D latent, 64x64 RGB), saved as
    PyTorch-VAE's Lightning experiment saves it: {"state_dict": {"model.encoder...": ...}}."""
    original = with_statistics(VanillaVAE())
    data = _pt({"state_dict": {f"model.{k}": v for k, v in original.state_dict().items()}, "epoch": 3})
    rec = importer.recognise("vanilla_vae.ckpt", data)
    assert rec.layout == "vanilla-vae" and rec.config.latent_dim == 128
    assert rec.config.image_shape == (3, 64, 64) and rec.config.signed and rec.config.output == "tanh"
    assert any("hidden sizes [32, 64, 128, 256, 512]" in f for f in rec.facts)
    assert any("[-1, 1]" in f for f in rec.facts) and any("leaky_relu" in n for n in rec.notes)
    assert not any(kind == "affine" for kind, *_ in rec.config.decoder_layers)  # every BatchNorm folded
    x = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    _agrees(original, rec.model(), x, signed=True)


def test_a_dcgan_style_stack_is_recognised_with_its_activations():
    original = with_statistics(DCGANVAE())
    rec = importer.recognise("dcgan.pt", _pt(original.state_dict()))
    assert rec.layout == "dcgan" and rec.config.signed
    assert ("act", "leaky_relu", 0.2) in rec.config.encoder_layers and ("act", "relu") in rec.config.decoder_layers
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    _agrees(original, rec.model(), x, signed=True)


def test_batchnorm_where_nothing_precedes_it_is_kept_as_a_layer():
    """A layout map with a BatchNorm after an activation (nothing to fold into) and a LeakyReLU(0.3)."""
    torch.manual_seed(0)
    enc = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(784, 32), torch.nn.LeakyReLU(0.3), torch.nn.BatchNorm1d(32)
    )
    dec = torch.nn.Sequential(torch.nn.Linear(4, 784), torch.nn.Sigmoid())
    heads = torch.nn.Linear(32, 8)

    class Mapped(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.enc, self.dec, self.heads = enc, dec, heads

        def encode(self, x):
            return self.heads(self.enc(x)).chunk(2, dim=-1)

        def decode(self, z):
            return self.dec(z)

    original = with_statistics(Mapped())
    layout = (
        '{"encoder": [["flatten"], ["linear", "enc.1"], ["act", "leaky_relu", 0.3], ["batchnorm", "enc.3"]],'
        ' "heads": "heads", "decoder": [["linear", "dec.0"], ["act", "sigmoid"]]}'
    )
    rec = importer.recognise("mapped.pt", _pt(original.state_dict()), layout_map=layout)
    assert ("affine", 32) in rec.config.encoder_layers and ("act", "leaky_relu", 0.3) in rec.config.encoder_layers
    x = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    _agrees(original, rec.model(), x, signed=False)


def test_batchnorm_refusals_say_what_is_wrong():
    original = with_statistics(DCGANVAE())
    state = {k: v for k, v in original.state_dict().items() if "running_var" not in k}
    with pytest.raises(StoreError, match="without running statistics"):
        importer.recognise("dcgan.pt", _pt(state), layout="dcgan")
    state = dict(original.state_dict())
    state["encoder.3.num_batches_tracked"] = torch.zeros(3, dtype=torch.int64)  # not a counter: refused
    with pytest.raises(StoreError, match="real floating point"):
        importer.recognise("dcgan.pt", _pt(state))


def _pythae_agrees(model, rec, x):
    with torch.no_grad():
        out = model.encoder(x)
        ours = rec.model()
        mu, logvar = ours.encode(x)
        torch.testing.assert_close(mu, out.embedding, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(logvar, out.log_covariance, atol=1e-5, rtol=1e-5)
        z = torch.randn(4, mu.shape[1], generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(ours.decode(z), model.decoder(z).reconstruction, atol=1e-5, rtol=0)


@pytest.mark.parametrize("nets", ["default-mlp", "conv-mnist"])
def test_a_folder_pythae_saved_imports_without_unpickling(tmp_path, nets, capsys):
    """pythae itself (a test requirement) writes the folder; the import reads model_config.json and
    model.pt only: encoder.pkl / decoder.pkl (custom networks) are never opened."""
    from pythae.models import VAE, VAEConfig
    from pythae.models.nn.benchmarks.mnist import Decoder_Conv_AE_MNIST, Encoder_Conv_VAE_MNIST

    from vae.cli.main import main
    from vae.interop import pythae_folder

    torch.manual_seed(0)
    cfg = VAEConfig(input_dim=(1, 28, 28), latent_dim=6, reconstruction_loss="bce")
    nets_kw = (
        {} if nets == "default-mlp" else {"encoder": Encoder_Conv_VAE_MNIST(cfg), "decoder": Decoder_Conv_AE_MNIST(cfg)}
    )
    model = with_statistics(VAE(cfg, **nets_kw))
    model.save(str(tmp_path / "final_model"))
    if nets == "conv-mnist":  # pickles of classes: opening either would run code
        for name in ("encoder.pkl", "decoder.pkl"):
            (tmp_path / "final_model" / name).write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")
    rec = pythae_folder.recognise_folder(tmp_path / "final_model")
    assert rec.layout == ("pythae-mlp" if nets == "default-mlp" else "pythae-conv-mnist")
    assert rec.config.latent_dim == 6 and rec.config.likelihood == "bernoulli" and rec.config.output == "sigmoid"
    assert any("a pythae VAE folder" in f for f in rec.facts)
    _pythae_agrees(model, rec, torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(4)))
    if nets == "default-mlp":
        assert main(["import", str(tmp_path / "final_model"), "--name", "pythae-vae", "--iw-samples", "2"]) == 0
        assert "layout pythae-mlp" in capsys.readouterr().out


def test_a_pythae_folder_with_custom_networks_is_explained_not_unpickled(tmp_path):
    from pythae.models import VAE, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

    from vae.interop import pythae_folder

    class Enc(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.body, self.mu, self.lv = torch.nn.Linear(784, 16), torch.nn.Linear(16, 2), torch.nn.Linear(16, 2)

        def forward(self, x):
            h = self.body(x.flatten(1))
            return ModelOutput(embedding=self.mu(h), log_covariance=self.lv(h))

    class Dec(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.out = torch.nn.Linear(2, 784)

        def forward(self, z):
            return ModelOutput(reconstruction=torch.sigmoid(self.out(z)).view(-1, 1, 28, 28))

    cfg = VAEConfig(input_dim=(1, 28, 28), latent_dim=2)
    VAE(cfg, encoder=Enc(), decoder=Dec()).save(str(tmp_path / "custom"))
    with pytest.raises(StoreError, match="pickled, and unpickling runs code.*layout map.*encoder.body"):
        pythae_folder.recognise_folder(tmp_path / "custom")
    (tmp_path / "custom" / "model_config.json").write_text(
        '{"name": "AEConfig", "input_dim": [1, 28, 28], "latent_dim": 2}'
    )
    with pytest.raises(StoreError, match="a pythae AE; the explorer reads VAEs"):
        pythae_folder.recognise_folder(tmp_path / "custom")
    (tmp_path / "custom" / "model_config.json").write_text("[1, 2")
    with pytest.raises(StoreError, match="not JSON"):
        pythae_folder.recognise_folder(tmp_path / "custom")


def _onnx_pair(enc, dec, shape, latent, fixed_batch=False):
    import onnx_models

    return (
        ("enc.onnx", onnx_models.to_onnx(enc, shape, ["image"], ["mu", "logvar"], fixed_batch=fixed_batch)),
        ("dec.onnx", onnx_models.to_onnx(dec, (latent,), ["z"], ["x"], fixed_batch=fixed_batch)),
    )


@pytest.mark.parametrize("fixed_batch", [False, True])
def test_upsampling_decoders_and_patterned_activations_import_through_onnx(fixed_batch):
    """Resize (nearest, bilinear), BatchNormalization, LeakyRelu(0.2), Elu(0.5), SiLU and Mish as
    torch exports them, Hardtanh as Clip; also with the batch fixed at 1 (no dynamic_axes)."""
    import onnx_models

    from vae.interop import onnx_import

    torch.manual_seed(0)
    enc, dec = onnx_models.upsampling()
    enc, dec = with_statistics(enc), with_statistics(dec)
    rec = onnx_import.recognise_onnx(*_onnx_pair(enc, dec, (1, 28, 28), 4, fixed_batch))
    layers = rec.config.encoder_layers + rec.config.decoder_layers
    for layer in [("act", "leaky_relu", 0.2), ("act", "elu", 0.5), ("act", "silu"), ("act", "mish"),
                  ("upsample", 2, "nearest"), ("upsample", 2, "bilinear"), ("act", "hardtanh", -0.5, 2.0)]:  # fmt: skip
        assert layer in layers, layer
    assert not any(x[0] == "affine" for x in layers)  # both BatchNorms folded
    assert any("checked against onnxruntime" in f for f in rec.facts)
    model, x = rec.model(), torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        mu, logvar = enc(x)
        torch.testing.assert_close(model.encode(x)[0], mu, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(model.encode(x)[1], logvar, atol=1e-5, rtol=1e-5)
        z = torch.randn(3, 4)
        torch.testing.assert_close(model.decode(z), dec(z), atol=1e-5, rtol=0)


def test_the_vanilla_vae_and_a_dcgan_stack_import_through_onnx():
    import onnx_models

    from vae.interop import onnx_import

    for original, shape, latent in [
        (VanillaVAE(hidden_dims=(16, 32, 32, 64, 64)), (3, 64, 64), 128),
        (DCGANVAE(), (1, 28, 28), 8),
    ]:
        original = with_statistics(original)
        enc, dec = onnx_models.Encode(original), onnx_models.Decode(original)
        rec = onnx_import.recognise_onnx(*_onnx_pair(enc, dec, shape, latent, fixed_batch=True))
        assert rec.config.output == "tanh" and rec.config.signed and rec.config.latent_dim == latent
        assert any("[-1, 1]" in f for f in rec.facts)
        x = torch.rand(2, *shape, generator=torch.Generator().manual_seed(6))
        _agrees(original, rec.model(), x, signed=True)


def test_an_upsampling_decoder_imports_from_a_state_dict_with_a_map():
    """An nn.Upsample leaves no tensor in a state dict: the map names it, and the rest is checked."""
    import onnx_models

    torch.manual_seed(1)
    enc, dec = onnx_models.upsampling()
    enc, dec = with_statistics(enc), with_statistics(dec)

    class Pair(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.enc, self.dec = enc, dec

        def encode(self, x):
            return self.enc(x)

        def decode(self, z):
            return self.dec(z)

    layout = """{"encoder": [["conv", "enc.body.0", 2, 1], ["batchnorm", "enc.body.1"], ["act", "leaky_relu", 0.2],
                 ["conv", "enc.body.3", 2, 1], ["act", "elu", 0.5], ["flatten"], ["linear", "enc.body.6"],
                 ["act", "silu"]],
     "heads": ["enc.mu", "enc.second"],
     "decoder": [["linear", "dec.0"], ["act", "mish"], ["unflatten", 16, 7, 7], ["upsample", 2, "nearest"],
                 ["conv", "dec.4", 1, 1], ["batchnorm", "dec.5"], ["act", "hardtanh", -0.5, 2.0],
                 ["upsample", 2, "bilinear"], ["conv", "dec.8", 1, 1], ["act", "sigmoid"]]}"""
    original = Pair().eval()
    rec = importer.recognise("up.pt", _pt(original.state_dict()), layout_map=layout)
    _agrees(original, rec.model(), torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(7)), signed=False)
    bad = layout.replace('["upsample", 2, "bilinear"]', '["upsample", 2, "bicubic"]')
    with pytest.raises(StoreError, match="upsample takes"):
        importer.recognise("up.pt", _pt(original.state_dict()), layout_map=bad)


def test_an_imported_model_exported_as_plain_tensors_imports_back_layer_for_layer(tmp_path):
    """The export writes its layer map (LeakyReLU's 0.2 and ReLU side by side, the Tanh output, data in
    [-1, 1]) into the file's metadata, so the import back needs no options and loses nothing."""
    from vae.interop import export

    original = with_statistics(DCGANVAE())
    rec = importer.recognise("dcgan.pt", _pt(original.state_dict()))
    export.write_state_dict(rec.model(), tmp_path / "dc.safetensors")
    back = importer.recognise("dc.safetensors", (tmp_path / "dc.safetensors").read_bytes())
    assert back.layout == "map" and back.config == rec.config
    assert any("map in the file's metadata" in f for f in back.facts)
    _agrees(original, back.model(), torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(8)), signed=True)
