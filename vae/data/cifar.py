"""CIFAR-10 from its canonical address, the binary version (never the pickled python batches):
`fetch` downloads cifar-10-binary.tar.gz (MD5 as published on the dataset's page), reads the six
.bin members straight out of the tarball (each record: 1 label byte, then 3,072 bytes of the
red, green and blue 32x32 planes) and caches uint8 arrays as cifar10.npz; 50,000 train / 10,000 test.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import numpy as np

from vae.data.downloads import DataError, Progress, _download, default_data_dir, file_hash

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
TRAIN = [f"data_batch_{i}.bin" for i in range(1, 6)]
TEST = ["test_batch.bin"]
RECORD = 1 + 3 * 32 * 32
MAX_MEMBER = 64 * 2**20  # a batch is 30,730,000 bytes


def cache_path(data_dir: str | Path | None = None) -> Path:
    return Path(data_dir or default_data_dir()) / "cifar10.npz"


def _records(raw: bytes, member: str) -> tuple[np.ndarray, np.ndarray]:
    if len(raw) % RECORD:
        raise DataError(f"{member}: {len(raw):,} bytes is not a whole number of {RECORD}-byte records")
    rows = np.frombuffer(raw, np.uint8).reshape(-1, RECORD)
    labels = rows[:, 0].astype(np.int64)
    if labels.max(initial=0) > 9:
        raise DataError(f"{member}: a label above 9: not CIFAR-10's binary format")
    return rows[:, 1:].reshape(-1, 3, 32, 32), labels


def _read_tar(path: Path) -> dict[str, np.ndarray]:
    out = {}
    with tarfile.open(path, "r:gz") as tar:
        members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
        for split, names in (("train", TRAIN), ("test", TEST)):
            parts = []
            for name in names:
                m = members.get(name)
                if m is None or m.size > MAX_MEMBER:
                    raise DataError(f"the tarball has no regular file {name} of sane size")
                parts.append(_records(tar.extractfile(m).read(), name))
            out[f"{split}_images"] = np.concatenate([p[0] for p in parts])
            out[f"{split}_labels"] = np.concatenate([p[1] for p in parts])
    return out


def fetch(
    data_dir: str | Path | None = None, *, progress: Progress | None = None, url: str = URL, md5: str = MD5
) -> Path:
    """Download, check the MD5, parse and cache; the tarball is removed after. Returns the folder."""
    folder = Path(data_dir or default_data_dir())
    folder.mkdir(parents=True, exist_ok=True)
    tarball = folder / ".cifar-10-binary.tar.gz"
    try:
        try:
            _download(url, tarball, "cifar10", progress)
        except (OSError, ValueError) as e:
            raise DataError(f"could not download CIFAR-10 from {url}: {e}") from None
        got = file_hash(tarball, "md5")
        if got != md5:
            raise DataError(f"checksum mismatch for {url}: expected md5 {md5}, got {got}; nothing was cached")
        arrays = _read_tar(tarball)
        part = folder / ".cifar10.part.npz"
        np.savez(part, **arrays)
        os.replace(part, cache_path(folder))
    finally:
        tarball.unlink(missing_ok=True)
    return folder


def load(split: str, data_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    path = cache_path(data_dir)
    if not path.is_file():
        raise DataError("cifar10 is not fetched yet: run `python -m vae data fetch cifar10`")
    with np.load(path, allow_pickle=False) as z:
        parts = ["train", "test"] if split == "all" else [split]
        x = np.concatenate([z[f"{p}_images"] for p in parts])
        y = np.concatenate([z[f"{p}_labels"] for p in parts])
    return x.astype(np.float32) / 255.0, y
