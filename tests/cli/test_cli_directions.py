"""python -m vae directions / edit on the bundled mnist-5k-2d model (its data ships with the app)."""

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from vae.cli.main import main
from vae.data import datasets as data
from vae.inference import direction_builder
from vae.store import catalog as store
from vae.store import saved_directions

MODEL = "mnist-5k-2d"


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_a_direction_between_two_labels_carries_one_mean_code_to_the_other(capsys):
    assert main(["directions", MODEL, "--from", "label=3", "--to", "label=8", "--json"]) == 0
    out = _json(capsys)
    assert out["method"] == "mean" and out["source"] == "label=3 -> label=8" and len(out["vector"]) == 2
    model, _ = store.load(MODEL)
    train, _ = data.load_splits("mnist-5k")
    mu = direction_builder.encode(model, train)
    np.testing.assert_allclose(
        mu[train.labels == 3].mean(0) + np.array(out["vector"]), mu[train.labels == 8].mean(0), atol=1e-4
    )
    q = out["quality"]
    assert 0.5 < q["auc"] <= 1.0 and q["test_items"] == [100, 100]
    t = q["transfer"]
    assert t["items"] == 100 and 0 <= t["random_read_as_target"] <= 1 and t["drift_grey_levels"] > 0


def test_save_list_edit_and_delete_round_trip(capsys, tmp_path):
    assert main(["directions", MODEL, "--along", "brightness", "--save", "ink", "--json"]) == 0
    made = _json(capsys)
    assert made["saved"] == "ink" and made["method"] == "ridge" and -1 <= made["quality"]["r2"] <= 1
    assert main(["directions", MODEL, "--list", "--json"]) == 0
    listed = _json(capsys)
    assert list(listed) == ["ink"] and listed["ink"]["vector"] == made["vector"]
    picture = tmp_path / "zero.png"
    im = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(im).ellipse((55, 30, 145, 170), outline=0, width=14)
    im.save(picture)
    strip = tmp_path / "strip.png"
    assert main(["edit", MODEL, str(picture), "--direction", "ink", "--amount", "-2,0,2", "--output", str(strip)]) == 0
    with Image.open(strip) as s:  # the prepared input and three edits, 28 px each with a 1 px frame, at 4x
        assert s.size == (4 * (4 * 29 + 1), 4 * 30)
        pixels = np.asarray(s.convert("L"), float)
    thirds = np.array_split(pixels, 4, axis=1)
    assert thirds[1].mean() < thirds[3].mean()  # less ink at -2 than at +2: brightness grows along it
    assert main(["directions", MODEL, "--delete", "ink"]) == 0
    assert saved_directions.list_directions(MODEL) == {}


@pytest.mark.parametrize(
    "args, words",
    [
        (["--from", "label=3", "--to", "label=12"], "label takes: 0, 1, 2"),
        (["--from", "vendor=google", "--to", "label=8"], "no column 'vendor'; it has: ids, label"),
        (["--from", "label=3"], "--from needs --to"),
        (["--from", "label=3", "--to", "label=8", "--method", "balanced"], "balance"),
        (["--from", "label=3", "--to", "label=8", "--method", "balanced", "--balance", "skin"], "no column 'skin'"),
        (["--from", "label=3", "--to", "label=3"], "both groups"),
        (["--from", "ids=1,99999", "--to", "label=8"], "between 0 and"),
        (["--from", "label=3", "--to", "label=8", "--method", "probe", "--orthogonal-to", "nope"], "no saved"),
    ],
)
def test_bad_input_is_a_clear_error_exit_2_and_nothing_saved(args, words, capsys):
    assert main(["directions", MODEL, *args, "--save", "x"]) == 2
    assert words in capsys.readouterr().err
    assert saved_directions.list_directions(MODEL) == {}


def test_edit_refuses_an_unknown_direction_and_a_missing_picture(capsys, tmp_path):
    assert main(["edit", MODEL, str(tmp_path / "none.png"), "--direction", "ink", "--output", "x.png"]) == 2
    assert "no direction 'ink'; saved: none" in capsys.readouterr().err
    saved_directions.save_direction(MODEL, "up", {"vector": [0.0, 1.0], "method": "axis", "source": "z2"})
    assert main(["edit", MODEL, str(tmp_path / "none.png"), "--direction", "up", "--output", "x.png"]) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(store.StoreError, match="2 finite numbers"):
        saved_directions.save_direction(MODEL, "bad", {"vector": [1.0]})
    with pytest.raises(store.StoreError, match="already has a direction named 'up'"):
        saved_directions.save_direction(MODEL, "up", {"vector": [1.0, 0.0]})


def test_saved_directions_are_exported_with_the_model(tmp_path, capsys):
    from safetensors import safe_open

    saved_directions.save_direction(MODEL, "up", {"vector": [0.0, 1.0], "method": "axis", "source": "z2"})
    out = tmp_path / "m.safetensors"
    assert main(["export", MODEL, "--onnx", str(tmp_path / "onnx"), "--state-dict", str(out)]) == 0
    assert json.loads((tmp_path / "onnx" / "directions.json").read_text())["up"]["vector"] == [0.0, 1.0]
    with safe_open(str(out), "pt") as f:
        assert json.loads(f.metadata()["directions"])["up"]["source"] == "z2"


def test_principal_directions_and_axes_by_kl(capsys):
    assert main(["directions", MODEL, "--principal", "2", "--json"]) == 0
    pcs = _json(capsys)
    assert [p["source"] for p in pcs] == ["PC1", "PC2"]
    assert sum(p["quality"]["variance_share"] for p in pcs) == pytest.approx(1.0, abs=1e-6)  # 2-D: all of it
    assert main(["directions", MODEL, "--axes", "--json"]) == 0
    axes = _json(capsys)
    kls = [a["quality"]["kl"] for a in axes]
    assert kls == sorted(kls, reverse=True) and {a["source"] for a in axes} == {"z1", "z2"}
    assert main(["directions", MODEL, "--axes", "--save", "x"]) == 2
