"""User data -> arrays: a folder or .zip of pictures (class = subfolder name) or a .npz/.npy array.

Nothing is unpickled (np.load with allow_pickle=False), nothing is extracted to disk, and every
input is bounded by vae/limits.py: file count, uncompressed bytes, pixels per picture (from its
header, before decoding), and the size of the array built (from an array file's header, before
reading it). Zip members with unsafe paths ("../", absolute), symbolic links and nested archives
are refused. Errors are DataError with a message naming the file and the problem.
vae.data.datasets.load_user_data wraps the result in a Dataset.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import numpy as np

from vae import limits
from vae.data import arrayfiles
from vae.data.downloads import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
ARCHIVE_SUFFIXES = {".zip", ".npz", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".jar"}


def read(
    source: str | Path | bytes | BinaryIO, *, name: str | None = None, image_size: int | tuple[int, int] | None = None
) -> tuple:
    """A folder, .zip, .npz or .npy (path, bytes or an uploaded file) -> (images, labels, class_names,
    name) for vae.data.datasets.Dataset.

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
    x, y = arrayfiles.read(data, kind, _check_limits)
    images = arrayfiles.images_from_array(x)
    if size and images.shape[2:] != size:
        images = arrayfiles.resize_array(images, size)
    labels, class_names = arrayfiles.labels_from_array(y, len(images)) if y is not None else (None, None)
    return images, labels, class_names, label


def _read_source(source: str | Path | bytes | BinaryIO) -> tuple[bytes, str | None]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), None
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise DataError(f"{path} does not exist")
        if path.stat().st_size > limits.INPUT_BYTES:
            raise DataError(f"{path} is larger than {limits.INPUT_BYTES // 2**20} MiB")
        return path.read_bytes(), path.name
    data = source.read(limits.INPUT_BYTES + 1)
    if len(data) > limits.INPUT_BYTES:
        raise DataError(f"the upload is larger than {limits.INPUT_BYTES // 2**20} MiB")
    return data, getattr(source, "name", None)


def _kind(data: bytes, filename: str | None) -> str:
    """ "npy", "npz" or "pictures" (a zip of images), from the bytes and the file name."""
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
    except (zipfile.BadZipFile, NotImplementedError, ValueError, OSError, EOFError):  # _zip_entries says why
        return False
    return bool(names) and all(n.endswith(".npy") for n in names)


def _hidden(path: str) -> bool:
    """macOS/Windows clutter: __MACOSX/, ._x.png, .DS_Store, Thumbs.db."""
    parts = PurePosixPath(path).parts
    return not parts or any(p.startswith(".") or p == "__MACOSX" for p in parts) or parts[-1] == "Thumbs.db"


def _check_limits(n_files: int, n_bytes: int, where: str) -> None:
    if n_files > limits.ZIP_FILES:
        raise DataError(f"{where} holds more than {limits.ZIP_FILES:,} files (the limit, VAE_ZIP_FILES)")
    if n_bytes > limits.INPUT_BYTES:
        raise DataError(
            f"{where} holds more than {limits.INPUT_BYTES // 2**20} MiB uncompressed "
            "(the limit, VAE_INPUT_BYTES): a zip bomb, or too much data"
        )


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
    _check_limits(_declared_entries(data), 0, "the zip file")  # before parsing every entry
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except UnicodeDecodeError:  # a member name flagged UTF-8 that is not
        raise DataError("not a valid zip file: a member's name is marked UTF-8 but is not UTF-8 text") from None
    except (zipfile.BadZipFile, ValueError, NotImplementedError) as e:
        raise DataError(f"not a valid zip file: {e}") from e
    if any(not i.filename for i in archive.infolist()):
        raise DataError("the zip file holds a member without a name; nothing was extracted")
    infos = [i for i in archive.infolist() if not i.is_dir()]
    _check_limits(len(infos), sum(i.file_size for i in infos), "the zip file")
    seen = set()
    for i in infos:
        _check_member(i)
        if i.filename in seen:
            raise DataError(f"the zip file holds {i.filename!r} twice; which one is meant cannot be told")
        seen.add(i.filename)
    return [(i.filename, lambda i=i: _read_member(archive, i)) for i in infos]


def _declared_entries(data: bytes) -> int:
    """The entry count a zip's end record declares (0 if it cannot be read: ZipFile will say why)."""
    end = getattr(zipfile, "_EndRecData", None)
    try:
        record = end(io.BytesIO(data)) if end else None
    except (OSError, ValueError, zipfile.BadZipFile):
        record = None
    return int(record[getattr(zipfile, "_ECD_ENTRIES_TOTAL", 4)]) if record else 0


def _check_member(info: zipfile.ZipInfo) -> None:
    name = info.filename
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
        raise DataError(f"the zip file holds an unsafe path {name!r} (absolute, or with '..'); nothing was extracted")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise DataError(f"the zip file holds a symbolic link {name!r}; links are not followed")
    if PurePosixPath(name).suffix.lower() in ARCHIVE_SUFFIXES and not _hidden(name):
        raise DataError(
            f"the zip file holds another archive {name!r}; nested archives are not "
            "opened: unpack it and zip the pictures themselves"
        )


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A member's bytes, never more than it declares (a lying header fails its CRC check)."""
    try:
        with archive.open(info) as f:
            return f.read(info.file_size + 1)[: info.file_size + 1]
    except zlib.error:
        raise DataError(f"the zip member {info.filename!r} is damaged: its compressed data does not unpack") from None
    except UnicodeDecodeError:  # its local header's name, flagged UTF-8, is not
        raise DataError(f"the zip member {info.filename!r} is damaged: the name in its header is not UTF-8") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as e:
        raise DataError(f"the zip member {info.filename!r} cannot be read: {e}") from e


def _pictures(entries: list[Entry], name: str, size: tuple[int, int] | None) -> tuple:
    """Image files -> grayscale (N, 1, H, W); labels from parent folders when there are several."""
    kept = sorted(((p, read) for p, read in entries if not _hidden(p)), key=lambda e: e[0])
    if not kept:
        raise DataError(f"{name}: the folder or zip file is empty")
    files = [(p, read) for p, read in kept if PurePosixPath(p).suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise DataError(
            f"{name}: no images found among {len(kept)} files (supported: {', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    pictures = [_open_picture(p, read) for p, read in files]
    decoded = 4 * sum(im.width * im.height for _, im in pictures)  # float32 bytes while decoding
    if decoded > limits.DATASET_BYTES:
        raise DataError(
            f"the {len(pictures)} pictures hold {decoded // 4:,} pixels: over the dataset "
            f"limit of {limits.DATASET_BYTES // 2**20} MiB in memory (VAE_DATASET_BYTES)"
        )
    h, w = size or Counter((im.height, im.width) for _, im in pictures).most_common(1)[0][0]
    if len(pictures) * h * w * 4 > limits.DATASET_BYTES:
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
    except Image.DecompressionBombError as e:
        raise DataError(f"image {path} is over the limit of {limits.IMAGE_PIXELS:,} pixels: {e}") from e
    except (UnidentifiedImageError, OSError, ValueError, RuntimeError, NotImplementedError, zipfile.BadZipFile) as e:
        raise DataError(f"corrupt or unreadable image {path}: {e}") from e
    if im.width * im.height > limits.IMAGE_PIXELS:
        raise DataError(
            f"image {path} is {im.width}x{im.height}, over the limit of "
            f"{limits.IMAGE_PIXELS:,} pixels (VAE_IMAGE_PIXELS)"
        )
    return path, im


def _grayscale(path: str, im: Any, size: tuple[int, int]) -> np.ndarray:
    """Decode, convert to grayscale, resize to size (H, W) -> (H, W) float32 in [0, 1]."""
    from PIL import Image

    try:
        if im.mode in ("I", "F") or im.mode.startswith("I;16"):  # 16-bit: convert("L") would clip
            a = np.asarray(im, np.float64)
            a = a / 65535 if im.mode.startswith("I;16") or a.max() > 255 else a / 255
            im = Image.fromarray(np.round(np.clip(a, 0, 1) * 255).astype(np.uint8))
        gray = im.convert("L")
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as e:
        raise DataError(f"corrupt or unreadable image {path}: {e}") from e
    if gray.size != (size[1], size[0]):
        gray = gray.resize((size[1], size[0]), Image.Resampling.LANCZOS)
    return np.asarray(gray, np.float32) / 255


def _labels_from_folders(paths: list[str]) -> tuple[np.ndarray | None, list[str] | None]:
    parents = [PurePosixPath(p).parent for p in paths]
    if len(set(parents)) == 1:
        return None, None
    if any(p == PurePosixPath(".") for p in parents):
        raise DataError(
            "some images are at the top level and some in subfolders: put every image "
            "in a class subfolder, or all of them in one folder"
        )
    class_names = sorted({p.name for p in parents})
    return np.array([class_names.index(p.name) for p in parents], np.int64), class_names
