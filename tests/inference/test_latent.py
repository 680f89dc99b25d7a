"""Tests for vae.inference.latent: grids, interpolation, projections and their cache, neighbours, ellipses."""

import sys

import numpy as np
import pytest
import torch

from vae.inference import latent
from vae.models.config import ModelConfig
from vae.models.registry import build


@pytest.fixture(scope="module")
def model2():
    return build(ModelConfig(latent_dim=2, hidden=(32,)), seed=0)


@pytest.fixture(scope="module")
def model5():
    return build(ModelConfig(latent_dim=5, hidden=(32,)), seed=0)


@pytest.fixture
def z300():
    return np.random.default_rng(0).normal(size=(300, 6)).astype(np.float32)


@pytest.mark.parametrize("n", [1, 2, 7, 20])
def test_gaussian_percentiles_finite_symmetric_sorted(n):
    v = latent.gaussian_percentiles(n)
    assert v.shape == (n,) and np.isfinite(v).all()
    np.testing.assert_allclose(v, -v[::-1], atol=1e-6)
    assert np.all(np.diff(v) > 0)


def test_gaussian_percentiles_eps():
    v = latent.gaussian_percentiles(3, eps=0.05)
    np.testing.assert_allclose(v, [-1.6448536, 0.0, 1.6448536], atol=1e-5)
    with pytest.raises(ValueError):
        latent.gaussian_percentiles(3, eps=0.0)


def test_linear_range():
    np.testing.assert_allclose(latent.linear_range(5, 2.0), [-2, -1, 0, 1, 2])


def test_encode_dataset_batching_equals_one_batch(model5):
    x = np.random.default_rng(1).random((23, 1, 28, 28), dtype=np.float32)
    mu, sigma = latent.encode_dataset(model5, x, batch_size=5)
    mu1, sigma1 = latent.encode_dataset(model5, torch.from_numpy(x), batch_size=1000)
    assert mu.shape == sigma.shape == (23, 5) and mu.dtype == np.float32
    np.testing.assert_allclose(mu, mu1, atol=1e-5)
    np.testing.assert_allclose(sigma, sigma1, atol=1e-5)
    assert (sigma > 0).all()


def test_decode_shapes(model5):
    assert latent.decode(model5, np.zeros(5)).shape == (1, 1, 28, 28)
    out = latent.decode(model5, np.zeros((3, 5)))
    assert out.shape == (3, 1, 28, 28) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1


def test_decode_grid_shapes_and_orientation(model5):
    base = np.arange(5, dtype=np.float32) / 10
    g = latent.decode_grid(model5, 5, dims=(1, 3), base=base)
    assert g.images.shape == (5, 5, 1, 28, 28) and g.zs.shape == (25, 5)
    assert np.all(np.diff(g.xs) > 0) and np.all(np.diff(g.ys) < 0)  # row 0 is the top
    centre = g.zs[2 * 5 + 2]
    np.testing.assert_allclose(centre[[0, 2, 4]], base[[0, 2, 4]])
    np.testing.assert_allclose(centre[[1, 3]], 0.0, atol=1e-6)
    assert g.zs[0, 3] == g.ys.max() and g.zs[0, 1] == g.xs.min()  # top-left cell
    np.testing.assert_allclose(g.zs[:, 0], base[0])
    assert g.axis_names == ("z2", "z4")


def test_decode_grid_equals_one_by_one(model2):
    g = latent.decode_grid(model2, 4, spacing="range", extent=2.0)
    np.testing.assert_allclose(g.xs, [-2, -2 / 3, 2 / 3, 2], atol=1e-6)
    for r in range(4):
        for c in range(4):
            one = latent.decode(model2, g.zs[r * 4 + c])[0]
            np.testing.assert_allclose(g.images[r, c], one, atol=1e-6)
            assert g.zs[r * 4 + c].tolist() == pytest.approx([g.xs[c], g.ys[r]])


def test_decode_grid_rejects_bad_dims(model2):
    with pytest.raises(ValueError):
        latent.decode_grid(model2, 3, dims=(0, 0))
    with pytest.raises(ValueError):
        latent.decode_grid(model2, 3, spacing="log")


def test_decode_grid_over_pca_plane(model5):
    rng = np.random.default_rng(0)
    z = (rng.normal(size=(200, 2)) @ rng.normal(size=(2, 5))).astype(np.float32)
    plane = latent.project(z, "pca")
    g = latent.decode_grid(model5, 3, plane=plane)
    assert g.images.shape == (3, 3, 1, 28, 28) and g.axis_names == ("PC1", "PC2")
    np.testing.assert_allclose(g.xs, latent.gaussian_percentiles(3) * np.sqrt(plane.explained_variance[0]))
    np.testing.assert_allclose(plane.transform(g.zs)[4], [0, 0], atol=1e-4)  # centre at the mean
    np.testing.assert_allclose(plane.transform(g.zs)[0], [g.xs[0], g.ys[0]], atol=1e-4)
    base = rng.normal(size=5).astype(np.float32)  # off the plane: the grid keeps base's offset
    gb = latent.decode_grid(model5, 3, plane=plane, base=base)
    np.testing.assert_allclose(plane.transform(gb.zs), plane.transform(g.zs), atol=1e-4)
    off = base - plane.inverse(plane.transform(base))[0]
    np.testing.assert_allclose(gb.zs - g.zs, np.tile(off, (9, 1)), atol=1e-4)


def test_slerp_endpoints_and_norm():
    z0, z1 = np.array([3.0, 0.0, 0.0]), np.array([0.0, 3.0, 0.0])
    path = latent.interpolate(z0, z1, 9, method="spherical")
    assert path.shape == (9, 3)
    assert (path[0] == z0).all() and (path[-1] == z1).all()
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 3.0, rtol=1e-5)  # on the great circle
    lin = latent.interpolate(z0, z1, 9)
    assert np.linalg.norm(lin[4]) < 3.0  # linear cuts the corner
    np.testing.assert_allclose(lin[4], (z0 + z1) / 2)


def test_slerp_degenerate_cases_fall_back_to_linear():
    z = np.array([1.0, 2.0])
    for z0, z1 in ((z, 2 * z), (np.zeros(2), z)):
        s = latent.interpolate(z0, z1, 5, method="spherical")
        np.testing.assert_allclose(s, latent.interpolate(z0, z1, 5), atol=1e-6)
        assert np.isfinite(s).all()
    with pytest.raises(ValueError):
        latent.interpolate(z, z, 1)


def test_traverse():
    out = latent.traverse(np.array([1.0, 2.0, 3.0]), 1, [-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(out, [[1, -1, 3], [1, 0, 3], [1, 1, 3]])


def test_pca_inverse_exact_for_2d():
    z = np.random.default_rng(2).normal(size=(100, 2)).astype(np.float32) * [3, 0.5]
    p = latent.project(z, "pca")
    assert p.method == "pca" and p.axis_names == ("PC1", "PC2") and p.has_inverse
    np.testing.assert_allclose(p.inverse(p.transform(z)), z, atol=1e-4)
    assert p.explained_variance[0] >= p.explained_variance[1]
    assert p.explained_variance_ratio.sum() == pytest.approx(1.0, abs=1e-5)


def test_pca_reconstructs_low_rank_data():
    rng = np.random.default_rng(3)
    z = (rng.normal(size=(150, 2)) @ rng.normal(size=(2, 8)) + 1.5).astype(np.float32)
    p = latent.project(z, "pca")
    assert p.coords.shape == (150, 2) and p.coords.dtype == np.float32
    assert np.abs(p.inverse(p.coords) - z).max() < 1e-3


def test_identity_for_2d_and_1d():
    z = np.random.default_rng(4).normal(size=(10, 2)).astype(np.float32)
    p = latent.project(z, "identity")
    assert p.axis_names == ("z1", "z2")
    np.testing.assert_array_equal(p.coords, z)
    np.testing.assert_array_equal(p.inverse(p.coords), z)
    p1 = latent.project(z[:, :1], "identity")
    assert p1.axis_names == ("z1", "") and p1.coords.shape == (10, 2)
    np.testing.assert_array_equal(p1.coords[:, 1], 0.0)


def test_tsne_shape_and_determinism(z300):
    a, b = latent.project(z300, "tsne", seed=1), latent.project(z300, "tsne", seed=1)
    assert a.coords.shape == (300, 2) and a.axis_names == ("t-SNE 1", "t-SNE 2")
    np.testing.assert_array_equal(a.coords, b.coords)
    assert not a.has_inverse
    with pytest.raises(NotImplementedError, match="place"):
        a.transform(z300[:2])
    with pytest.raises(NotImplementedError):
        a.inverse(a.coords[:2])
    np.testing.assert_allclose(a.place(z300[:3]), a.coords[:3], atol=1e-3)  # a known point lands on itself


def test_tsne_max_points_places_the_rest(z300):
    p = latent.project(z300, "tsne", max_points=80)
    assert p.coords.shape == (300, 2) and p.reference.shape == (80, 6)
    assert np.isfinite(p.coords).all()


def test_unknown_and_missing_projection(z300, monkeypatch):
    with pytest.raises(ValueError, match="unknown"):
        latent.project(z300, "mds")
    assert latent.available_projections() == ["pca", "tsne", "umap", "identity"]  # umap-learn is required
    monkeypatch.setitem(sys.modules, "umap", None)  # as if it did not import
    with pytest.raises(RuntimeError, match="umap-learn"):
        latent.project(z300, "umap")


def test_umap_keeps_clusters_apart_is_seeded_and_places_new_points():
    rng = np.random.default_rng(5)
    centres = np.zeros((2, 6), np.float32)
    centres[1, 0] = 12.0
    labels = np.arange(200) % 2
    z = (centres[labels] + rng.normal(size=(200, 6))).astype(np.float32)
    p = latent.project(z, "umap", seed=0, max_points=150)  # 150 fitted, 50 placed by UMAP's transform
    assert p.coords.shape == (200, 2) and np.isfinite(p.coords).all() and p.axis_names == ("UMAP 1", "UMAP 2")
    a, b = p.coords[labels == 0], p.coords[labels == 1]
    gap = np.linalg.norm(a.mean(0) - b.mean(0))
    assert gap > 3 * max(a.std(0).max(), b.std(0).max())  # two blobs stay two blobs
    new = p.transform(centres)  # each centre lands with its own cluster
    assert np.linalg.norm(new[0] - a.mean(0)) < gap / 2 and np.linalg.norm(new[1] - b.mean(0)) < gap / 2
    np.testing.assert_array_equal(p.coords, latent.project(z, "umap", seed=0, max_points=150).coords)


def test_cached_project_writes_then_reads(z300, tmp_path, monkeypatch):
    first = latent.cached_project(z300, "tsne", "mnist v1/weird:key", tmp_path, seed=0)
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1 and "/" not in files[0].name and ":" not in files[0].name

    def boom(*args, **kwargs):
        raise AssertionError("recomputed")

    monkeypatch.setattr(latent, "project", boom)
    second = latent.cached_project(z300, "tsne", "mnist v1/weird:key", tmp_path, seed=0)
    np.testing.assert_array_equal(first.coords, second.coords)
    assert second.axis_names == ("t-SNE 1", "t-SNE 2") and second.method == "tsne"
    np.testing.assert_allclose(second.place(z300[:2]), first.coords[:2], atol=1e-3)
    with pytest.raises(AssertionError, match="recomputed"):  # other latents, same key: recompute
        latent.cached_project(z300 + 1, "tsne", "mnist v1/weird:key", tmp_path, seed=0)


def test_cached_pca_keeps_its_inverse(z300, tmp_path):
    latent.cached_project(z300, "pca", "m", tmp_path)
    p = latent.cached_project(z300, "pca", "m", tmp_path)
    assert p.has_inverse and p.explained_variance.shape == (2,)
    np.testing.assert_allclose(p.transform(z300), p.coords, atol=1e-5)


def test_nearest_neighbours_toy():
    ref = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0], [0.0, 2.0]])
    idx, dist = latent.nearest_neighbours(ref, np.array([[0.9, 0.1], [5.0, 4.0]]), k=2)
    np.testing.assert_array_equal(idx, [[1, 0], [2, 3]])
    np.testing.assert_allclose(dist[:, 0], [np.sqrt(0.02), 1.0], rtol=1e-5)
    idx1, _ = latent.nearest_neighbours(ref, np.array([0.0, 1.9]), k=1)
    assert idx1.tolist() == [[3]]


def test_sigma_ellipse_radius():
    mu, sigma = np.array([1.0, -2.0]), np.array([0.5, 2.0])
    xs, ys = latent.sigma_ellipse(mu, sigma, 2, n_points=50)
    assert xs.shape == ys.shape == (50,)
    r = np.sqrt(((xs - mu[0]) / sigma[0]) ** 2 + ((ys - mu[1]) / sigma[1]) ** 2)
    np.testing.assert_allclose(r, 2.0)
    assert (xs[0], ys[0]) == pytest.approx((xs[-1], ys[-1]))  # closed curve


def test_order_by_kl():
    order, active = latent.order_by_kl([0.001, 3.0, 0.5, 3.0, 0.0])
    assert order.tolist() == [1, 3, 2, 0, 4]
    assert active.tolist() == [False, True, True, True, False]


def test_the_reach_fits_the_codes_and_the_prior():
    assert latent.fit_reach(np.array([[0.5, -1.0]])) == 4.0  # inside the prior: its +-4
    assert latent.fit_reach(np.array([[0.0, -7.05]])) == 7.5  # 7.05 * 1.05 = 7.4 -> 7.5
    assert latent.fit_reach(np.full((1, 2), 1e6)) == latent.MAX_REACH
    assert latent.format_z(np.array([2.53, -0.1], np.float32)) == "[2.53, -0.10]"
