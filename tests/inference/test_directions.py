"""vae.inference.directions against hand-made latent sets whose answers are known."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from vae.inference import directions as dirs


def _blobs(n=400, seed=0):
    """Two groups 3 apart along z1, the same spread along z2: the answer is (3, 0)."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(0, 0.5, (2 * n, 2))
    mu[n:, 0] += 3.0
    source = np.r_[np.ones(n, bool), np.zeros(n, bool)]
    return mu, source, ~source


def test_the_mean_difference_carries_one_mean_to_the_other():
    mu, s, t = _blobs()
    v = dirs.between(mu, s, t, "mean")
    np.testing.assert_allclose(v, mu[t].mean(0) - mu[s].mean(0), rtol=1e-5)
    np.testing.assert_allclose(mu[s].mean(0) + v, mu[t].mean(0), atol=1e-5)


def test_balancing_removes_a_confounder_the_plain_mean_picks_up():
    """The attribute moves z1 by 2; a confounder moves z2 by 4 and is 90% on in the target group,
    10% in the source: the plain mean leaks ~3.2 into z2, the balanced one ~0."""
    rng = np.random.default_rng(1)
    n = 1000
    target = np.r_[np.zeros(n, bool), np.ones(n, bool)]
    conf = np.where(target, rng.random(2 * n) < 0.9, rng.random(2 * n) < 0.1).astype(int)
    mu = rng.normal(0, 0.1, (2 * n, 2))
    mu[:, 0] += 2.0 * target
    mu[:, 1] += 4.0 * conf
    plain = dirs.between(mu, ~target, target, "mean")
    balanced = dirs.between(mu, ~target, target, "balanced", confounder=conf)
    assert plain[1] > 2.5 and abs(balanced[1]) < 0.05
    assert abs(balanced[0] - 2.0) < 0.05
    with pytest.raises(dirs.DirectionError, match="balance"):
        dirs.between(mu, ~target, target, "balanced")


def test_the_probe_is_the_boundary_normal_scaled_to_carry_the_means_and_can_be_conditioned():
    mu, s, t = _blobs()
    v = dirs.between(mu, s, t, "probe")
    assert v[0] > 2.8 and abs(v[1]) < 0.3  # the normal is (1, 0); the means are 3 apart along it
    tilted = mu @ np.array([[1.0, 1.0], [-1.0, 1.0]]) / np.sqrt(2)  # the same, rotated by 45 degrees
    cond = dirs.between(tilted, s, t, "probe", orthogonal_to=[np.array([1.0, 0.0])])
    assert abs(cond[0]) < 1e-6 and cond[1] > 0  # orthogonal to z1, what is left points to the target
    with pytest.raises(dirs.DirectionError, match="empty"):
        dirs.between(mu, np.zeros(len(mu), bool), t)
    with pytest.raises(dirs.DirectionError, match="both groups"):
        dirs.between(mu, s | t, t)


def test_along_a_property_changes_it_by_one_standard_deviation():
    rng = np.random.default_rng(2)
    mu = rng.normal(0, 1, (2000, 3))
    values = 2.0 * mu[:, 1] + rng.normal(0, 0.01, 2000)
    v, reg = dirs.along(mu, values)
    assert abs(v[1]) > 10 * max(abs(v[0]), abs(v[2]))
    change = reg.predict(mu[:1] + v)[0] - reg.predict(mu[:1])[0]
    assert change == pytest.approx(values.std(), rel=1e-3)
    assert reg.score(mu, values) > 0.99  # R^2


def test_principal_directions_and_axes_by_kl():
    rng = np.random.default_rng(3)
    mu = rng.normal(0, 1, (5000, 2)) * np.array([2.0, 1.0])
    (v1, share1), (v2, share2) = dirs.principal(mu, 2)
    assert abs(abs(v1[0]) - 2.0) < 0.1 and abs(v1[1]) < 0.1 and share1 == pytest.approx(0.8, abs=0.02)
    assert share1 + share2 == pytest.approx(1.0)
    (first, v, kl), _ = dirs.axes(mu, [0.1, 2.0])
    assert first == 1 and v[0] == 0 and v[1] == pytest.approx(1.0, abs=0.05) and kl == 2.0


def test_image_properties():
    red, green = np.zeros((1, 3, 2, 2)), np.zeros((1, 3, 2, 2))
    red[:, 0], green[:, 1] = 1.0, 1.0
    grey = np.full((1, 3, 2, 2), 0.5)
    both = np.concatenate([red, green, grey])
    np.testing.assert_allclose(dirs.measure(both, "brightness"), [1 / 3, 1 / 3, 0.5])
    np.testing.assert_allclose(dirs.measure(both, "saturation"), [1.0, 1.0, 0.0])
    np.testing.assert_allclose(dirs.measure(both[:2], "hue"), [0.0, 1 / 3], atol=1e-9)
    with pytest.raises(dirs.DirectionError, match="colour"):
        dirs.measure(np.zeros((1, 1, 2, 2)), "hue")
    with pytest.raises(dirs.DirectionError, match="known"):
        dirs.measure(both, "size")


def test_auc_and_consistency():
    mu, s, t = _blobs()
    assert dirs.auc(np.array([1.0, 0.0]), mu, s, t) > 0.99
    assert dirs.auc(np.array([-1.0, 0.0]), mu, s, t) < 0.01
    rng = np.random.default_rng(4)
    start = rng.normal(0, 1, (50, 4))
    same = dirs.consistency(np.tile([1.0, 0, 0, 0], (50, 1)) + rng.normal(0, 0.01, (50, 4)), start)
    assert same["mean_cosine"] > 0.99 and abs(same["random_cosine"]) < 0.1 and same["cohens_d"] > 2
    noise = dirs.consistency(rng.normal(0, 1, (50, 4)), start)
    assert abs(noise["mean_cosine"]) < 0.1 and abs(noise["cohens_d"]) < 0.5


class _Identity(torch.nn.Module):
    """A decoder that draws z as a 1x2 picture: z = (a, b) -> pixels (a, b)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.config = SimpleNamespace(image_shape=(1, 1, 2))

    def decode(self, z):
        return z.reshape(len(z), 1, 1, 2)


def test_transfer_counts_what_a_reader_sees_after_the_move_beside_a_random_direction():
    rng = np.random.default_rng(5)
    mu = np.c_[rng.normal(1, 0.1, 200), rng.normal(0, 0.1, 200)].astype(np.float32)  # all read as class 0
    read = lambda pics: (pics.reshape(len(pics), 2)[:, 1] > pics.reshape(len(pics), 2)[:, 0]).astype(int)  # noqa: E731
    out = dirs.transfer(_Identity(), np.array([-1.0, 1.0]), mu, mu.reshape(200, 1, 1, 2), read, 1)
    assert out["read_as_target"] == 1.0 and out["random_read_as_target"] < 0.9 and out["items"] == 200
    assert out["drift_grey_levels"] == pytest.approx(255.0, rel=1e-5)  # every pixel moved by 1


def test_a_pixel_classifier_reads_its_own_training_pictures():
    rng = np.random.default_rng(6)
    x = rng.random((200, 1, 2, 2)).astype(np.float32)
    y = (x[:, 0, 0, 0] > 0.5).astype(int)
    read = dirs.reader(*dirs.pixel_classifier(x * 4 - 2, y))
    assert np.mean(read(x * 4 - 2) == y) > 0.9


def test_edit_analogy_and_the_j_diagram_corners_are_exact():
    a, b, c = np.array([0.0, 0.0]), np.array([1.0, 0.0]), np.array([0.0, 2.0])
    np.testing.assert_array_equal(dirs.analogy(a, b, c), [1.0, 2.0])
    grid = dirs.j_diagram(a, b, c, 4)
    assert grid.shape == (4, 4, 2)
    for (i, j), want in {(0, 0): a, (0, 3): b, (3, 0): c, (3, 3): [1.0, 2.0]}.items():
        np.testing.assert_array_equal(grid[i, j], want)
    np.testing.assert_allclose(grid[0, 1], [1 / 3, 0.0], atol=1e-6)
    np.testing.assert_allclose(dirs.edit(a, b, [-1, 0, 2]), [[-1, 0], [0, 0], [2, 0]])
    assert dirs.j_diagram(a + 1, b + 1, c + 1, 3, "spherical")[2, 2] == pytest.approx([2.0, 3.0])


def test_groups_by_label_class_name_ids_and_columns_with_errors_that_name_what_exists():
    labels = np.array([0, 1, 2, 1])
    cols = dirs.columns_of(labels, ["zero", "one", "two"], {"vendor": np.array(["google", "twitter"] * 2)})
    assert dirs.group("label=1", cols, 4).tolist() == [False, True, False, True]
    assert dirs.group("label=two", cols, 4).tolist() == [False, False, True, False]
    assert dirs.group("ids=0,3", cols, 4).tolist() == [True, False, False, True]
    assert dirs.group("vendor=twitter", cols, 4).tolist() == [False, True, False, True]
    with pytest.raises(dirs.DirectionError, match="has: ids, label, vendor$"):
        dirs.group("skin=1F3FB", cols, 4)
    with pytest.raises(dirs.DirectionError, match="label takes: zero, one, two"):
        dirs.group("label=7", cols, 4)
    with pytest.raises(dirs.DirectionError, match="between 0 and 3"):
        dirs.group("ids=9", cols, 4)
    with pytest.raises(dirs.DirectionError, match="NAME=VALUE"):
        dirs.group("three", cols, 4)


def test_a_direction_round_trips_through_a_dict():
    d = dirs.Direction(np.array([1.5, -2.0], np.float32), "mean", "label=3 -> label=8", {"auc": 0.9})
    back = dirs.Direction.from_dict(d.to_dict())
    np.testing.assert_array_equal(back.vector, d.vector)
    assert (back.method, back.source, back.quality) == ("mean", "label=3 -> label=8", {"auc": 0.9})
    with pytest.raises(dirs.DirectionError):
        dirs.Direction.from_dict({"vector": [1.0, float("nan")]})


def test_custom_axes_put_the_direction_on_x_and_what_is_left_on_y():
    rng = np.random.default_rng(7)
    mu = rng.normal(0, 1, (3000, 3)) * np.array([1.0, 3.0, 0.5]) + 5.0
    axes = dirs.custom_axes(mu, np.array([2.0, 0.0, 0.0]))
    np.testing.assert_allclose(axes.units[0], [1, 0, 0])
    assert abs(abs(axes.units[1][1]) - 1) < 0.01  # the widest spread left: z2
    np.testing.assert_allclose(axes.coords[:, 0], mu[:, 0] - mu[:, 0].mean(), atol=1e-9)
    ruler = axes.codes(0, [-1.0, 1.0])
    np.testing.assert_allclose(ruler[1] - ruler[0], [2.0, 0, 0], atol=1e-6)
    both = dirs.custom_axes(mu, np.array([1.0, 1.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    assert abs(both.units[0] @ both.units[1]) < 1e-9  # y made orthogonal to x
    with pytest.raises(dirs.DirectionError, match="length zero"):
        dirs.custom_axes(mu, np.zeros(3))
