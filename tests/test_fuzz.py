"""Every input path fuzzed (tests/fuzzing.py): a few hundred seeded mutations per path end in a result
or one of the project's own errors in the user's terms, none past 10 s; and every input the fuzzer
ever broke the code with (tests/fuzz_regressions/, with what it did then) now ends that way too.
python -m bench fuzz runs the same loop at scale (docs/benchmarks.md)."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "interop"))  # the foreign models the seeds are made from

import fuzzing  # noqa: E402

from vae.models.config import ModelConfig  # noqa: E402
from vae.models.registry import build  # noqa: E402
from vae.store import catalog  # noqa: E402

REGRESSIONS = Path(__file__).parent / "fuzz_regressions"
CASES = 400  # per path: about a second each on 2 cores (the seeds take longer to make)


@pytest.mark.parametrize("path", list(fuzzing.PATHS))
def test_a_few_hundred_mutations_per_path_end_in_a_result_or_a_clear_error(path):
    report = fuzzing.fuzz(path, CASES, seed=7)
    assert report.cases == CASES and report.accepted + report.refused == CASES, fuzzing.summary(report)
    assert report.refused > CASES // 10 and report.accepted > 0, fuzzing.summary(report)  # the mutations bite
    assert not report.findings, fuzzing.summary(report)


def _run(entry: dict, tmp_path: Path):
    path, files = entry["path"], [(REGRESSIONS / f).read_bytes() for f in entry["files"]]
    run = fuzzing.PATHS[path].run
    rng = fuzzing.random.Random(0)
    if path == "onnx":
        return run((files[0], files[1]), "pair", rng, tmp_path)
    if path == "store":
        fuzzing.store_seed(tmp_path / "store")
        return run((entry["files"][0].split(".", 1)[1], files[0]), "store", rng, tmp_path)
    return run(files[0], entry["seed"], rng, tmp_path)


MANIFEST = json.loads((REGRESSIONS / "manifest.json").read_text())


@pytest.mark.parametrize("entry", MANIFEST, ids=[m["files"][0].split(".")[0] for m in MANIFEST])
def test_each_input_the_fuzzer_broke_the_code_with_now_ends_in_a_clear_error(entry, tmp_path):
    with pytest.raises(fuzzing.ALLOWED) as e:
        _run(entry, tmp_path)
    assert str(e.value) and not fuzzing.RAW.search(str(e.value)), (entry["before"], str(e.value))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"binarize_condition": []}, "binarize_condition must be true or false"),
        ({"latent_dim": "9" * 5000}, "number too long"),
        ({"hidden": [[[]]]}, "hidden must be"),
    ],
)
def test_a_damaged_model_json_is_one_entry_in_error_not_a_broken_store(tmp_path, change, message):
    """The issue's findings: a model.json with "binarize_condition": [] or a 5,000-digit integer broke
    list_models for the whole store; now that folder is listed with its error, the others as before."""
    model = build(ModelConfig(hidden=(8,), latent_dim=2), seed=0)
    for name in ("good", "bad"):
        catalog.save(model, name, tmp_path, dataset={"name": "mnist-5k"})
    meta = tmp_path / "bad" / "model.json"
    text = json.dumps({**json.loads(meta.read_text()), "config": {**model.config.to_dict(), **change}})
    meta.write_text(text.replace('"' + "9" * 5000 + '"', "9" * 5000))
    listed = {i.name: i for i in catalog.list_models(tmp_path) if i.path.parent == tmp_path}
    assert not listed["good"].error and message in listed["bad"].error
    with pytest.raises(catalog.StoreError, match=message):
        catalog.load("bad", tmp_path)
