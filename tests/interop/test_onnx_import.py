"""vae.interop.onnx_import: ONNX encoder/decoder pairs become models that compute what the graphs'
own torch modules did (within 1e-5); our own export round trips; a head that gives sigma is read."""

import onnx_models
import pytest
import torch

from vae import store
from vae.cli.main import main
from vae.interop import export, importer, onnx_import
from vae.models.config import ModelConfig
from vae.models.registry import build
from vae.store.modelfiles import StoreError

X = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(3))


def _close(a, b):
    torch.testing.assert_close(a.reshape(len(a), -1), b.reshape(len(b), -1), atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", ["mlp", "conv"])
def test_a_pair_exported_from_torch_agrees_with_its_modules(kind):
    torch.manual_seed(0)
    latent = 3 if kind == "mlp" else 2
    enc, dec = onnx_models.mlp(latent) if kind == "mlp" else onnx_models.conv(latent)
    e, d = onnx_models.pair(enc, dec, latent, ("mu", "logvar") if kind == "mlp" else ("stats",))
    rec = onnx_import.recognise_onnx(("enc.onnx", e), ("dec.onnx", d))
    model = rec.model()
    z = torch.randn(5, latent)
    with torch.no_grad():
        out = enc(X)
        mu, logvar = out if kind == "mlp" else out.chunk(2, 1)
        ours = model.encode(X)
        _close(ours[0], mu)
        _close(ours[1], logvar)
        _close(model.decode(z), dec(z))
    assert rec.extra["operators"] and set(rec.extra["files"]) == {"enc.onnx", "dec.onnx"}
    if kind == "conv":  # the Unflatten's shape arithmetic was folded, the batch left free
        assert {"Shape", "Concat", "Reshape"} <= set(rec.extra["operators"])
        assert any("first half read as mu" in n for n in rec.notes)


def test_a_sigma_head_through_exp_is_read_and_said():
    torch.manual_seed(1)
    enc, dec = onnx_models.mlp(2, head="std")
    e, d = onnx_models.pair(enc, dec, 2, ("mu", "std"))
    rec = onnx_import.recognise_onnx(("enc.onnx", e), ("dec.onnx", d))
    assert any("is sigma" in n for n in rec.notes)
    with torch.no_grad():
        mu, std = enc(X)
        ours = rec.model().encode(X)
        _close(ours[0], mu)
        _close(torch.exp(0.5 * ours[1]), std)


def test_a_softplus_sigma_head_is_recognised_and_refused():
    enc, dec = onnx_models.mlp(2, head="softplus")
    e, d = onnx_models.pair(enc, dec, 2, ("mu", "sigma"))
    with pytest.raises(StoreError, match="softplus after its linear layer"):
        onnx_import.recognise_onnx(("enc.onnx", e), ("dec.onnx", d))


@pytest.mark.parametrize(
    "cfg",
    [
        ModelConfig(latent_dim=3, hidden=(32, 16), activation="tanh"),
        ModelConfig(latent_dim=2, arch="conv", conv_channels=(4, 8), activation="elu"),
        ModelConfig(latent_dim=2, hidden=(16,), likelihood="gaussian"),
    ],
    ids=["mlp", "conv", "gaussian"],
)
def test_our_own_export_round_trips(cfg):
    model = build(cfg, seed=0).eval()
    e, d = export.onnx_bytes(model)
    back = onnx_import.recognise_onnx(("e.onnx", e), ("d.onnx", d), likelihood=cfg.likelihood).model()
    z = torch.randn(4, cfg.latent_dim)
    with torch.no_grad():
        for a, b in zip(back.encode(X), model.encode(X)):
            _close(a, b)
        _close(back.decode(z), model.decode(z))


def test_the_cli_imports_a_pair_and_the_card_records_both_files(tmp_path, capsys):
    enc, dec = onnx_models.mlp(2)
    e, d = onnx_models.pair(enc, dec, 2)
    (tmp_path / "enc.onnx").write_bytes(e)
    (tmp_path / "dec.onnx").write_bytes(d)
    assert (
        main(
            [
                "import",
                "--onnx-encoder",
                str(tmp_path / "enc.onnx"),
                "--onnx-decoder",
                str(tmp_path / "dec.onnx"),
                "--name",
                "from-onnx",
                "--iw-samples",
                "3",
            ]
        )
        == 0
    )
    assert "layout onnx" in capsys.readouterr().out
    _, info = store.load("from-onnx")
    assert set(info.source["files"]) == {"enc.onnx", "dec.onnx"} and "Gemm" in info.source["operators"]
    assert all(len(h) == 64 for h in info.source["files"].values())
    assert main(["import", "--onnx-encoder", str(tmp_path / "enc.onnx"), "--name", "half"]) == 2
    assert "together" in capsys.readouterr().err


def test_a_disagreement_with_onnxruntime_is_refused(monkeypatch):
    enc, dec = onnx_models.mlp(2)
    e, d = onnx_models.pair(enc, dec, 2)
    real = importer.Recognised.model

    def off(self):  # a converter bug, simulated: the rebuilt model's decoder drifts
        m = real(self)
        with torch.no_grad():
            m.decoder[0].bias.add_(0.5)
        return m

    monkeypatch.setattr(importer.Recognised, "model", off)
    with pytest.raises(StoreError, match=r"disagrees with the graphs by up to [0-9.e-]+"):
        onnx_import.recognise_onnx(("e.onnx", e), ("d.onnx", d))
