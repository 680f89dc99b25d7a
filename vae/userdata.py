"""User data -> arrays: a folder or .zip of pictures (class = subfolder name) or a .npz/.npy array.

Nothing is unpickled (np.load with allow_pickle=False) and every input is bounded: file count,
uncompressed bytes, pixels per picture and the size of the array built. Errors are DataError with a
message naming the file and the problem. vae.data.load_user_data wraps the result in a Dataset.
"""
from __future__ import annotations

import io
import os
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import numpy as np

from vae.downloads import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
MAX_FILES = 100_000
MAX_INPUT_BYTES = 1 * 2**30  # uncompressed bytes read from a folder, zip or npz
MAX_IMAGE_PIXELS = 4096 * 4096  # per picture, checked from its header before decoding
MAX_OUTPUT_BYTES = 2 * 2**30  # the float32 (N, C, H, W) array we build
IMAGE_KEYS = ("x", "images", "X", "image", "data", "x_train", "arr_0")
LABEL_KEYS = ("y", "labels", "Y", "label", "targets", "y_train", "arr_1")
CHANNELS = (1, 3, 4)


def read(source: str | Path | bytes | BinaryIO, *, name: str | None = None,
                   image_size: int | tuple[int, int] | None = None) -> tuple:
    """A folder, .zip, .npz or .npy (path, bytes or an uploaded file) -> (images, labels, class_names,
    name) for vae.data.Dataset.

    Pictures become grayscale at image_size (H, W), else at their most common size; the class of a
    picture is its folder's name (one folder only: no labels). Arrays may be (N, H, W), (N, H, W, C),
    (N, C, H, W) or (N, H*W), uint8 0..255 or float 0..1; labels come from a y/labels key.
    """
    size = (image_size, image_size) if isinstance(image_size, int) else image_size
    if isinstance(source, (str, Path)) and Path(source).is_dir():
        label = name or Path(source).name
        return _pictures(_folder_entries(Path(source)), label, size)
    data, filename = _read_source(source)
    label = name or (PurePosixPath(filename).stem if filename else "upload")
    kind = _kind(data, filename)
    if kind == "pictures":
        return _pictures(_zip_entries(data), label, size)
    x, y = _arrays(data, kind)
    images = _images_from_array(x)
    if size and images.shape[2:] != size:
        images = _resize_array(images, size)
    labels, class_names = _labels_from_array(y, len(images)) if y is not None else (None, None)
    return images, labels, class_names, label


def _read_source(source: str | Path | bytes | BinaryIO) -> tuple[bytes, str | None]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), None
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise DataError(f"{path} does not exist")
        if path.stat().st_size > MAX_INPUT_BYTES:
            raise DataError(f"{path} is larger than {MAX_INPUT_BYTES // 2**20} MiB")
        return path.read_bytes(), path.name
    data = source.read(MAX_INPUT_BYTES + 1)
    if len(data) > MAX_INPUT_BYTES:
        raise DataError(f"the upload is larger than {MAX_INPUT_BYTES // 2**20} MiB")
    return data, getattr(source, "name", None)


def _kind(data: bytes, filename: str | None) -> str:
    """"npy", "npz" or "pictures" (a zip of images), from the bytes and the file name."""
    suffix = PurePosixPath(filename).suffix.lower() if filename else ""
    if data.startswith(b"\x93NUMPY"):
        return "npy"
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        if suffix == ".npz":
            return "npz"
        if suffix == ".zip" or not suffix:
            return "npz" if _is_npz(data) else "pictures"
    shown = filename or "the upload"
    raise DataError(f"unsupported file type for {shown}: use a folder, .zip of images, .npz or .npy")


def _is_npz(data: bytes) -> bool:
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except zipfile.BadZipFile:
        return False
    return bool(names) and all(n.endswith(".npy") for n in names)


def _hidden(path: str) -> bool:
    """macOS/Windows clutter: __MACOSX/, ._x.png, .DS_Store, Thumbs.db."""
    parts = PurePosixPath(path).parts
    return not parts or any(p.startswith(".") or p == "__MACOSX" for p in parts) or parts[-1] == "Thumbs.db"


def _check_limits(n_files: int, n_bytes: int, where: str) -> None:
    if n_files > MAX_FILES:
        raise DataError(f"{where} holds more than {MAX_FILES} files")
    if n_bytes > MAX_INPUT_BYTES:
        raise DataError(f"{where} holds more than {MAX_INPUT_BYTES // 2**20} MiB uncompressed")


Entry = tuple[str, Callable[[], bytes]]  # (posix path inside the folder or zip, reader)


def _folder_entries(folder: Path) -> list[Entry]:
    files: list[Path] = []
    for path in _walk(folder):
        files.append(path)
        _check_limits(len(files), 0, str(folder))
    _check_limits(len(files), sum(p.stat().st_size for p in files), str(folder))
    return [(p.relative_to(folder).as_posix(), p.read_bytes) for p in files]


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for n in sorted(names):
            if not (Path(root) / n).is_symlink():
                yield Path(root) / n


def _zip_entries(data: bytes) -> list[Entry]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as e:
        raise DataError(f"not a valid zip file: {e}") from e
    infos = [i for i in archive.infolist() if not i.is_dir()]
    _check_limits(len(infos), sum(i.file_size for i in infos), "the zip file")
    return [(i.filename, lambda i=i: archive.read(i)) for i in infos]


def _pictures(entries: list[Entry], name: str, size: tuple[int, int] | None) -> tuple:
    """Image files -> grayscale (N, 1, H, W); labels from parent folders when there are several."""
    kept = sorted((p, read) for p, read in entries if not _hidden(p))
    if not kept:
        raise DataError(f"{name}: the folder or zip file is empty")
    files = [(p, read) for p, read in kept if PurePosixPath(p).suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise DataError(f"{name}: no images found among {len(kept)} files "
                        f"(supported: {', '.join(sorted(IMAGE_SUFFIXES))})")
    pictures = [_open_picture(p, read) for p, read in files]
    h, w = size or Counter((im.height, im.width) for _, im in pictures).most_common(1)[0][0]
    if len(pictures) * h * w * 4 > MAX_OUTPUT_BYTES:
        raise DataError(f"{len(pictures)} images of {h}x{w} are too many; pass a smaller image_size")
    images = np.empty((len(pictures), 1, h, w), np.float32)  # (N, 1, H, W)
    for i, (path, im) in enumerate(pictures):
        images[i, 0] = _grayscale(path, im, (h, w))
    labels, class_names = _labels_from_folders([p for p, _ in files])
    return images, labels, class_names, name


def _open_picture(path: str, read: Callable[[], bytes]) -> tuple[str, Any]:
    """Read a picture's bytes and header (no decoding yet); errors name the file."""
    from PIL import Image, UnidentifiedImageError

    try:
        im = Image.open(io.BytesIO(read()))
    except (UnidentifiedImageError, OSError, ValueError, RuntimeError, NotImplementedError,
            zipfile.BadZipFile, Image.DecompressionBombError) as e:
        raise DataError(f"corrupt or unreadable image {path}: {e}") from e
    if im.width * im.height > MAX_IMAGE_PIXELS:
        raise DataError(f"image {path} is {im.width}x{im.height}, over {MAX_IMAGE_PIXELS} pixels")
    return path, im


def _grayscale(path: str, im: Any, size: tuple[int, int]) -> np.ndarray:
    """Decode, convert to grayscale, resize to size (H, W) -> (H, W) float32 in [0, 1]."""
    from PIL import Image

    try:
        gray = im.convert("L")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise DataError(f"corrupt or unreadable image {path}: {e}") from e
    if gray.size != (size[1], size[0]):
        gray = gray.resize((size[1], size[0]), Image.Resampling.LANCZOS)
    return np.asarray(gray, np.float32) / 255


def _labels_from_folders(paths: list[str]) -> tuple[np.ndarray | None, list[str] | None]:
    parents = [PurePosixPath(p).parent for p in paths]
    if len(set(parents)) == 1:
        return None, None
    if any(p == PurePosixPath(".") for p in parents):
        raise DataError("some images are at the top level and some in subfolders: put every image "
                        "in a class subfolder, or all of them in one folder")
    class_names = sorted({p.name for p in parents})
    return np.array([class_names.index(p.name) for p in parents], np.int64), class_names


def _arrays(data: bytes, kind: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(images, labels or None) from .npy or .npz bytes, never unpickling."""
    try:
        if kind == "npy":
            return np.load(io.BytesIO(data), allow_pickle=False), None
        _check_limits(0, sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist()),
                      "the .npz file")
        with np.load(io.BytesIO(data), allow_pickle=False) as f:
            x_key = _pick_key(list(f.keys()), IMAGE_KEYS, "images")
            y_keys = [k for k in LABEL_KEYS if k in f.files and k != x_key]
            return f[x_key], (f[y_keys[0]] if y_keys else None)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"could not read the .{kind} file: {e}") from e


def _pick_key(keys: list[str], wanted: tuple[str, ...], what: str) -> str:
    found = [k for k in wanted if k in keys]
    others = [k for k in keys if k not in LABEL_KEYS]
    if found:
        return found[0]
    if len(others) == 1:
        return others[0]
    raise DataError(f"the .npz file has keys {keys}; name the {what} array one of {', '.join(wanted)}")


def _images_from_array(x: np.ndarray) -> np.ndarray:
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
            raise DataError(f"float pixels must be in [0, 1], found {x.min():g}..{x.max():g}; "
                            "divide by 255 or save as uint8")
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
    raise DataError(f"cannot read image array of shape {x.shape}: use (N, H, W), (N, H, W, C), "
                    "(N, C, H, W) with C in 1/3/4, or (N, H*W) square images")


def _resize_array(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N, C, H, W) float32 -> (N, C, size[0], size[1]), bilinear, clipped to [0, 1]."""
    from PIL import Image

    out = np.empty((*x.shape[:2], *size), np.float32)
    for i, c in np.ndindex(*x.shape[:2]):
        resized = Image.fromarray(x[i, c]).resize((size[1], size[0]), Image.Resampling.BILINEAR)
        out[i, c] = np.asarray(resized)
    return np.clip(out, 0, 1)


def _labels_from_array(y: np.ndarray, n: int) -> tuple[np.ndarray, list[str]]:
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
    return labels, [str(i) for i in range(int(labels.max()) + 1)]
