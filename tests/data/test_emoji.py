"""vae.data.emoji against package tarballs the test makes (never the registry): a fake `npm` on PATH
packs them, the integrity is checked, RGBA is composited onto white, the split keeps each emoji
(its skin variations and both vendors' drawings) on one side."""

import base64
import hashlib
import io
import json
import os
import stat
import tarfile

import numpy as np
import pytest
from PIL import Image

from vae.data import datasets, emoji
from vae.data.downloads import DataError


def _png(colour, alpha) -> bytes:
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[...] = (*colour, 0)
    rgba[16:48, 16:48, 3] = alpha  # an opaque square; the rest has alpha 0 but arbitrary RGB
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    return buf.getvalue()


def _package(path, vendor, n_emoji=40):
    meta = []
    files = {}
    for i in range(n_emoji):
        cat = emoji.CATEGORIES[i % len(emoji.CATEGORIES)]
        e = {"unified": f"1F{i:03X}", "image": f"1f{i:03x}.png", "category": cat, "name": f"E{i}"}
        if i == 39:  # a territory sharing another's flag: a pixel-identical drawing
            files[e["image"]] = _png((38, 217, 7), 255)
            meta.append(e)
            continue
        files[e["image"]] = _png((255, 0, 0) if i == 0 else (i, 255 - i, 7), 255)  # a picture of its own
        if i % 5 == 0:  # a skin variation of this emoji: its own picture, the same emoji
            e["skin_variations"] = {"1F3FB": {"image": f"1f{i:03x}-1f3fb.png"}}
            files[f"1f{i:03x}-1f3fb.png"] = _png((0, i, 255), 128)
        meta.append(e)
    meta.append({"unified": "1F3FB", "image": "1f3fb.png", "category": "Component", "name": "SKIN"})
    files["1f3fb.png"] = _png((0, 255, 0), 255)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in [
            ("package/emoji.json", json.dumps(meta).encode()),
            *((f"package/img/{vendor}/64/{k}", v) for k, v in files.items()),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _integrity(path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


@pytest.fixture
def fake_npm(tmp_path):
    """An `npm` that answers `npm pack NAME@VER` by copying the tarball the test made."""
    made = tmp_path / "registry"
    made.mkdir()
    packages = {}
    for package, (vendor, _) in emoji.PACKAGES.items():
        name = package.split("@")[0]
        tgz = made / f"{name}-16.0.0.tgz"
        _package(tgz, vendor)
        packages[package] = (vendor, _integrity(tgz))
    npm = tmp_path / "npm"
    npm.write_text(f"#!/bin/sh\nname=${{2%@*}}\ncp {made}/$name-16.0.0.tgz .\necho $name-16.0.0.tgz\n")
    npm.chmod(npm.stat().st_mode | stat.S_IEXEC)
    return str(npm), packages


def test_fetch_builds_both_sizes_composited_on_white_split_by_emoji(fake_npm, tmp_path):
    npm, packages = fake_npm
    folder = emoji.fetch(tmp_path / "data", npm=npm, packages=packages)
    assert emoji.is_fetched(32, folder) and emoji.is_fetched(64, folder)
    with np.load(emoji.cache_path(64, folder)) as z:
        images, labels, ids, vendors = z["images"], z["labels"], z["ids"], z["vendors"]
    assert images.shape == (2 * 48, 64, 64, 3)  # 40 emoji + 8 skin variations, per vendor; no Component
    assert set(vendors) == {"google", "twitter"} and labels.max() == len(emoji.CATEGORIES) - 1
    assert (images[:, 0, 0] == 255).all()  # alpha 0 with red or blue RGB behind it -> white
    assert (images[0, 32, 32] == (255, 0, 0)).all()
    half = images[ids == "1F000"][1, 32, 32]  # the skin variation: blue at alpha 128 over white
    assert abs(int(half[0]) - 127) <= 1 and half[2] == 255
    for size in (32, 64):
        train, y_train = emoji.load(size, "train", folder)
        test, y_test = emoji.load(size, "test", folder)
        assert train.shape[1:] == (3, size, size) and train.dtype == np.float32 and 0 <= train.min() <= train.max() <= 1
        assert len(train) + len(test) == 96
    with np.load(emoji.cache_path(64, folder)) as z:
        groups = z["groups"]
    assert (groups[ids == "1F027"] == groups[ids == "1F026"][0]).all()  # the shared flag joins its twin
    held = emoji.test_ids(groups)
    assert len(held) == 8  # 20% of 39 groups
    test_rows = np.isin(groups, list(held))
    assert set(ids[test_rows]).isdisjoint(ids[~test_rows])  # no emoji on both sides
    pictures = [im.tobytes() for im in images]
    assert not {pictures[i] for i in np.flatnonzero(test_rows)} & {pictures[i] for i in np.flatnonzero(~test_rows)}
    assert len(emoji.load(32, "test", folder)[0]) == test_rows.sum()


def test_the_metadata_columns_follow_the_images_into_the_dataset(fake_npm, tmp_path, monkeypatch):
    """vendor, skin tone and emoji id for each picture, in the split's order: what directions group by."""
    npm, packages = fake_npm
    monkeypatch.setenv("VAE_DATA_DIR", str(emoji.fetch(tmp_path / "data", npm=npm, packages=packages)))
    for split in ("train", "test", "all"):
        ds = datasets.load_dataset("emoji", split)
        assert set(ds.columns) == {"vendor", "skin", "emoji"} and all(len(v) == len(ds) for v in ds.columns.values())
    ds = datasets.load_dataset("emoji", "all")
    assert set(ds.columns["vendor"]) == {"google", "twitter"} and set(ds.columns["skin"]) == {"none", "light"}
    light = ds.columns["skin"] == "light"  # every fifth emoji has a light variation, drawn by both vendors
    assert light.sum() == 16 and set(ds.columns["emoji"][light]) <= set(ds.columns["emoji"][~light])
    assert emoji.skin_tone("1F3FB-1F3FF") == "mixed" and emoji.skin_tone("1f3fe") == "medium-dark"
    assert emoji.skin_tone("") == "none"
    mini = tmp_path / "mini.npz"
    monkeypatch.setattr(emoji, "MINI_TRAIN", 20)  # the fake packages have 96 drawings
    emoji.make_mini(tmp_path / "data", target=mini)
    monkeypatch.setattr(emoji, "MINI", mini)
    test = datasets.load_dataset("emoji-mini", "test")
    assert set(test.columns) == {"vendor", "skin", "emoji"} and len(test.columns["vendor"]) == len(test)


def test_a_tarball_that_is_not_the_pinned_one_is_refused_and_nothing_is_cached(fake_npm, tmp_path):
    npm, packages = fake_npm
    wrong = {k: (v, "sha512-" + "A" * 86 + "==") for k, (v, _) in packages.items()}
    with pytest.raises(DataError, match="integrity check failed"):
        emoji.fetch(tmp_path / "data", npm=npm, packages=wrong)
    assert not emoji.is_fetched(32, tmp_path / "data")
    assert [p for p in (tmp_path / "data").iterdir()] == []  # the packed tarballs are gone too


def test_without_npm_or_network_the_error_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DataError, match="npm is not on PATH"):
        emoji.fetch(tmp_path / "data")
    broken = tmp_path / "npm"
    broken.write_text("#!/bin/sh\necho 'npm error network request failed' >&2\nexit 1\n")
    broken.chmod(0o755)
    with pytest.raises(DataError, match="npm pack emoji-datasource-google@16.0.0 failed.*network"):
        emoji.fetch(tmp_path / "data", npm=str(broken))


def test_the_named_datasets_say_their_shape_and_credit(fake_npm, tmp_path, monkeypatch):
    npm, packages = fake_npm
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "data"))
    assert datasets.shape_of("emoji") == (3, 32, 32) and datasets.shape_of("emoji-64") == (3, 64, 64)
    assert "CC-BY 4.0" in datasets.DATASETS["emoji"] and not datasets.is_available("emoji")
    with pytest.raises(DataError, match="python -m vae data fetch emoji"):
        datasets.load_dataset("emoji", "test")
    emoji.fetch(os.environ["VAE_DATA_DIR"], npm=npm, packages=packages)
    d = datasets.load_dataset("emoji-64", "test")
    assert d.images.shape[1:] == (3, 64, 64) and d.class_names == emoji.CATEGORIES


def test_the_bundled_emoji_mini_holds_held_out_and_training_drawings():
    """Shipped in the repository, so colour works before anything is fetched: the 1,550 held-out test
    drawings and 1,000 training ones, no picture on both sides."""
    assert datasets.is_available("emoji-mini") and datasets.shape_of("emoji-mini") == (3, 32, 32)
    test, train = datasets.load_dataset("emoji-mini", "test"), datasets.load_dataset("emoji-mini", "train")
    assert len(test) == 1550 and len(train) == 1000 and test.class_names == emoji.CATEGORIES
    assert set(np.unique(test.labels)) == set(range(9))

    def digests(d):
        return {hashlib.sha256(im.tobytes()).hexdigest() for im in (d.images * 255).round().astype(np.uint8)}

    assert not digests(train) & digests(test)
    assert (test.images[:, :, 0, 0] > 0.95).mean() > 0.9  # composited onto white: corners are white
    assert "CC-BY 4.0" in datasets.DATASETS["emoji-mini"]
