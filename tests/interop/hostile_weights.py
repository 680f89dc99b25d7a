"""Hostile and broken files for the import path: each is (file name, bytes, the message it must be
refused with). Payloads would leave a marker file (or start a process that does) if anything ran them."""

import io
import json
import os
import pickle
import struct
import zipfile

import torch
from torch import nn


def _safetensors(header: dict, body: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


def _torch(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


class _System:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _Write:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').write('ran')",)


class _Popen:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import subprocess

        return subprocess.Popen, (["touch", str(self.marker)],)


def _nested(depth: int):
    d = {"w": torch.zeros(2)}
    for _ in range(depth - 1):
        d = {"level": d}
    return d


def cases(marker) -> list[tuple[str, bytes, str]]:
    good = {"fc1.weight": torch.zeros(4, 784), "fc1.bias": torch.zeros(4)}
    valid_st = _safetensors({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8)
    valid_pt = _torch(good)
    renamed = io.BytesIO()
    with zipfile.ZipFile(renamed, "w") as z:
        z.writestr("readme.txt", "not a model")
    dup = (
        b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, '
        b'"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}'
    )
    return [
        ("system.pt", pickle.dumps(_System(marker)), "pickled Python objects"),
        ("exec.pth", pickle.dumps(_Write(marker)), "pickled Python objects"),
        ("popen.bin", pickle.dumps(_Popen(marker)), "pickled Python objects"),
        ("zipped-payload.pt", _torch({"fc1.weight": torch.zeros(2), "x": _System(marker)}), "pickled Python objects"),
        ("whole-module.pt", _torch(nn.Linear(2, 2)), "state_dict\\(\\)"),
        ("renamed.pt", renamed.getvalue(), "not one torch.save wrote"),
        ("truncated.pt", valid_pt[: len(valid_pt) // 2], "damaged or truncated zip|not PyTorch weights \\(damaged"),
        ("truncated.safetensors", valid_st[:-4], "truncated or damaged"),
        (
            "terabytes.safetensors",
            _safetensors({"w": {"dtype": "F32", "shape": [1_000_000, 1_000_000], "data_offsets": [0, 4 * 10**12]}}),
            "claims over",
        ),
        ("huge-header.safetensors", struct.pack("<Q", 1 << 40) + b"{}", "declares a"),
        (
            "integer.safetensors",
            _safetensors({"w": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8),
            "floating point; w is I64",
        ),
        (
            "complex.pt",
            _torch({"w": torch.zeros(2, dtype=torch.complex64)}),
            "real floating point; w is torch.complex64",
        ),
        ("integer.pt", _torch({"w": torch.zeros(2, dtype=torch.int64)}), "w is torch.int64"),
        ("duplicate.safetensors", struct.pack("<Q", len(dup)) + dup + b"\0" * 8, "names the tensor 'a' twice"),
        ("nested.pt", _torch(_nested(10)), "nested container \\(9 levels deep\\)"),
        ("empty.pt", b"", "the file is empty"),
        ("not-json.safetensors", struct.pack("<Q", 4) + b"\xff\xfe{{", "header is not JSON"),
        ("list.pt", _torch([torch.zeros(2)]), "holds a list, not a state dict"),
        ("one-tensor.pt", _torch(torch.zeros(3)), "holds one tensor"),
        ("nan.pt", _torch({"fc1.weight": torch.full((2, 2), float("nan"))}), "fc1.weight holds NaN"),
        ("model.h5", b"\x89HDF\r\n\x1a\n", "unknown kind of file"),
        (
            "noise.pt",
            bytes(range(256)) * 4,
            "not PyTorch weights \\(damaged, cut short or in another format\\)\\. Send a .safetensors",
        ),
        (
            "notes.pt",
            b"epoch 1 loss 0.31\nepoch 2 loss 0.27\n" * 20,
            "^notes.pt: not PyTorch weights \\(a text file\\)",
        ),
        (
            "offsets.safetensors",
            _safetensors({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 64]}}, b"\0" * 16),
            "offsets \\[0, 64\\] do not fit",
        ),
        ("strings.pt", _torch({"fc1.weight": "hello"}), "every value must be a tensor"),
        ("no-tensors.pt", _torch({}), "holds no tensors"),
        ("metadata.safetensors", _safetensors({"__metadata__": [1, 2]}), "malformed __metadata__"),
        (
            "unknown-layout.safetensors",
            _safetensors({"blocks.weight": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8),
            "no known layout fits",
        ),
    ]
