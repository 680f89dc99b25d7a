"""Tests for vae.plots.explore: figures are inspected as data, no browser."""

import numpy as np
import plotly.graph_objects as go
import pytest

from vae.plots import explore as plots


@pytest.fixture
def points():
    rng = np.random.default_rng(0)
    return rng.normal(size=(60, 2)), rng.integers(0, 4, size=60)


def test_label_colors_distinct():
    assert len(plots.LABEL_COLORS) >= 10
    assert len(set(plots.LABEL_COLORS[:10])) == 10
    assert plots.INACTIVE_COLOR not in plots.LABEL_COLORS
    assert plots.label_color(3) == plots.label_color(3 + len(plots.LABEL_COLORS))


def test_latent_map_one_trace_per_class_with_global_ids(points):
    coords, labels = points
    ids = np.arange(1000, 1060)
    names = ["zero", "one", "two", "three"]
    fig = plots.latent_map(coords, labels=labels, class_names=names, ids=ids, title="map")
    assert [t.name for t in fig.data] == names
    for k, trace in enumerate(fig.data):
        assert isinstance(trace, go.Scattergl)
        np.testing.assert_array_equal(trace.customdata, ids[labels == k])
        np.testing.assert_allclose(trace.x, coords[labels == k, 0])
    assert fig.layout.dragmode == "pan"  # a click selects; box and lasso are in the toolbar
    assert fig.layout.yaxis.scaleanchor == "x"
    assert fig.layout.xaxis.title.text == "z1" and fig.layout.title.text == "map"


def test_class_colour_is_the_same_across_figures(points):
    coords, labels = points
    a = plots.latent_map(coords, labels=labels)
    b = plots.latent_map(coords[labels >= 3], labels=labels[labels >= 3], axis_names=("PC1", "PC2"))
    colour_a = next(t.marker.color for t in a.data if t.name == "3")
    assert b.data[0].name == "3" and b.data[0].marker.color == colour_a == plots.label_color(3)
    assert b.layout.xaxis.title.text == "PC1"


def test_latent_map_colour_values_has_colorbar(points):
    coords, _ = points
    fig = plots.latent_map(coords, color_values=np.linspace(0, 1, 60), color_title="KL")
    assert len(fig.data) == 1
    marker = fig.data[0].marker
    assert marker.showscale and marker.colorbar.title.text == "KL"
    np.testing.assert_array_equal(fig.data[0].customdata, np.arange(60))


def test_latent_map_backdrop(points):
    coords, labels = points
    backdrop = dict(image=np.zeros((8, 8), np.uint8), x_range=(-3, 3), y_range=(-2, 2))
    fig = plots.latent_map(coords, labels=labels, backdrop=backdrop)
    img = fig.layout.images[0]
    assert img.source.startswith("data:image/png;base64,")
    assert (img.x, img.y, img.sizex, img.sizey, img.layer) == (-3, 2, 6, 4, "below")


def test_add_point_ellipses_at_mahalanobis_radius(points):
    coords, labels = points
    fig = plots.latent_map(coords, labels=labels)
    n = len(fig.data)
    xy, sigma = np.array([0.5, -1.0]), np.array([0.3, 0.8])
    plots.add_point(fig, xy, sigma=sigma, name="you")
    added = fig.data[n:]
    assert len(added) == 3 and added[-1].marker.symbol == "star"
    for k, trace in zip((1, 2), added[:2], strict=True):
        assert trace.line.dash in ("dash", "dot")
        r = np.hypot((np.array(trace.x) - xy[0]) / sigma[0], (np.array(trace.y) - xy[1]) / sigma[1])
        np.testing.assert_allclose(r, k)
    assert len(plots.add_point(go.Figure(), xy).data) == 1  # no sigma, no ellipses


def test_add_path_numbers_steps():
    fig = plots.add_path(go.Figure(), np.zeros((5, 2)))
    assert list(fig.data[0].text) == ["0", "1", "2", "3", "4"] and "lines" in fig.data[0].mode


@pytest.mark.parametrize("n_epochs", [0, 1, 3])
def test_loss_curves(n_epochs):
    history = [
        dict(
            epoch=e + 1,
            train_elbo=-200.0 + e,
            val_elbo=-210.0 + e,
            train_reconstruction=-190.0,
            val_reconstruction=None,
            train_kl=10.0,
            val_kl=11.0,
        )
        for e in range(n_epochs)
    ]
    fig = plots.loss_curves(history)
    if n_epochs == 0:
        assert len(fig.data) == 0 and fig.layout.annotations[-1].text == "no epochs yet"
        return
    assert len(fig.data) == 5  # val_reconstruction is all None: no trace
    assert [t.x for t in fig.data][0] == tuple(range(1, n_epochs + 1))
    dashes = {t.name: t.line.dash for t in fig.data}
    assert dashes == {"train": "solid", "val": "dash"}
    assert sum(bool(t.showlegend) for t in fig.data) == 2


def test_loss_curves_missing_keys():
    fig = plots.loss_curves([dict(train_elbo=-100.0), dict(train_elbo=-90.0)])
    assert len(fig.data) == 1 and fig.data[0].x == (1, 2)


def test_loss_curves_draw_only_the_panels_the_history_holds():
    """The bundled default's history (an IWAE objective) has the ELBO and the IW bound, no parts:
    one panel with both, not two empty panels beside it."""
    fig = plots.loss_curves(
        [
            dict(epoch=1, train_elbo=-200.0, train_iw_bound=-180.0),
            dict(epoch=2, train_elbo=-170.0, train_iw_bound=-157.0),
        ]
    )
    assert [a.text for a in fig.layout.annotations] == ["ELBO"]
    assert [t.name for t in fig.data] == ["train", "train IW bound"] and fig.data[1].y == (-180.0, -157.0)
    empty = plots.loss_curves([])
    assert len([a for a in empty.layout.annotations if a.text != "no epochs yet"]) == 3


def test_image_figure_ticks_and_aspect():
    tiles = np.random.default_rng(0).random((3, 4, 1, 8, 8))  # (rows, cols, C, H, W)
    xs, ys = np.array([-1.0, -0.3, 0.3, 1.0]), np.array([1.0, 0.0, -1.0])
    fig = plots.image(tiles, title="grid", x=xs, y=ys, axis_titles=("z1", "z2"))
    assert isinstance(fig.data[0], go.Image)
    assert fig.layout.xaxis.range == (-0.5, 31.5) and fig.layout.yaxis.range == (23.5, -0.5)
    np.testing.assert_allclose(fig.layout.xaxis.tickvals, [3.5, 11.5, 19.5, 27.5])
    assert list(fig.layout.xaxis.ticktext) == ["-1", "-0.3", "0.3", "1"]
    assert list(fig.layout.yaxis.ticktext) == ["1", "0", "-1"]
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.xaxis.title.text == "z1"


def test_image_single_rgb_and_chw():
    rgb = plots.image(np.zeros((28, 28, 3), np.uint8))
    chw = plots.image(np.zeros((1, 28, 28)))
    for fig in (rgb, chw):
        assert fig.data[0].source.startswith("data:image/png") and fig.layout.xaxis.showticklabels is False


def test_kl_bars_grey_inactive():
    fig = plots.kl_bars([2.0, 0.001, 0.7], [True, False, True])
    colors = list(fig.data[0].marker.color)
    assert colors[1] == plots.INACTIVE_COLOR and plots.INACTIVE_COLOR not in (colors[0], colors[2])
    assert "2 of 3" in fig.layout.title.text


def test_histogram_with_marker():
    values = np.random.default_rng(0).normal(-100, 10, size=500)
    fig = plots.histogram_with_marker(values, -130.0, "log p(x)")
    assert fig.layout.shapes[0].x0 == -130.0
    assert fig.layout.title.text == "log p(x)"
    assert "below" in fig.layout.annotations[0].text


def test_highlight_rings_points_without_customdata():
    fig = plots.latent_map(np.zeros((3, 2)), labels=np.array([0, 1, 1]))
    plots.highlight(fig, np.array([[1.0, 2.0]]))
    ring = fig.data[-1]
    assert ring.name == "selected" and ring.customdata is None  # never counted as a selected row
    assert list(ring.x) == [1.0] and ring.marker.line.width > 0


def test_click_targets_cover_the_plane_under_the_data():
    fig = plots.latent_map(np.zeros((3, 2)), labels=np.array([0, 1, 1]))
    plots.add_click_targets(fig, 4.0, n=5)
    targets = fig.data[0]
    assert targets.name == "click target" and len(targets.x) == 25
    assert min(targets.x) == -4.0 and max(targets.y) == 4.0
    assert targets.customdata is None  # selections of targets never map to dataset rows
    assert [t.name for t in fig.data[1:]] == ["0", "1"]


def _view(**kw):
    """The few fields of a PosteriorView the gap and IW figures read."""
    from types import SimpleNamespace

    base = dict(
        elbo_q=-134.67,
        elbo_qstar=-129.05,
        log_px=-128.78,
        amortization_gap=5.62,
        approximation_gap=0.27,
        iw_ks=np.array([1, 10, 100]),
        iw=np.array([-134.0, -128.5, -128.9]),
        log_px_label="exact",
    )
    return SimpleNamespace(**{**base, **kw})


def test_the_gap_labels_sit_on_two_rows_and_an_iw_draw_above_log_px_is_named():
    from vae.plots import posterior as posterior_plots

    fig = posterior_plots.gap_bar(_view())
    rows = {a.text.split(" ")[0]: a.ay for a in fig.layout.annotations}
    assert rows["ELBO(q*)"] != rows["log"]  # a few hundredths of a nat apart: not on one row
    assert fig.layout.legend.y < 0 and fig.layout.legend.yanchor == "top"
    iw = posterior_plots.iw_curve(_view())
    (note,) = [a for a in iw.layout.annotations if "random draw" in a.text]
    assert note.x == 1.0 and note.y == -128.5  # K = 10 on the log axis
    assert not [
        a
        for a in posterior_plots.iw_curve(_view(iw=np.array([-134.0, -130.0, -129.0]))).layout.annotations
        if "random draw" in a.text
    ]
