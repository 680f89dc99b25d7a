"""python -m vae evaluate --surgery: the aggregate posterior's terms in the JSON."""

import json

import pytest

from vae.cli.main import main


def test_evaluate_surgery_splits_the_average_kl(capsys):
    assert main(["evaluate", "mnist-5k-2d", "--surgery", "--iw-samples", "5", "--limit", "400"]) == 0
    out = json.loads(capsys.readouterr().out)
    s = out["elbo_surgery"]
    assert set(s) == {"average_kl", "mutual_information", "marginal_kl", "n", "of", "log_n"}
    assert s["n"] == s["of"] == 400
    assert s["average_kl"] == pytest.approx(s["mutual_information"] + s["marginal_kl"])
    assert 0 < s["mutual_information"] <= s["log_n"] + 0.1 and s["marginal_kl"] > 0
    assert s["average_kl"] == pytest.approx(out["kl"], rel=0.05)  # the card's KL term, measured the same way


def test_sample_writes_images_and_z_and_a_grid_and_caches_the_fitted_density(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from vae.data import datasets as data

    out, grid = tmp_path / "s.npz", tmp_path / "s.png"
    args = ["sample", "mnist-5k-2d", "--sampler", "gmm", "--n", "20", "--output", str(out)]
    assert main([*args, "--grid", str(grid)]) == 0
    with np.load(out) as z:
        assert z["images"].shape == (20, 1, 28, 28) and z["z"].shape == (20, 2)
        assert 0 <= z["images"].min() and z["images"].max() <= 1
        first = z["z"].copy()
    assert Image.open(grid).size[0] > 100
    assert "Gaussian mixture" in capsys.readouterr().out
    assert list((data.default_data_dir() / "samplers").glob("mnist-5k-2d-*-gmm.npz"))  # fitted once, cached
    assert main(args) == 0  # from the cache: the same draws for the same seed
    with np.load(out) as z:
        np.testing.assert_array_equal(z["z"], first)


@pytest.mark.parametrize(
    "args, words",
    [(["--n", "0"], "between 1 and"), (["--n", "100001"], "between 1 and 100,000"), (["--sampler", "vae"], "choose")],
)
def test_sample_refuses_bad_input_with_exit_2(args, words, tmp_path, capsys):
    try:
        code = main(["sample", "mnist-5k-2d", *args, "--output", str(tmp_path / "x.npz")])
    except SystemExit as e:  # argparse's own refusal of an unknown choice
        code = e.code
    assert code == 2 and words in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_sample_quality_is_printed_against_the_held_out_split(tmp_path, capsys):
    args = ["sample", "mnist-5k-2d", "--n", "200", "--output", str(tmp_path / "s.npz"), "--quality"]
    assert main(args) == 0
    text = capsys.readouterr().out
    q = json.loads(text[text.index("{") :])
    assert q["sampler"] == "prior" and q["dataset"] == "mnist-5k" and q["samples"] == 200 and q["real"] == 1000
    assert 0 <= q["recall"] <= q["precision"] <= 1 and q["frechet"] > 0  # decoded means: precise, not diverse
    assert 0.5 < q["confidence"] <= 1 and 0.5 < q["class_balance"] <= 1
    assert main([*args[:-1], "--n", "2", "--quality"]) == 2  # too few samples for k = 3 neighbours
