"""Coverage-guided fuzzing of one input path with atheris (libFuzzer over Python's own coverage of the
vae package): python -m bench.fuzz_coverage PATH RUNS [CORPUS_DIR].

The corpus starts from tests/fuzzing.py's valid seeds; libFuzzer keeps every input that reaches new
lines of vae/ and mutates those further. An input passes as tests/fuzzing.py judges it (a result, or
one of the project's errors in the user's terms); anything else stops the run with the input saved
(crash-*) and a non-zero exit. bench/fuzz.py runs it per path beside the mutation loop. atheris is a
benchmark tool here, not a test requirement (pip install atheris: a 35 MB wheel).
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "interop")]

import atheris  # noqa: E402

with atheris.instrument_imports(include=["vae"]):
    import fuzzing  # noqa: E402  (imports the readers of every path)

    from vae.data import datasets, pictures  # noqa: E402
    from vae.interop import importer, onnx_import  # noqa: E402
    from vae.store import catalog  # noqa: E402

PATH = sys.argv[1] if len(sys.argv) > 1 else "pictures"
STATE: dict = {}


def _run(data: bytes) -> None:
    if PATH == "pictures":
        pictures.prepare(data, (1, 28, 28) if len(data) % 2 else (3, 32, 32))
    elif PATH == "datasets":
        datasets.load_user_data(io.BytesIO(data), name="fuzz")
    elif PATH == "state_dicts":
        importer.recognise("fuzz.safetensors" if data[:1] != b"\x80" and data[:2] != b"PK" else "fuzz.pt", data).model()
    elif PATH == "onnx":
        onnx_import.recognise_onnx(("enc.onnx", data), ("dec.onnx", STATE["decoder"])).model()
    else:  # store: the input replaces model.json or model.safetensors of a saved model
        folder = STATE["root"] / "m"
        name = "model.json" if data[:1] == b"{" else "model.safetensors"
        original = (folder / name).read_bytes()
        (folder / name).write_bytes(data)
        try:
            listed = catalog.list_models(STATE["root"])
            assert any(i.name == "m" for i in listed), "the mutated model vanished from the list"
            catalog.load("m", STATE["root"])
        finally:
            (folder / name).write_bytes(original)


def one_input(data: bytes) -> None:
    try:
        _run(data)
    except fuzzing.ALLOWED as e:
        if not str(e) or fuzzing.RAW.search(str(e)):
            raise AssertionError(f"an unclear message: {type(e).__name__}: {str(e)[:300]}") from None


def _corpus(directory: Path) -> None:
    if PATH == "onnx":
        (enc, dec) = fuzzing.onnx_seeds()[0][1]
        STATE["decoder"] = dec
        seeds = [("enc.onnx", p[0]) for _, p in fuzzing.onnx_seeds()]
    elif PATH == "store":
        STATE["root"] = Path(tempfile.mkdtemp(prefix="fuzz-store-"))
        origin = fuzzing.store_seed(STATE["root"])
        seeds = [(f.name, f.read_bytes()) for f in origin.iterdir() if f.name in ("model.json", "model.safetensors")]
    else:
        seeds = {"pictures": fuzzing.picture_seeds, "datasets": fuzzing.dataset_seeds}.get(
            PATH, fuzzing.state_dict_seeds
        )()
    for name, data in seeds:
        (directory / name).write_bytes(data)


def main() -> None:
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    corpus = Path(sys.argv[3]) if len(sys.argv) > 3 else Path(tempfile.mkdtemp(prefix=f"corpus-{PATH}-"))
    corpus.mkdir(parents=True, exist_ok=True)
    _corpus(corpus)
    args = [
        sys.argv[0],
        f"-runs={runs}",
        "-timeout=10",
        "-rss_limit_mb=6144",
        "-max_len=262144",
        "-len_control=0",  # the seeds are kilobytes: mutate whole files from the start
        "-print_final_stats=1",
    ]
    atheris.Setup([*args, str(corpus)], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
