"""Mutation fuzzing of every input path (issue 36): seeds are valid files made here, each case one
seeded mutation of a seed, and each must end in a result or in one of the project's own errors with
a message in the user's terms, within TIMEOUT seconds.

Paths: pictures (the upload preparation, grey and colour), datasets (.zip of pictures, .npz, .npy),
state dicts (.pt, .safetensors), ONNX pairs (either graph mutated; the onnxruntime check included),
and the store (one file of a saved model's folder mutated on disk, then list_models and load).

Mutations: bit flips, truncation, insertion of random bytes, chunk duplication, and format-aware ones:
zip member names (duplicated, traversing, empty, long), declared sizes and compression; safetensors
header fields (shapes, dtypes, offsets, metadata) and JSON values and nesting (huge integers, deep
lists, NaN, wrong types); ONNX protobuf fields (nodes duplicated, dropped or renamed, operator types,
tensor data types and dims, attributes, opsets, input shapes, NaN weights). Why a loop of our own:
hypothesis drives the property tests here, but its strategies know no file formats and shrinking
100 kB binaries is slow; the format-aware mutations above are what reach past the first parser.
Coverage-guided fuzzing is atheris's (libFuzzer) in the benchmark, bench/fuzz_coverage.py, over the
same seeds: python -m bench fuzz runs both at scale, tests/test_fuzz.py this loop a few hundred per path.
"""

from __future__ import annotations

import copy
import io
import json
import random
import re
import resource
import shutil
import signal
import struct
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from vae.data import datasets
from vae.data.datasets import DataError
from vae.data.pictures import ImageError
from vae.models.config import ConfigError
from vae.store.modelfiles import StoreError

TIMEOUT = 10.0  # seconds a case may take
ALLOWED = (DataError, StoreError, ConfigError, ImageError, OSError)
# words of a library's own message, not the user's terms
RAW = re.compile(
    r"Traceback|numpy|\bnp\.|WeightsUnpickler|add_safe_globals|protobuf|google\.|onnxruntime|ONNXRuntimeError|"
    r"\[ONNX|cannot reshape|"
    r"KeyError|TypeError|IndexError|AttributeError|tokenize|zlib|invalid literal|has no attribute|unhashable|"
    r"not subscriptable|codec can't|Exceeds the limit|object of type|NoneType|\bint\(\)|ufunc",
)


class Hang(Exception):
    pass


@dataclass
class Finding:
    path: str
    mutation: str
    seed_name: str
    kind: str  # "crash" (another exception type), "unclear" (an allowed type, raw words), "hang"
    message: str
    data: object = b""  # the input: bytes, an ONNX pair (encoder, decoder), or a store file (name, bytes)


@dataclass
class Report:
    path: str
    cases: int = 0
    accepted: int = 0
    refused: int = 0
    findings: list[Finding] = field(default_factory=list)
    slowest: float = 0.0
    seconds: float = 0.0
    errors: dict = field(default_factory=dict)  # error type -> count

    @property
    def crashes(self) -> int:
        return sum(f.kind in ("crash", "unclear") for f in self.findings)

    @property
    def hangs(self) -> int:
        return sum(f.kind == "hang" for f in self.findings)


# ---------------------------------------------------------------- generic byte mutations


def bitflip(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if b:
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(max(1, len(data)))]


def insert(rng: random.Random, data: bytes) -> bytes:
    i = rng.randrange(len(data) + 1)
    return data[:i] + rng.randbytes(rng.randint(1, 64)) + data[i:]


def duplicate(rng: random.Random, data: bytes) -> bytes:
    if len(data) < 2:
        return data * 2
    a = rng.randrange(len(data))
    chunk = data[a : a + rng.randint(1, min(4096, len(data) - a))]
    i = rng.randrange(len(data) + 1)
    return data[:i] + chunk + data[i:]


BYTES = [bitflip, truncate, insert, duplicate]


# ---------------------------------------------------------------- JSON values and nesting

HOSTILE_TOKENS = {
    "__BIG__": "9" * 5000,  # past Python's 4,300-digit int conversion limit
    "__DEEP__": "[" * 3000 + "]" * 3000,
    "__NAN__": "NaN",
    "__INF__": "-Infinity",
}


def _hostile_value(rng: random.Random):
    return rng.choice(
        [
            *HOSTILE_TOKENS,
            None,
            True,
            -1,
            0,
            2**63,
            1e308,
            -0.5,
            "",
            "x" * 10000,
            [],
            {},
            [1, 2],
            {"a": [None]},
            "é\x00",
        ]
    )


def json_mutate(rng: random.Random, obj) -> str:
    """JSON text of obj with one value (or key) replaced by a hostile one."""
    obj = copy.deepcopy(obj)
    slots = []

    def walk(o):
        if isinstance(o, dict):
            for k in list(o):
                slots.append((o, k))
                walk(o[k])
        elif isinstance(o, list):
            for i in range(len(o)):
                slots.append((o, i))
                walk(o[i])

    walk(obj)
    if slots:
        parent, key = rng.choice(slots)
        if isinstance(parent, dict) and rng.random() < 0.15:
            parent[_hostile_key(rng)] = parent.pop(key)
        elif rng.random() < 0.1:
            del parent[key]
        else:
            parent[key] = _hostile_value(rng)
    text = json.dumps(obj)
    for token, raw in HOSTILE_TOKENS.items():
        text = text.replace(json.dumps(token), raw)
    return text


def _hostile_key(rng):
    return rng.choice(["", "__proto__", "x" * 500, "weights", "0", "..", "é"])


# ---------------------------------------------------------------- zip, safetensors, protobuf


def zip_mutate(rng: random.Random, data: bytes) -> bytes:
    try:
        members = [(i, zipfile.ZipFile(io.BytesIO(data)).read(i)) for i in zipfile.ZipFile(io.BytesIO(data)).infolist()]
    except Exception:  # noqa: BLE001  (an already broken archive: mutate its bytes)
        return bitflip(rng, data)
    op = rng.choice(["dup_name", "rename", "size", "method", "empty", "nested", "many"])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        if op == "empty":
            pass
        elif op == "nested":
            z.writestr("inner.zip", data)
        else:
            for info, content in members:
                name = info.filename
                if op == "rename" and rng.random() < 0.5:
                    name = rng.choice(["../../evil.png", "", "/abs/x.png", "a" * 300 + ".png", "dir/", "x.png\x00.txt"])
                    name = name or "unnamed"
                zi = zipfile.ZipInfo(name, info.date_time)
                zi.compress_type = zipfile.ZIP_DEFLATED if op == "method" else info.compress_type
                with _quiet():
                    z.writestr(zi, content)
                    if op == "dup_name" and rng.random() < 0.5:
                        z.writestr(zipfile.ZipInfo(name, info.date_time), content[::-1])
                    if op == "many":
                        for k in range(rng.randint(1, 50)):
                            z.writestr(f"extra/{k}.png", content[: rng.randrange(len(content) + 1)])
    raw = bytearray(out.getvalue())
    if op == "size":  # a central directory entry that lies about its uncompressed size
        at = raw.rfind(b"PK\x01\x02")
        if at >= 0:
            struct.pack_into("<I", raw, at + 24, rng.choice([0, 1, 2**31, 2**32 - 1]))
    if op == "method":  # a deflate stream with bytes flipped inside it
        at = raw.find(b"PK\x03\x04")
        if at >= 0 and len(raw) > at + 60:
            for _ in range(4):
                raw[rng.randrange(at + 40, min(len(raw), at + 200))] ^= 0xFF
    return bytes(raw)


class _quiet:
    def __enter__(self):
        import warnings

        self.w = warnings.catch_warnings()
        self.w.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *a):
        self.w.__exit__(*a)


def safetensors_mutate(rng: random.Random, data: bytes) -> bytes:
    try:
        n = int.from_bytes(data[:8], "little")
        head = json.loads(data[8 : 8 + n])
    except Exception:  # noqa: BLE001
        return bitflip(rng, data)
    text = json_mutate(rng, head).encode()
    return len(text).to_bytes(8, "little") + text + data[8 + n :]


def onnx_mutate(rng: random.Random, data: bytes) -> bytes:
    import onnx

    try:
        m = onnx.load_from_string(data)
    except Exception:  # noqa: BLE001
        return bitflip(rng, data)
    g = m.graph
    op = rng.choice(["dup_node", "drop_node", "op_type", "dtype", "dims", "attr", "opset", "input", "nan", "rename"])
    nodes = list(g.node)
    if op == "dup_node" and nodes:
        g.node.append(copy.deepcopy(rng.choice(nodes)))
    elif op == "drop_node" and nodes:
        g.node.remove(rng.choice(nodes))
    elif op == "op_type" and nodes:
        rng.choice(nodes).op_type = rng.choice(["Foo", "Relu", "Add", "Mul", "Conv", "Resize", "If", "Loop", ""])
    elif op == "dtype" and g.initializer:
        rng.choice(g.initializer).data_type = rng.choice([0, 2, 7, 9, 11, 16, 23, 99, 1000])
    elif op == "dims" and g.initializer:
        t = rng.choice(g.initializer)
        if t.dims:
            t.dims[rng.randrange(len(t.dims))] = rng.choice([0, -1, 1, 3, 2**40])
    elif op == "attr" and nodes:
        node = rng.choice(nodes)
        if node.attribute:
            a = rng.choice(node.attribute)
            if a.ints:
                a.ints[rng.randrange(len(a.ints))] = rng.choice([-5, 0, 99, 2**31])
            elif a.HasField("f"):
                a.f = rng.choice([float("nan"), -1.0, 1e30])
            elif a.HasField("i"):
                a.i = rng.choice([-1, 0, 7, 2**40])
            else:
                a.s = rng.choice([b"weird", b"", b"tanh"])
    elif op == "opset" and m.opset_import:
        m.opset_import[0].version = rng.choice([0, 1, 7, 13, 99])
    elif op == "input" and g.input:
        dims = g.input[0].type.tensor_type.shape.dim
        if dims:
            d = dims[rng.randrange(len(dims))]
            choice = rng.choice(["one", "zero", "param", "huge"])
            if choice == "param":
                d.dim_param = "n"
            else:
                d.dim_value = {"one": 1, "zero": 0, "huge": 2**30}[choice]
    elif op == "nan" and g.initializer:
        from onnx import numpy_helper

        t = rng.choice(g.initializer)
        a = numpy_helper.to_array(t).copy()
        if a.size and a.dtype.kind == "f":
            a.reshape(-1)[rng.randrange(a.size)] = rng.choice([np.nan, np.inf])
            t.CopyFrom(numpy_helper.from_array(a, t.name))
    elif op == "rename" and nodes:
        node = rng.choice(nodes)
        if node.input:
            node.input[rng.randrange(len(node.input))] = rng.choice(["", "missing", g.input[0].name])
    return m.SerializeToString()


# ---------------------------------------------------------------- seeds


def _digit(colour: bool = False) -> Image.Image:
    im = Image.new("RGB" if colour else "L", (40, 40), "white")
    d = ImageDraw.Draw(im)
    d.ellipse((8, 6, 32, 34), outline="red" if colour else "black", width=4)
    return im


def _encoded(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def picture_seeds() -> list[tuple[str, bytes]]:
    grey, rgb = _digit(), _digit(True)
    rgba = rgb.convert("RGBA")
    rgba.putalpha(Image.new("L", rgba.size, 200))
    return [
        ("grey.png", _encoded(grey, "PNG")),
        ("rgb.jpg", _encoded(rgb, "JPEG")),
        ("rgba.png", _encoded(rgba, "PNG")),
        ("palette.gif", _encoded(rgb.convert("P"), "GIF")),
        ("grey.bmp", _encoded(grey, "BMP")),
        ("rgb.webp", _encoded(rgb, "WEBP")),
    ]


def dataset_seeds() -> list[tuple[str, bytes]]:
    pngs = {f"{c}/{i}.png": _encoded(_digit(), "PNG") for c in ("a", "b") for i in range(4)}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in pngs.items():
            z.writestr(name, content)
    rng = np.random.default_rng(0)
    x = (rng.random((12, 8, 8)) * 255).astype(np.uint8)
    npz, npy = io.BytesIO(), io.BytesIO()
    np.savez(npz, images=x, labels=np.arange(12) % 3)
    np.save(npy, x)
    npz_zip = io.BytesIO()
    np.savez_compressed(npz_zip, x=x.astype(np.float32) / 255)
    return [("pictures.zip", buf.getvalue()), ("arrays.npz", npz.getvalue()), ("arrays.npy", npy.getvalue()),
            ("compressed.npz", npz_zip.getvalue())]  # fmt: skip


def _state_bytes(state: dict, fmt: str, metadata: dict | None = None) -> bytes:
    if fmt == "pt":
        buf = io.BytesIO()
        torch.save(state, buf)
        return buf.getvalue()
    from safetensors.torch import save

    return save({k: v.contiguous() for k, v in state.items()}, metadata=metadata)


def state_dict_seeds() -> list[tuple[str, bytes]]:
    from foreign_models import DCGANVAE, ExamplesVAE, with_statistics

    from vae.interop import export
    from vae.models.config import ModelConfig
    from vae.models.registry import build

    torch.manual_seed(0)
    ours = build(ModelConfig(hidden=(32,), latent_dim=2), seed=0)
    exported, _ = export.state_dict_bytes(ours, "ours.safetensors")
    return [
        ("examples.pt", _state_bytes(ExamplesVAE(hidden=32, latent=2).state_dict(), "pt")),
        ("examples.safetensors", _state_bytes(ExamplesVAE(hidden=32, latent=2).state_dict(), "st")),
        ("dcgan.pt", _state_bytes(with_statistics(DCGANVAE(latent=4)).state_dict(), "pt")),
        ("ours.safetensors", exported),
    ]


def onnx_seeds() -> list[tuple[str, tuple[bytes, bytes]]]:
    import onnx_models

    torch.manual_seed(0)
    enc, dec = onnx_models.mlp(2)
    cenc, cdec = onnx_models.conv(2)
    return [
        ("mlp", onnx_models.pair(enc, dec, 2)),
        ("conv", onnx_models.pair(cenc, cdec, 2, ("stats",))),
        (
            "mlp-fixed-batch",
            (
                onnx_models.to_onnx(enc, (1, 28, 28), ["image"], ["mu", "logvar"], fixed_batch=True),
                onnx_models.to_onnx(dec, (2,), ["z"], ["x"], fixed_batch=True),
            ),
        ),  # fmt: skip
    ]


def store_seed(root: Path) -> Path:
    """A saved model's folder (a small MLP, with a saved direction and its training state)."""
    from vae.models.config import ModelConfig
    from vae.models.registry import build
    from vae.store import catalog

    model = build(ModelConfig(hidden=(16,), latent_dim=2), seed=0)
    catalog.save(model, "m", root, dataset={"name": "mnist-5k"}, metrics={"elbo": -100.0}, history=[{"epoch": 1}])
    return root / "m"


# ---------------------------------------------------------------- the paths


def _pictures(data: bytes, label: str, rng: random.Random, tmp: Path):
    from vae.data import pictures

    return pictures.prepare(data, rng.choice([(1, 28, 28), (3, 32, 32)]))


def _dataset(data: bytes, label: str, rng: random.Random, tmp: Path):
    return datasets.load_user_data(io.BytesIO(data) if rng.random() < 0.5 else data, name=label)


def _state_dict(data: bytes, label: str, rng: random.Random, tmp: Path):
    from vae.interop import importer

    rec = importer.recognise(label, data)
    return rec.model()


def _onnx(pair: tuple[bytes, bytes], label: str, rng: random.Random, tmp: Path):
    from vae.interop import onnx_import

    return onnx_import.recognise_onnx(("enc.onnx", pair[0]), ("dec.onnx", pair[1])).model()


def _store(data: tuple[str, bytes], label: str, rng: random.Random, tmp: Path):
    """One file of the seed folder replaced by its mutation; the store must list (never raise) and load."""
    from vae.store import catalog

    name, content = data
    folder = tmp / "store" / "m"
    (folder / name).write_bytes(content)
    listed = catalog.list_models(tmp / "store")
    if not any(i.name == "m" for i in listed if i.path.parent == tmp / "store"):
        raise AssertionError("the mutated model vanished from the list instead of showing its error")
    return catalog.load("m", tmp / "store")


def _mutators(kind: str) -> list[Callable]:
    special = {"zip": [zip_mutate] * 3, "st": [safetensors_mutate] * 4, "onnx": [onnx_mutate] * 6}.get(kind, [])
    return BYTES + special


@dataclass
class InputPath:
    name: str
    run: Callable
    seeds: Callable


PATHS = {
    "pictures": InputPath("pictures", _pictures, picture_seeds),
    "datasets": InputPath("datasets", _dataset, dataset_seeds),
    "state_dicts": InputPath("state_dicts", _state_dict, state_dict_seeds),
    "onnx": InputPath("onnx", _onnx, onnx_seeds),
    "store": InputPath("store", _store, None),
}


def _kind_of(label: str) -> str:
    if label.endswith((".zip", ".npz")):
        return "zip"
    if label.endswith(".safetensors"):
        return "st"
    return "bytes"


def _mutate_case(path: str, seed, label: str, rng: random.Random):
    """(the mutated input, a description of the mutation)."""
    if path == "onnx":
        enc, dec = seed
        which = rng.randrange(2)
        fn = rng.choice(_mutators("onnx"))
        part = fn(rng, (enc, dec)[which])
        return (
            (part, dec) if which == 0 else (enc, part)
        ), f"{fn.__name__} of the {'encoder' if which == 0 else 'decoder'}"
    if path == "store":
        name, content = seed
        if name.endswith(".json"):
            fn = rng.choice(BYTES + [None] * 4)
            if fn is None:
                return (name, json_mutate(rng, json.loads(content)).encode()), f"json_mutate of {name}"
            return (name, fn(rng, content)), f"{fn.__name__} of {name}"
        fn = rng.choice(_mutators("st"))
        return (name, fn(rng, content)), f"{fn.__name__} of {name}"
    fn = rng.choice(_mutators(_kind_of(label)))
    return fn(rng, seed), fn.__name__


def _alarm(signum, frame):
    raise Hang()


def fuzz(path: str, cases: int, seed: int = 0, keep: int = 20) -> Report:
    """Run `cases` mutated inputs through one path; every outcome counted, findings kept (at most `keep`)."""
    p = PATHS[path]
    rng = random.Random(seed)
    report = Report(path)
    tmp_root = Path(tempfile.mkdtemp(prefix=f"fuzz-{path}-"))
    try:
        if path == "store":
            origin = store_seed(tmp_root / "origin")
            seeds = [(f.name, (f.name, f.read_bytes())) for f in sorted(origin.iterdir()) if f.is_file()]
        else:
            seeds = p.seeds()
        old = signal.signal(signal.SIGALRM, _alarm)
        start = time.perf_counter()
        for _ in range(cases):
            label, base = rng.choice(seeds)
            data, how = _mutate_case(path, base, label, rng)
            case_tmp = tmp_root / "case"
            if case_tmp.exists():
                shutil.rmtree(case_tmp)
            case_tmp.mkdir()
            if path == "store":
                shutil.copytree(origin, case_tmp / "store" / "m")
            t = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, TIMEOUT)
            try:
                p.run(data, label, random.Random(rng.random()), case_tmp)
                report.accepted += 1
                outcome = None
            except Hang:
                outcome = ("hang", f"over {TIMEOUT:g} s")
            except ALLOWED as e:
                report.refused += 1
                report.errors[type(e).__name__] = report.errors.get(type(e).__name__, 0) + 1
                msg = str(e)
                outcome = ("unclear", f"{type(e).__name__}: {msg[:300]}") if (not msg or RAW.search(msg)) else None
            except Exception as e:  # noqa: BLE001  (what the fuzzing is for)
                outcome = ("crash", f"{type(e).__name__}: {str(e)[:300]}")
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            elapsed = time.perf_counter() - t
            report.slowest = max(report.slowest, elapsed)
            report.cases += 1
            if outcome is None and elapsed > TIMEOUT:
                outcome = ("hang", f"{elapsed:.1f} s")
            if outcome is not None:  # the input itself kept for the first `keep` findings
                kept = data if len(report.findings) < keep else b""
                report.findings.append(Finding(path, how, label, outcome[0], outcome[1], kept))
        report.seconds = time.perf_counter() - start
        signal.signal(signal.SIGALRM, old)
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    return report


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def summary(report: Report) -> str:
    kinds = {}
    for f in report.findings:
        kinds.setdefault(f"{f.kind}: {re.sub(r'[0-9]+', 'N', f.message)[:110]}", []).append(f.mutation)
    counts = f"{report.accepted} accepted, {report.refused} refused, {report.crashes} crashes, {report.hangs} hangs"
    lines = [f"{report.path}: {report.cases} cases, {counts}, slowest {report.slowest:.2f} s, {report.seconds:.0f} s"]
    lines += [f"  {k} ({len(v)}x, e.g. {v[0]})" for k, v in sorted(kinds.items(), key=lambda kv: -len(kv[1]))]
    return "\n".join(lines)


if __name__ == "__main__":  # python tests/fuzzing.py PATH N
    import sys

    sys.path.insert(0, str(Path(__file__).parent / "interop"))
    for name in sys.argv[1].split(",") if len(sys.argv) > 1 else PATHS:
        print(summary(fuzz(name, int(sys.argv[2]) if len(sys.argv) > 2 else 200)), flush=True)
    print(f"peak RSS {peak_rss_mb():.0f} MB")
