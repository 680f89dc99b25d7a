""".npy and .npz files -> image and label arrays, for vae/data/userdata.py.

Nothing is unpickled (np.load with allow_pickle=False), and every array's header is read and
checked before its data: Python objects, sizes over vae.limits.DATASET_BYTES and declared sizes
the file does not hold are refused with a DataError, as are NaN, infinities, out-of-range pixels,
unusable shapes and dtypes, and labels that do not fit the images.
"""

from __future__ import annotations

import io
import tokenize
import zipfile
import zlib
from typing import BinaryIO

import numpy as np

from vae import limits
from vae.data.downloads import DataError

IMAGE_KEYS = ("x", "images", "X", "image", "data", "x_train", "arr_0")
LABEL_KEYS = ("y", "labels", "Y", "label", "targets", "y_train", "arr_1")
CHANNELS = (1, 3, 4)
MAX_CLASSES = 10_000  # integer labels above this are refused (each class gets a name)


def read(data: bytes, kind: str, check_limits) -> tuple[np.ndarray, np.ndarray | None]:
    """(images, labels or None) from .npy or .npz bytes, never unpickling; every array's header
    is checked before its data is read."""
    try:
        if kind == "npy":
            _check_header(io.BytesIO(data), len(data), "the .npy file")
            return np.load(io.BytesIO(data), allow_pickle=False), None
        archive = zipfile.ZipFile(io.BytesIO(data))
        check_limits(len(archive.infolist()), sum(i.file_size for i in archive.infolist()), "the .npz file")
        for info in archive.infolist():
            with archive.open(info) as member:
                _check_header(member, info.file_size, f"array {info.filename!r} of the .npz file")
        with np.load(io.BytesIO(data), allow_pickle=False) as f:
            x_key = _pick_key(list(f.keys()), IMAGE_KEYS, "images")
            y_keys = [k for k in LABEL_KEYS if k in f.files and k != x_key]
            return f[x_key], (f[y_keys[0]] if y_keys else None)
    except zlib.error:
        raise DataError(f"the .{kind} file is damaged: a compressed array in it does not unpack") from None
    except UnicodeDecodeError:  # a member name flagged UTF-8 that is not
        raise DataError(f"the .{kind} file is damaged: a name inside it is not UTF-8 text") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError, RuntimeError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"could not read the .{kind} file: {e}") from e


def _check_header(f: BinaryIO, size: int, where: str) -> None:
    """Refuse an array from its header alone: Python objects (they would need pickle), a data size
    over the dataset limit, or more data declared than the file holds."""
    from numpy.lib import format as npy

    try:
        version = npy.read_magic(f)
        read = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        shape, _, dtype = read(f)
    except (ValueError, SyntaxError, TypeError, EOFError, tokenize.TokenError, zlib.error) as e:
        raise DataError(f"{where} has a malformed header: its shape and type cannot be read") from e
    if dtype.hasobject:
        raise DataError(
            f"{where} holds Python objects, which would need pickle to load; they are "
            "never loaded: save numbers (uint8 or float) instead"
        )
    nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if nbytes > limits.DATASET_BYTES or 4 * int(np.prod(shape, dtype=object)) > limits.DATASET_BYTES:
        raise DataError(
            f"{where} declares shape {shape} ({nbytes:,} bytes): over the dataset limit of "
            f"{limits.DATASET_BYTES // 2**20} MiB in memory (VAE_DATASET_BYTES)"
        )
    if nbytes > size:
        raise DataError(f"{where} declares shape {shape} but holds only {size:,} bytes: truncated")


def _pick_key(keys: list[str], wanted: tuple[str, ...], what: str) -> str:
    found = [k for k in wanted if k in keys]
    others = [k for k in keys if k not in LABEL_KEYS]
    if found:
        return found[0]
    if len(others) == 1:
        return others[0]
    raise DataError(f"the .npz file has keys {keys}; name the {what} array one of {', '.join(wanted)}")


def images_from_array(x: np.ndarray) -> np.ndarray:
    """uint8 0..255 / float 0..1 in (N,H,W), (N,H,W,C), (N,C,H,W) or (N,H*W) -> (N,C,H,W) float32."""
    if x.size == 0:
        raise DataError(f"the image array is empty (shape {x.shape})")
    if x.dtype == bool:
        x = x.astype(np.float32)
    elif np.issubdtype(x.dtype, np.integer):
        if x.min() < 0 or x.max() > 255:
            raise DataError(f"integer pixels must be 0..255, found {x.min()}..{x.max()}")
        x = x.astype(np.float32) / 255
    elif np.issubdtype(x.dtype, np.floating):
        if not np.isfinite(x).all():
            raise DataError("the image array contains NaN or infinite values")
        if x.min() < 0 or x.max() > 1:
            raise DataError(
                f"float pixels must be in [0, 1], found {x.min():g}..{x.max():g}; divide by 255 or save as uint8"
            )
        x = x.astype(np.float32)
    else:
        raise DataError(f"unsupported image dtype {x.dtype}; use uint8 or float")
    return np.ascontiguousarray(_to_nchw(x))


def _to_nchw(x: np.ndarray) -> np.ndarray:
    side = int(round(np.sqrt(x.shape[-1]))) if x.ndim == 2 else 0
    if x.ndim == 2 and side * side == x.shape[1]:
        return x.reshape(-1, 1, side, side)  # (N, H*W) flattened squares
    if x.ndim == 3:
        return x[:, None]  # (N, H, W)
    if x.ndim == 4 and x.shape[1] in CHANNELS:
        return x  # (N, C, H, W)
    if x.ndim == 4 and x.shape[3] in CHANNELS:
        return x.transpose(0, 3, 1, 2)  # (N, H, W, C)
    raise DataError(
        f"cannot read image array of shape {x.shape}: use (N, H, W), (N, H, W, C), "
        "(N, C, H, W) with C in 1/3/4, or (N, H*W) square images"
    )


def resize_array(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N, C, H, W) float32 -> (N, C, size[0], size[1]), bilinear, clipped to [0, 1]."""
    from PIL import Image

    out = np.empty((*x.shape[:2], *size), np.float32)
    for i, c in np.ndindex(*x.shape[:2]):
        resized = Image.fromarray(x[i, c]).resize((size[1], size[0]), Image.Resampling.BILINEAR)
        out[i, c] = np.asarray(resized)
    return np.clip(out, 0, 1)


def labels_from_array(y: np.ndarray, n: int) -> tuple[np.ndarray, list[str]]:
    """Integer or string labels (N,) -> (N,) int64 and class names."""
    if y.shape != (n,):
        raise DataError(f"labels have shape {y.shape}, expected ({n},) to match the images")
    if y.dtype.kind in "US":
        class_names, index = np.unique(y, return_inverse=True)
        return index.astype(np.int64), [str(c) for c in class_names]
    if y.dtype.kind == "f" and not (np.isfinite(y).all() and (y == np.round(y)).all()):
        raise DataError("labels must be whole numbers (found NaN or fractions)")
    if y.dtype.kind not in "biuf" or (n and y.min() < 0):
        raise DataError(f"labels must be non-negative integers or strings, got {y.dtype}")
    labels = y.astype(np.int64)
    if n and (labels.max() >= MAX_CLASSES or labels.min() < 0):
        raise DataError(f"integer labels go up to {labels.max()}; use 0..K-1 with K <= {MAX_CLASSES}")
    return labels, [str(i) for i in range(int(labels.max()) + 1)]
