"""python -m vae import / export end to end, in process."""

import io

import numpy as np
import onnxruntime as ort
import torch
from foreign_models import ExamplesVAE, trained

from vae import store
from vae.cli.main import main


def test_import_prints_what_it_recognised_then_export_round_trips(tmp_path, capsys):
    original = trained(ExamplesVAE(hidden=64, latent=2), steps=5)
    path = tmp_path / "vae.pth"
    torch.save(original.state_dict(), path)
    assert main(["import", str(path), "--name", "theirs", "--iw-samples", "3"]) == 0
    out = capsys.readouterr().out
    assert "layout pytorch-examples" in out and "fc21.weight" in out and "mu head" in out
    assert "saved theirs" in out and "test ELBO" in out
    model, info = store.load("theirs")
    assert info.source["file"] == "vae.pth"

    assert (
        main(
            ["export", "theirs", "--onnx", str(tmp_path / "onnx"), "--state-dict", str(tmp_path / "plain.safetensors")]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "class VAE(nn.Module)" in out and 'load_file("plain.safetensors")' in out
    z = np.random.default_rng(0).standard_normal((4, 2)).astype(np.float32)
    dec = ort.InferenceSession(str(tmp_path / "onnx" / "decoder.onnx"), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        np.testing.assert_allclose(
            dec.run(None, {"z": z})[0].reshape(4, -1), original.decode(torch.from_numpy(z)).numpy(), atol=1e-5
        )

    assert main(["import", str(tmp_path / "plain.safetensors"), "--name", "again", "--iw-samples", "3"]) == 0
    out = capsys.readouterr().out  # an imported model's export carries its layer map
    assert "layout map" in out and "map in the file's metadata" in out


def test_a_refused_file_is_an_error_line_and_saves_nothing(tmp_path, capsys):
    path = tmp_path / "module.pt"
    buf = io.BytesIO()
    torch.save(ExamplesVAE(hidden=8, latent=2), buf)  # the whole module, pickled
    path.write_bytes(buf.getvalue())
    assert main(["import", str(path), "--name", "x"]) == 2
    err = capsys.readouterr().err
    assert "refused" in err and "state_dict()" in err
    assert not any(m.name == "x" for m in store.list_models())
    assert main(["export", "x", "--onnx", str(tmp_path)]) == 2
