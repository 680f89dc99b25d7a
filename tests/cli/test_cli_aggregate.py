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
