"""A corpus of hostile and broken inputs, written by code, for every input path of the app.

Each Case makes its input (bytes for a picture, a .zip dataset or an .npy/.npz file; a folder in a
models directory for a model) and says how it must end: refused with a given exception type and a
message matching a pattern, or (for odd but valid pictures) accepted. Pickles in the corpus carry a
payload that would create the folder named by MARKER if anything ever unpickled them.
tests/test_hostile.py runs every case through the API and the app; bench/hostile.py counts them.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from vae.data.datasets import DataError
from vae.data.pictures import ImageError
from vae.models.config import ModelConfig
from vae.models.registry import build
from vae.store import catalog as store

MARKER = Path(os.environ.get("TMPDIR", "/tmp")) / f"vae-hostile-payload-ran-{os.getpid()}"


class _Payload:
    """Unpickling this creates MARKER: proof that something ran."""

    def __reduce__(self):
        return os.mkdir, (str(MARKER),)


@dataclass
class Case:
    path: str  # "picture", "zip", "array" or "model"
    name: str
    make: Callable[..., Any]  # picture/zip/array: () -> bytes; model: (folder) -> None
    error: type | None  # the exception the API raises; None: accepted
    message: str  # a pattern the message matches (shown in the app too)
    filename: str = ""  # as uploaded in the app
    limits: dict = field(default_factory=dict)  # vae.limits overrides for this case
    same_as: Callable[[], bytes] | None = None  # accepted pictures: a plain equivalent
    listed: bool = True  # model folders: the store's list already says why (else: found on loading)


# ---- pictures ----------------------------------------------------------------------------------


def digit(size=(60, 80), mode="L", ink=255, paper=0) -> Image.Image:
    im = Image.new(mode, size, paper)
    w, h = size
    ImageDraw.Draw(im).line([(w // 2, h // 5), (w // 3, 4 * h // 5)], fill=ink, width=max(2, w // 8))
    return im


def encode(im: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def png_header(width: int, height: int, depth: int = 8, colour: int = 0) -> bytes:
    """A PNG whose header declares width x height, with one tiny compressed row: a bomb's shape."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


def _sixteen_bit() -> bytes:
    a = np.asarray(digit(), np.uint16) * 257  # (h, w) 0..65535
    return encode(Image.fromarray(a))


def _palette_transparent() -> bytes:
    im = digit(ink=1, paper=0, mode="P")
    im.putpalette([0, 0, 0, 0, 0, 0] + [0] * 762)  # ink black, paper black but transparent
    return encode(im, transparency=0)


def _transparent_equivalent() -> bytes:
    a = np.asarray(digit(), np.uint8)
    rgba = np.stack([np.zeros_like(a)] * 3 + [np.where(a > 0, 255, 0).astype(np.uint8)], axis=2)
    return encode(Image.fromarray(rgba, "RGBA"))


def _animated() -> bytes:
    frames = [digit().convert("P"), Image.new("P", (60, 80), 0)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    return encode(digit().rotate(90, expand=True).convert("RGB"), "JPEG", exif=exif, quality=95)


PICTURES = [
    Case("picture", "empty file", lambda: b"", ImageError, "empty", "empty.png"),
    Case("picture", "truncated PNG", lambda: encode(digit())[:120], ImageError, "corrupt|truncated", "cut.png"),
    Case(
        "picture",
        "truncated JPEG",
        lambda: encode(digit().convert("RGB"), "JPEG")[:300],
        ImageError,
        "corrupt|truncated",
        "cut.jpg",
    ),
    Case(
        "picture",
        "text named .png",
        lambda: b"hello, this is not a picture\n" * 10,
        ImageError,
        "not an image",
        "text.png",
    ),
    Case(
        "picture",
        "SVG with a script",
        lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script><circle r="9"/></svg>',
        ImageError,
        "not an image",
        "drawing.svg.png",
    ),
    Case(
        "picture", "PNG bomb 100000x100000", lambda: png_header(100_000, 100_000), ImageError, "too large", "bomb.png"
    ),
    Case(
        "picture",
        "PNG bomb 8000x8000 (under Pillow's own limit)",
        lambda: png_header(8000, 8000),
        ImageError,
        "too large",
        "bomb8k.png",
    ),
    Case(
        "picture",
        "GIF bomb 65535x65535",
        lambda: b"GIF89a\xff\xff\xff\xff\x00\x00\x00;",
        ImageError,
        "too large|corrupt",
        "bomb.gif",
    ),
    Case(
        "picture",
        "TIFF (unsupported format)",
        lambda: encode(digit(), "TIFF"),
        ImageError,
        "unsupported format",
        "scan.png",
    ),
    Case(
        "picture", "blank white page", lambda: encode(Image.new("L", (50, 50), 255)), ImageError, "blank", "white.png"
    ),
    Case(
        "picture",
        "fully transparent",
        lambda: encode(Image.new("RGBA", (50, 50), (0, 0, 0, 0))),
        ImageError,
        "transparent",
        "clear.png",
    ),
    Case(
        "picture",
        "over the upload limit",
        lambda: encode(digit()) + b"\x00" * (2**20 + 1),
        ImageError,
        "upload limit",
        "big.png",
        limits={"UPLOAD_MB": 1},
    ),
    Case(
        "picture",
        "GIF with HTML after the header",
        lambda: b"GIF89a<html><script>alert(1)</script>",
        ImageError,
        "corrupt|not an image|could not read",
        "poly.gif",
    ),
    Case(
        "picture",
        "16-bit grayscale PNG",
        _sixteen_bit,
        None,
        "scaled from 16 bits, not clipped",
        "deep.png",
        same_as=lambda: encode(digit()),
    ),
    Case(
        "picture",
        "palette PNG with transparency",
        _palette_transparent,
        None,
        "composited like RGBA",
        "palette.png",
        same_as=_transparent_equivalent,
    ),
    Case(
        "picture",
        "CMYK JPEG",
        lambda: encode(digit().convert("CMYK"), "JPEG", quality=95),
        None,
        "read as its RGB",
        "cmyk.jpg",
        same_as=lambda: encode(digit().convert("RGB"), "JPEG", quality=95),
    ),
    Case(
        "picture",
        "animated GIF",
        _animated,
        None,
        "first frame",
        "anim.gif",
        same_as=lambda: encode(digit().convert("P"), "GIF"),
    ),
    Case(
        "picture",
        "EXIF-rotated JPEG",
        _exif_rotated,
        None,
        "turned upright",
        "phone.jpg",
        same_as=lambda: encode(digit().convert("RGB"), "JPEG", quality=95),
    ),
]


# ---- .zip datasets -----------------------------------------------------------------------------


def tiny_png() -> bytes:
    return encode(digit((8, 8)))


def make_zip(files: dict[str, bytes], method=zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        for name, content in files.items():
            z.writestr(name, content)
    return out.getvalue()


def _symlink_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("a/ok.png", tiny_png())
        link = zipfile.ZipInfo("a/passwd.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(link, "/etc/passwd")
    return out.getvalue()


def _lying_sizes() -> bytes:
    """A member of 1 MiB of zeros whose headers claim 10 bytes."""
    data = bytearray(make_zip({"a.png": b"\x00" * 2**20}, zipfile.ZIP_DEFLATED))
    struct.pack_into("<I", data, 22, 10)  # local header: uncompressed size
    cd = struct.unpack_from("<I", data, data.rfind(b"PK\x05\x06") + 16)[0]
    struct.pack_into("<I", data, cd + 24, 10)  # central directory: uncompressed size
    return bytes(data)


def many_files_zip(n: int) -> bytes:
    """A valid zip64 archive of n empty files, written directly (zipfile takes seconds for 100k)."""
    local, central, offset = [], [], 0
    for i in range(n):
        name = f"{i}.png".encode()
        head = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name
        central.append(
            struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0, 0, 0, 0, 0, offset)
            + name
        )
        local.append(head)
        offset += len(head)
    cd = b"".join(central)
    end64 = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(cd), offset)
    locator = struct.pack("<IIQI", 0x07064B50, 0, offset + len(cd), 1)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return b"".join(local) + cd + end64 + locator + end


ZIPS = [
    Case(
        "zip",
        "'../' path",
        lambda: make_zip({"ok/a.png": tiny_png(), "../../etc/evil.png": tiny_png()}),
        DataError,
        "unsafe path",
        "dots.zip",
    ),
    Case(
        "zip", "absolute path", lambda: make_zip({"/etc/cron.d/x.png": tiny_png()}), DataError, "unsafe path", "abs.zip"
    ),
    Case(
        "zip",
        "Windows '..\\' path",
        lambda: make_zip({"..\\..\\evil.png": tiny_png()}),
        DataError,
        "unsafe path",
        "win.zip",
    ),
    Case("zip", "symbolic link member", _symlink_zip, DataError, "symbolic link", "link.zip"),
    Case(
        "zip",
        "zip bomb (2 MiB of zeros in 2 KiB, limit 1 MiB)",
        lambda: make_zip({"a.png": b"\x00" * 2**21}, zipfile.ZIP_DEFLATED),
        DataError,
        "uncompressed",
        "bomb.zip",
        limits={"INPUT_BYTES": 2**20},
    ),
    Case("zip", "sizes in the headers lie", _lying_sizes, DataError, "cannot be read|corrupt", "liar.zip"),
    Case("zip", "100000 tiny files", lambda: many_files_zip(100_000), DataError, "more than 70,000 files", "many.zip"),
    Case(
        "zip",
        "nested zip",
        lambda: make_zip({"a.png": tiny_png(), "more.zip": make_zip({"b.png": tiny_png()})}),
        DataError,
        "another archive",
        "nested.zip",
    ),
    Case(
        "zip",
        "only non-image members (one a pickle)",
        lambda: make_zip({"notes.txt": b"hi", "run.py": b"import os", "x.pkl": pickle.dumps(_Payload())}),
        DataError,
        "no images found",
        "stuff.zip",
    ),
    Case(
        "zip",
        "text named .png",
        lambda: make_zip({"a.png": tiny_png(), "b.png": b"#!/bin/sh\nrm -rf /\n"}),
        DataError,
        "corrupt or unreadable image b.png",
        "fake.zip",
    ),
    Case(
        "zip",
        "a member PNG bomb",
        lambda: make_zip({"a.png": png_header(60_000, 60_000)}),
        DataError,
        "over the limit of .* pixels",
        "pngbomb.zip",
    ),
    Case("zip", "random bytes", lambda: os.urandom(4096), DataError, "unsupported file type", "noise.zip"),
    Case(
        "zip",
        "truncated zip",
        lambda: make_zip({f"{i}.png": tiny_png() for i in range(5)})[:-40],
        DataError,
        "not a valid zip|unsupported file type",
        "cut.zip",
    ),
    Case("zip", "empty zip", lambda: make_zip({}), DataError, "empty", "empty.zip"),
    Case(
        "zip",
        "decoded pixels over the dataset limit",
        lambda: make_zip({f"{i}.png": encode(digit((256, 256))) for i in range(5)}),
        DataError,
        "over the dataset limit",
        "wide.zip",
        limits={"DATASET_BYTES": 2**20},
    ),
]


# ---- .npy / .npz arrays ------------------------------------------------------------------------


def npy(array, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def npy_header(header: str, data: bytes = b"") -> bytes:
    """A version 2.0 .npy (4-byte header length) with a hand-written header dict."""
    body = header.encode("latin1")
    pad = 64 - (12 + len(body) + 1) % 64
    body += b" " * pad + b"\n"
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", len(body)) + body + data


def _digits(n=6, dtype=np.uint8):
    return (np.arange(n * 64).reshape(n, 8, 8) % 256).astype(dtype)


ARRAYS = [
    Case(
        "array",
        "object array with a pickle payload",
        lambda: npy(np.array([_Payload(), 1], dtype=object), allow_pickle=True),
        DataError,
        "Python objects",
        "evil.npy",
    ),
    Case("array", ".npz holding an object array", lambda: _npz_with_objects(), DataError, "Python objects", "evil.npz"),
    Case("array", "NaN pixels", lambda: npy(np.full((4, 8, 8), np.nan, np.float32)), DataError, "NaN", "nan.npy"),
    Case("array", "infinite pixels", lambda: npy(np.full((4, 8, 8), np.inf)), DataError, "infinite", "inf.npy"),
    Case(
        "array",
        "5-D array",
        lambda: npy(np.zeros((2, 2, 8, 8, 2), np.uint8)),
        DataError,
        "cannot read image",
        "five.npy",
    ),
    Case("array", "1-D array", lambda: npy(np.zeros(64, np.uint8)), DataError, "cannot read image", "flat.npy"),
    Case(
        "array",
        "rows that are not square images",
        lambda: npy(np.zeros((3, 785), np.uint8)),
        DataError,
        "cannot read image",
        "rows.npy",
    ),
    Case(
        "array",
        "complex dtype",
        lambda: npy(np.zeros((2, 8, 8), np.complex64)),
        DataError,
        "unsupported image dtype",
        "complex.npy",
    ),
    Case(
        "array", "string dtype", lambda: npy(np.full((2, 8, 8), "x")), DataError, "unsupported image dtype", "text.npy"
    ),
    Case(
        "array",
        "header declaring 10**12 images",
        lambda: npy_header(
            "{'descr': '|u1', 'fortran_order': False, 'shape': (1000000000000, 28, 28), }", b"\x00" * 100
        ),
        DataError,
        "over the dataset limit",
        "huge.npy",
    ),
    Case(
        "array",
        "header of 100 kB",
        lambda: npy_header(
            "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 8, 8), " + " " * 100_000 + "}", b"\x00" * 64
        ),
        DataError,
        "malformed header|could not read",
        "longhead.npy",
    ),
    Case(
        "array",
        "data shorter than its header says",
        lambda: npy(_digits(100))[:-500],
        DataError,
        "truncated",
        "short.npy",
    ),
    Case(
        "array", "int16 pixels beyond 255", lambda: npy(_digits(dtype=np.int16) * 10), DataError, "0..255", "wide.npy"
    ),
    Case(
        "array",
        "float pixels beyond [0, 1]",
        lambda: npy(_digits().astype(np.float32)),
        DataError,
        r"\[0, 1\]",
        "float.npy",
    ),
    Case(
        "array",
        "labels of the wrong length",
        lambda: npz(x=_digits(6), y=np.arange(5)),
        DataError,
        "labels have shape",
        "labels.npz",
    ),
    Case(
        "array",
        "labels up to 10**12",
        lambda: npz(x=_digits(2), y=np.array([0, 10**12])),
        DataError,
        "0..K-1",
        "biglabel.npz",
    ),
    Case("array", "no images (0, 8, 8)", lambda: npy(np.zeros((0, 8, 8), np.uint8)), DataError, "empty", "none.npy"),
    Case("array", ".npz with unknown keys", lambda: npz(a=_digits(), b=_digits()), DataError, "has keys", "keys.npz"),
]


def _npz_with_objects() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("x.npy", npy(np.array([_Payload()], dtype=object), allow_pickle=True))
    return out.getvalue()


# ---- model folders -----------------------------------------------------------------------------

SMALL = ModelConfig(image_shape=(1, 28, 28), hidden=(8,), latent_dim=2)


def _good(folder: Path, config: ModelConfig = SMALL) -> None:
    """A valid model saved the store's way, then moved to folder (which the case then spoils)."""
    root = folder.parent / f".build-{folder.name}"
    store.save(build(config, seed=0), folder.name, root)
    (root / folder.name).rename(folder)
    root.rmdir()


def _edit_meta(folder: Path, **changes) -> None:
    meta = json.loads((folder / store.META).read_text())
    meta.update(changes)
    (folder / store.META).write_text(json.dumps(meta))


def _spoil(edit: Callable[[Path], None]) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        _good(folder)
        edit(folder)

    return make


def _replace_weights(folder: Path, data: bytes) -> None:
    (folder / store.WEIGHTS).write_bytes(data)


def _nan_weights(folder: Path) -> None:
    from safetensors.torch import load_file, save_file

    state = load_file(str(folder / store.WEIGHTS))
    next(iter(state.values())).fill_(float("nan"))
    save_file(state, str(folder / store.WEIGHTS))


def _pt_only(folder: Path) -> None:
    import torch

    (folder / store.WEIGHTS).unlink()
    torch.save({"state": _Payload()}, folder / "model.pt")


def _ckpt_only(folder: Path) -> None:
    folder.mkdir()
    (folder / "model.ckpt").write_bytes(pickle.dumps({"state_dict": _Payload()}))


def _fifo(folder: Path) -> None:
    (folder / store.META).unlink()
    os.mkfifo(folder / store.META)


def _dev_zero(folder: Path) -> None:
    (folder / store.WEIGHTS).unlink()
    os.symlink("/dev/zero", folder / store.WEIGHTS)


MODELS = [
    Case(
        "model",
        "a pickle renamed model.safetensors",
        _spoil(lambda f: _replace_weights(f, pickle.dumps({"w": _Payload()}))),
        store.StoreError,
        "not a valid safetensors",
    ),
    Case("model", "only a model.pt (torch.save pickle)", _spoil(_pt_only), store.StoreError, "needs model.json and"),
    Case("model", "only a model.ckpt", _ckpt_only, store.StoreError, "needs model.json and"),
    Case(
        "model",
        "JSON names shapes unlike the weights",
        _spoil(lambda f: _edit_meta(f, config=dict(SMALL.to_dict(), hidden=[16]))),
        store.StoreError,
        "do not match the config",
    ),
    Case(
        "model",
        "JSON asks for 12 billion parameters",
        _spoil(lambda f: _edit_meta(f, config=dict(SMALL.to_dict(), image_shape=[3, 256, 256], hidden=[65536]))),
        store.StoreError,
        "parameters, over the limit",
    ),
    Case(
        "model",
        "JSON with absurd layer sizes",
        _spoil(lambda f: _edit_meta(f, config=dict(SMALL.to_dict(), hidden=[10**12]))),
        store.StoreError,
        "bad model config",
    ),
    Case(
        "model",
        "JSON with a string for a size",
        _spoil(lambda f: _edit_meta(f, config=dict(SMALL.to_dict(), latent_dim="2"))),
        store.StoreError,
        "bad model config",
    ),
    Case(
        "model",
        "model.json missing",
        _spoil(lambda f: (f / store.META).unlink()),
        store.StoreError,
        "needs model.json and",
    ),
    Case(
        "model",
        "model.json is not JSON",
        _spoil(lambda f: (f / store.META).write_bytes(b"\xff{not json")),
        store.StoreError,
        "not valid JSON",
    ),
    Case(
        "model",
        "model.json nested 100000 deep",
        _spoil(lambda f: (f / store.META).write_text("[" * 100_000)),
        store.StoreError,
        "not valid JSON",
    ),
    Case(
        "model",
        "another format_version",
        _spoil(lambda f: _edit_meta(f, format_version=99)),
        store.StoreError,
        "unsupported model format",
    ),
    Case(
        "model",
        "metrics that are not numbers",
        _spoil(lambda f: _edit_meta(f, metrics={"elbo": "-1e9"})),
        store.StoreError,
        "must be a number",
    ),
    Case("model", "NaN weights", _spoil(_nan_weights), store.StoreError, "NaN or infinite", listed=False),
    Case(
        "model",
        "a safetensors header declaring 4 GB",
        _spoil(lambda f: _replace_weights(f, struct.pack("<Q", 2**32) + b"{}")),
        store.StoreError,
        "not a valid safetensors",
    ),
    Case(
        "model",
        "truncated weights",
        _spoil(lambda f: _replace_weights(f, (f / store.WEIGHTS).read_bytes()[:300])),
        store.StoreError,
        "not a valid safetensors|do not match",
    ),
    Case("model", "model.json is a FIFO (would block a reader)", _spoil(_fifo), store.StoreError, "not a regular file"),
    Case("model", "weights linked to /dev/zero", _spoil(_dev_zero), store.StoreError, "not a regular file"),
]

CASES = PICTURES + ZIPS + ARRAYS + MODELS
PATHS = {
    "picture": "pictures (Reconstruct, Interpolate)",
    "zip": ".zip datasets (Train)",
    "array": ".npy / .npz datasets (Train)",
    "model": "model folders (the store, the sidebar)",
}
