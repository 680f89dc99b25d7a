import json
import os
import pickle

import pytest
import torch

from vae.models.config import ModelConfig
from vae.models.registry import build
from vae.store import catalog as store


def _model(latent_dim=2):
    return build(ModelConfig(image_shape=(1, 8, 8), hidden=(16,), latent_dim=latent_dim), seed=0)


def test_save_load_round_trip_is_exact(tmp_path):
    model = _model(3)
    store.save(
        model,
        "m1",
        tmp_path,
        dataset={"name": "digits"},
        metrics={"elbo": -20.5},
        history=[{"epoch": 1}],
        train_config={"epochs": 1},
    )
    loaded, info = store.load("m1", tmp_path)
    assert loaded.config == model.config
    for (k, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), k
    assert info.dataset == "digits" and info.metrics == {"elbo": -20.5}
    assert info.meta["history"] == [{"epoch": 1}] and info.meta["format_version"] == store.FORMAT_VERSION
    x = torch.rand(2, 1, 8, 8)
    assert torch.equal(model.encode(x)[0], loaded.encode(x)[0])


def test_models_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_MODELS_DIR", str(tmp_path / "elsewhere"))
    store.save(_model(), "envmodel")
    assert (tmp_path / "elsewhere" / "envmodel" / store.WEIGHTS).is_file()


def test_list_shows_the_bundled_models_first_then_newest(tmp_path):
    store.save(_model(), "older", tmp_path)
    os.utime(tmp_path / "older" / store.META, (0, 0))
    store.save(_model(), "newer", tmp_path)
    meta = json.loads((tmp_path / "older" / store.META).read_text())
    meta["created"] = "2000-01-01T00:00:00"
    (tmp_path / "older" / store.META).write_text(json.dumps(meta))
    names = [m.name for m in store.list_models(tmp_path)]
    assert names == ["default", "emoji-2d", "mnist-5k-2d", "newer", "older"]


def test_version_changes_when_weights_are_rewritten(tmp_path):
    info1 = store.save(_model(), "v", tmp_path)
    v1 = info1.version
    info2 = store.save(_model(4), "v", tmp_path, overwrite=True)
    assert info2.version != v1
    assert store.load("v", tmp_path)[0].latent_dim == 4


def test_existing_name_needs_overwrite(tmp_path):
    store.save(_model(), "dup", tmp_path)
    with pytest.raises(store.StoreError, match="already exists"):
        store.save(_model(), "dup", tmp_path)


@pytest.mark.parametrize("name", ["", "../evil", "a/b", ".hidden", "x" * 65, "sp ace"])
def test_bad_names_are_refused(tmp_path, name):
    with pytest.raises(store.StoreError, match="not allowed"):
        store.save(_model(), name, tmp_path)


def test_default_name_is_reserved(tmp_path):
    with pytest.raises(store.StoreError, match="bundled"):
        store.save(_model(), "default", tmp_path)
    with pytest.raises(store.StoreError, match="bundled"):
        store.delete("default", tmp_path)


def test_a_crash_mid_write_leaves_nothing_visible(tmp_path, monkeypatch):
    store.save(_model(), "keep", tmp_path)

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(store, "save_file", boom)
    with pytest.raises(OSError):
        store.save(_model(), "half", tmp_path)
    with pytest.raises(OSError):
        store.save(_model(5), "keep", tmp_path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep"]  # no temp folders left
    assert store.load("keep", tmp_path)[0].latent_dim == 2  # the old model is intact


class _Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['MARKER']}",))


def test_a_planted_pickle_is_refused_and_never_executed(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("MARKER", str(marker))
    store.save(_model(), "victim", tmp_path)
    payload = pickle.dumps({"weights": _Exploit()})
    (tmp_path / "victim" / store.WEIGHTS).write_bytes(payload)
    # a torch.save-style file dropped next to it is ignored as well
    torch.save({"x": 1}, tmp_path / "victim" / "model.pt")
    with pytest.raises(store.StoreError, match="not a valid safetensors"):
        store.load("victim", tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda p: (p / store.META).write_text("{not json"), "not valid JSON"),
        (lambda p: (p / store.META).unlink(), "needs"),
        (lambda p: (p / store.META).write_text(json.dumps({"format_version": 99})), "unsupported"),
        (
            lambda p: (p / store.META).write_text(json.dumps({"format_version": 1, "config": {"latent_dim": 0}})),
            "bad model config",
        ),
    ],
)
def test_broken_models_are_listed_with_a_reason_and_refused(tmp_path, damage, message):
    store.save(_model(), "broken", tmp_path)
    damage(tmp_path / "broken")
    listed = {m.name: m for m in store.list_models(tmp_path)}
    assert message in listed["broken"].error
    with pytest.raises(store.StoreError, match=message):
        store.load("broken", tmp_path)


def test_weights_that_do_not_match_the_config_are_refused(tmp_path):
    store.save(_model(), "mismatch", tmp_path)
    meta = json.loads((tmp_path / "mismatch" / store.META).read_text())
    meta["config"]["latent_dim"] = 7
    (tmp_path / "mismatch" / store.META).write_text(json.dumps(meta))
    with pytest.raises(store.StoreError, match="do not match"):
        store.load("mismatch", tmp_path)


def test_a_training_state_is_kept_beside_the_model_and_read_back(tmp_path):
    tensors = {"weights.w": torch.arange(6.0).reshape(2, 3), "generator": torch.arange(5, dtype=torch.uint8)}
    store.save(_model(), "plain", tmp_path)
    info = store.save(_model(), "resumable", tmp_path, training_state=(tensors, {"state": "{}"}))
    assert (info.path / store.TRAINING).is_file() and info.meta["resumable"] is True
    assert store.find("plain", tmp_path).meta["resumable"] is False
    assert store.load_training_state("plain", tmp_path) is None
    back, metadata = store.load_training_state("resumable", tmp_path)
    assert metadata["state"] == "{}" and back.keys() == tensors.keys()
    assert all(torch.equal(back[k], v) for k, v in tensors.items())
    store.rename("resumable", "moved", tmp_path)
    assert store.load_training_state("moved", tmp_path) is not None
    (tmp_path / "moved" / store.TRAINING).write_bytes(pickle.dumps({"not": "safetensors"}))
    with pytest.raises(store.StoreError, match="not a valid safetensors"):
        store.load_training_state("moved", tmp_path)


def test_rename_and_delete(tmp_path):
    store.save(_model(), "a", tmp_path)
    info = store.rename("a", "b", tmp_path)
    assert info.name == "b" and info.meta["name"] == "b"
    assert [m.name for m in store.list_models(tmp_path) if not m.bundled] == ["b"]
    store.delete("b", tmp_path)
    assert [m.name for m in store.list_models(tmp_path)] == store.bundled_names()
    with pytest.raises(store.StoreError, match="no model"):
        store.load("b", tmp_path)


def test_bundled_default_model_loads():
    model, info = store.load("default")
    assert info.bundled and model.config.latent_dim == 2 and model.config.image_shape == (1, 28, 28)
    assert info.dataset == "mnist"
    assert info.metrics["elbo"] < 0


def test_the_card_explains_each_number_fairly():
    """Published binarized-MNIST figures only beside a binarized MNIST score; colour in bits/dim."""
    from vae.store import card

    models = {m.name: m for m in store.list_models()}
    default, grey, colour = (card.explain(models[n]) for n in ("default", "mnist-5k-2d", "emoji-2d"))
    assert set(default) == {"elbo", "iw", "kl", "active", "gap"}
    assert "Published on binarized MNIST" in default["iw"] and "not comparable" in grey["iw"]
    assert "bits per dimension" in colour["iw"] and "MNIST" not in colour["iw"]
    kl = models["default"].metrics["kl"]
    assert f"{kl / 0.6931471805599453:.1f} bits" in default["kl"]
    assert models["default"].binarized and len(models["default"].history) > 0 and models["emoji-2d"].recipe
