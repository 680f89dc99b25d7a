"""python -m vae encode: the codes as a table and as an Embedding Projector bundle, read back as their
readers read them."""

import csv

import numpy as np
import pytest
from PIL import Image

from vae.cli.main import main

MODEL = "mnist-5k-2d"


def test_codes_as_csv_npz_and_parquet(tmp_path):
    import pyarrow.parquet as pq

    for suffix in (".csv", ".npz", ".parquet"):
        assert main(["encode", MODEL, "--output", str(tmp_path / f"c{suffix}"), "--projection", "pca"]) == 0
    with open(tmp_path / "c.csv", newline="") as f:
        rows = list(csv.reader(f))
    header = ["index", "label", "class_name", "mu_1", "mu_2", "sigma_1", "sigma_2", "reconstruction_error", "elbo",
              "kl", "map_x", "map_y"]  # fmt: skip
    assert rows[0] == header and len(rows) == 1001  # mnist-5k's 1,000 test digits
    with np.load(tmp_path / "c.npz") as z:
        assert set(z.files) == set(header) and z["mu_1"].shape == (1000,)
        np.testing.assert_allclose(z["mu_1"][:3], [float(r[3]) for r in rows[1:4]], rtol=1e-5)
        assert (z["sigma_1"] > 0).all() and (z["kl"] > 0).all() and (z["elbo"] < 0).all()
    table = pq.read_table(tmp_path / "c.parquet")
    assert table.num_rows == 1000 and table.column_names == header


def test_an_embedding_projector_bundle_parses_as_the_projector_reads_it(tmp_path):
    folder = tmp_path / "proj"
    assert main(["encode", MODEL, "--split", "all", "--projector", str(folder)]) == 0
    tensors = [line.split("\t") for line in (folder / "tensors.tsv").read_text().splitlines()]
    meta = [line.split("\t") for line in (folder / "metadata.tsv").read_text().splitlines()]
    assert len(tensors) == 5000 and {len(r) for r in tensors} == {2}  # one row per item, a column per dimension
    assert meta[0] == ["index", "label", "class_name", "reconstruction_error"] and len(meta) == 5001
    side = int(np.ceil(np.sqrt(5000)))
    assert Image.open(folder / "sprite.png").size == (side * 28, side * 28)  # items x thumbnail
    config = (folder / "projector_config.pbtxt").read_text()
    assert 'tensor_path: "tensors.tsv"' in config and "single_image_dim: 28" in config


@pytest.mark.parametrize("output, words", [("codes.xlsx", "must end in"), ("missing/codes.csv", "is not a folder")])
def test_bad_output_is_a_clear_error_and_nothing_is_written(tmp_path, output, words, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["encode", MODEL, "--output", output]) == 2
    assert words in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == []
