"""Manifold: decode an N x N grid of latent points to see the data manifold the decoder learned."""

import math

import numpy as np
import streamlit as st

from ui import direction_picker, resources, samples_view, shell
from vae.data import images
from vae.inference import latent, views
from vae.plots import compare as plots_compare
from vae.plots import explore as plots

SPACINGS = {"percentile": "Gaussian percentiles", "range": "Range [-a, a]"}
HELD = {"zero": "zero", "mean": "the mean of the data's μ", "item": "a test image's μ"}
DOWNLOAD_PX = 1400  # about this many pixels across the downloaded grid

ctx = shell.page(
    "Manifold",
    "What the decoder makes of every point of a grid in latent space. Gaussian percentiles give each "
    "cell the same prior mass, as in Kingma & Welling (2014), Figure 4.",
)
d = ctx.latent_dim

ctl, view = st.columns([1, 3], gap="medium")  # controls beside the grid: the whole grid fits a 900 px window
n = ctl.slider("Grid size N", 5, 40, 20, key="mf_n", help="N x N decoded images.")
spacing = ctl.radio(
    "Spacing",
    list(SPACINGS),
    format_func=SPACINGS.get,
    key="mf_spacing",
    help="Percentiles: norm.ppf(linspace(1/2N, 1 - 1/2N, N)); range: N even steps.",
)
extent = ctl.slider("a (prior standard deviations)", 0.5, 6.0, 3.0, 0.5, key="mf_extent", disabled=spacing != "range")


def _download(picture, name: str) -> None:
    scale = max(1, DOWNLOAD_PX // max(picture.shape[:2]))
    ctl.download_button(
        "Download PNG", images.to_png(picture, scale=scale), file_name=name, mime="image/png", key="mf_download"
    )


if d == 1:
    view.info("This model has a 1-D latent, so there is no grid: here is a strip of decodes along z1.")
    values = latent.gaussian_percentiles(n) if spacing == "percentile" else latent.linear_range(n, extent)
    strip = latent.decode(ctx.model, latent.traverse(np.zeros(1), 0, values))[None]  # (1, n, C, H, W)
    view.plotly_chart(plots.image(strip, x=values, axis_titles=("z1", "")), width="stretch", key="mf_strip")
    _download(views.grid_picture(strip), f"{ctx.name}-strip-{n}.png")
    samples_view.samples_ui(ctx)
    st.stop()

dims, base, plane = (0, 1), None, False
if d > 2:
    order, active, kl = resources.kl_order(ctx.ref)
    plane = (
        ctl.radio(
            "Plane",
            ["dims", "pca"],
            key="mf_plane",
            format_func={"dims": "two latent dimensions", "pca": "the PCA plane of the data's μ"}.get,
        )
        == "pca"
    )

    def name(i: int) -> str:
        return f"z{i + 1} (KL {kl[i]:.2f} nats{'' if active[i] else ', inactive'})"

    dx = ctl.selectbox(
        "x dimension",
        range(d),
        index=int(order[0]),
        format_func=name,
        disabled=plane,
        key=f"mf_dx_{ctx.name}",
        help="Default: the two dimensions with the most KL.",
    )
    dy = ctl.selectbox(
        "y dimension", range(d), index=int(order[1]), format_func=name, disabled=plane, key=f"mf_dy_{ctx.name}"
    )
    held = ctl.radio("Other dimensions held at", list(HELD), format_func=HELD.get, key="mf_held")
    if held != "zero":
        mu = ctx.encoded("test")[0]
        if held == "mean":
            z = mu.mean(0)
        else:
            item = ctl.number_input("Test image #", 0, len(mu) - 1, 0, key=f"mf_item_{ctx.source}")
            z = mu[int(item)]
            picture = images.to_png(ctx.dataset("test").images[int(item)], scale=3)
            ctl.image(picture, caption=f"test #{item}")
        base = tuple(float(v) for v in z)
    if not plane and dx == dy:
        view.error("Pick two different dimensions for x and y.")
        st.stop()
    dims = (int(dx), int(dy))
    if plane:
        ctl.caption("PCA axes are in units of each component's standard deviation over the test set's μ.")

try:
    grid = resources.manifold_grid(ctx.ref, n, spacing, float(extent), dims, base, plane)
except Exception as e:
    view.error(f"Could not decode the grid: {e}")
    st.stop()
fig = plots.image(grid.images, x=grid.xs, y=grid.ys, axis_titles=grid.axis_names)
step = math.ceil(n / 20)  # at most ~20 tick labels per axis
for axis in (fig.layout.xaxis, fig.layout.yaxis):
    axis.update(tickvals=axis.tickvals[::step], ticktext=axis.ticktext[::step])
fig.update_layout(width=None, height=620)  # the grid and its axes fit a 900 px high window
view.plotly_chart(fig, width="stretch", key="mf_grid")
held_at = "zero" if base is None else latent.format_z(base) if d <= 8 else "the chosen μ"
view.caption(f"{n} x {n} decoded images" + (f"; other dimensions held at {held_at}." if d > 2 else "."))
_download(views.grid_picture(grid.images), f"{ctx.name}-manifold-{n}x{n}.png")

st.subheader("Traversals")
st.caption(
    "One row per latent dimension, most informative (KL) first, and one for a chosen direction: the base code "
    "moved from -a to a along it, as in the β-VAE papers. A flat row is a dimension the decoder ignores."
)
t_ctl, t_view = st.columns([1, 3], gap="medium")
a = t_ctl.slider("a", 1.0, 6.0, 3.0, 0.5, key="mf_t_extent", help="Rows span [-a, a] prior standard deviations.")
steps = t_ctl.slider("Steps", 5, 15, 9, key="mf_t_steps")
show_inactive = t_ctl.toggle("Show inactive dimensions", key="mf_t_inactive")
picked = direction_picker.direction_ui(ctx, "mf_t_dir", t_ctl)
order, active, kl = resources.kl_order(ctx.ref)
rows = {f"z{i + 1} (KL {kl[i]:.2f})": np.eye(d)[i] for i in order if show_inactive or active[i]}
if picked is not None:
    rows = {f"→ {picked.name}": picked.vector, **rows}
    t_ctl.caption(picked.summary())
values = np.linspace(-a, a, steps)
strips = latent.traversals(ctx.model, np.zeros(d) if base is None else base, rows, values)
if strips:
    fig = plots_compare.labelled_strips(strips, [f"{v:+.1f}" for v in values], label_width=130)
    t_view.plotly_chart(fig, width="content", key="mf_traversals")
if len(rows) < d:
    t_view.caption(f"{d - len(rows)} inactive dimension(s) hidden: they decode the same all along.")

samples_view.samples_ui(ctx)
