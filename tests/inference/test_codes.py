"""vae.inference.codes: the CSV of some rows, and no partial file when writing fails."""

import numpy as np
import pytest

from vae.inference import codes


def test_csv_of_chosen_rows_has_a_header_and_those_rows():
    cols = {"index": np.arange(4), "class_name": np.array(["a", "b", "c", "d"]), "mu_1": np.array([0.5, 1, 2, 3.0])}
    text = codes.csv_text(cols, rows=[1, 3])
    assert text.splitlines() == ["index,class_name,mu_1", "1,b,1", "3,d,3"]


def test_a_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match="parquet"):
        codes.write({"a": np.arange(3)}, tmp_path / "x.xlsx")
    bad = {"a": np.arange(3), "b": np.arange(2)}  # columns of different lengths: parquet refuses
    with pytest.raises(Exception):  # noqa: B017  (pyarrow's own error type)
        codes.write(bad, tmp_path / "x.parquet")
    assert list(tmp_path.iterdir()) == []
