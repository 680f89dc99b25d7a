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
