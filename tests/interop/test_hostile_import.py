"""The import path against hostile and broken files: each refused with its own message, nothing
executed, nothing written to the store."""

import pytest
from hostile_weights import cases

from vae import limits, store
from vae.cli.main import main
from vae.interop import importer
from vae.store.modelfiles import StoreError

CASES = cases("MARKER")


def test_the_corpus_is_big_and_every_message_is_its_own():
    assert len(CASES) >= 20
    assert len({message for _, _, message in CASES}) >= 20


@pytest.mark.parametrize("name, data, message", CASES, ids=[c[0] for c in CASES])
def test_each_file_is_refused_with_its_message_and_nothing_runs(name, data, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a payload's relative marker would land here
    marker = tmp_path / "MARKER"
    name, data, message = next(c for c in cases(marker) if c[0] == name)
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(StoreError, match=message):
        importer.recognise(name, data)
    assert main(["import", str(path), "--name", "hostile"]) == 2  # the CLI says so too, and saves nothing
    assert not marker.exists()
    assert [m.name for m in store.list_models() if not m.bundled] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MODEL_BYTES", 1000)
    path = tmp_path / "big.safetensors"
    path.write_bytes(b"\0" * 2000)
    with pytest.raises(StoreError, match="over the limit"):
        importer.recognise(str(path))


def _onnx_cases(tmp_path):
    from hostile_onnx import cases as onnx_cases

    return onnx_cases(tmp_path)


ONNX_IDS = [
    "unsupported-op",
    "cycle",
    "missing-initializer",
    "external-dotdot",
    "external-absolute",
    "external-missing",
    "truncated",
    "100000-nodes",
    "2GB-tensor",
    "short-tensor",
    "opset",
    "empty",
    "not-onnx",
    "skip-connection",
    "grouped-conv",
    "two-decoder-outputs",
    "latent-mismatch",
]


def test_the_whole_corpus_has_over_thirty_files(tmp_path):
    assert len(CASES) + len(_onnx_cases(tmp_path)) >= 30
    assert [c[0] for c in _onnx_cases(tmp_path)] == ONNX_IDS


@pytest.mark.parametrize("case", ONNX_IDS)
def test_each_onnx_file_is_refused_with_its_message(case, tmp_path, capsys):
    from vae.interop import onnx_import

    _, enc, dec, message = next(c for c in _onnx_cases(tmp_path) if c[0] == case)
    (tmp_path / "enc.onnx").write_bytes(enc)
    (tmp_path / "dec.onnx").write_bytes(dec)
    with pytest.raises(StoreError, match=message):
        onnx_import.recognise_onnx(("enc.onnx", enc), ("dec.onnx", dec), folders=(tmp_path, tmp_path))
    assert (
        main(
            [
                "import",
                "--onnx-encoder",
                str(tmp_path / "enc.onnx"),
                "--onnx-decoder",
                str(tmp_path / "dec.onnx"),
                "--name",
                "hostile",
            ]
        )
        == 2
    )
    assert "error:" in capsys.readouterr().err
    assert [m.name for m in store.list_models() if not m.bundled] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dec.onnx", "enc.onnx", "weights.bin"]


def test_external_data_inside_the_folder_is_read_and_refused_in_an_upload(tmp_path):
    from hostile_onnx import _external
    from onnx_models import mlp, pair

    from vae.interop import onnx_import

    enc, _ = pair(*mlp(2), 2)
    (tmp_path / "weights.bin").write_bytes(b"\0" * (784 * 2 * 4))
    rec = onnx_import.recognise_onnx(
        ("e.onnx", enc), ("d.onnx", _external("weights.bin")), folders=(tmp_path, tmp_path)
    )
    assert rec.config.latent_dim == 2
    with pytest.raises(StoreError, match="keeps its weights in another file"):
        onnx_import.recognise_onnx(("e.onnx", enc), ("d.onnx", _external("weights.bin")))
