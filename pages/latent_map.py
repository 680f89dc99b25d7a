"""Latent map: every image at its encoded mean; select points to see them and their reconstructions."""

import numpy as np
import streamlit as st

from ui import codes_out, custom_axes, map_layers, resources, selection, shell
from vae.inference import latent, views
from vae.plots import explore as plots

METHODS = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
COLOURS = {"label": "label", "kl": "KL (nats)", "elbo": "ELBO (nats)"}  # what colours the points -> its title
COLOURS["reconstruction"] = "reconstruction E_q[log p(x|z)] (nats)"

ctx = shell.page(
    "Latent map",
    "Each dot is one image at the mean of its posterior q(z|x). Click a dot, or pick box or lasso "
    "select in the chart's toolbar, to see those images beside their reconstructions and the image "
    "decoded from their mean.",
)
d = ctx.latent_dim

top = st.columns([1, 2, 2, 2])
split = top[0].radio("Split", ["test", "train"], key="lm_split")
try:
    ds, (mu, _) = ctx.dataset(split), ctx.encoded(split)
except Exception as e:  # a bad upload or an unreadable model
    st.error(f"Could not encode the {split} split of {ctx.label}: {e}")
    st.stop()
options = (["label"] if ds.labels is not None else []) + ["reconstruction", "kl", "elbo"]
colour = top[1].selectbox("Colour by", options, format_func=COLOURS.get, key="lm_colour")
method = "z"
custom = d >= 2 and top[2].toggle("Custom axes", key="lm_custom", help="x and y along directions you choose")
if custom:
    method = "custom"
elif d > 2:
    usable = [m for m in METHODS if m in latent.available_projections()]
    method = top[2].radio(
        "Projection",
        usable,
        format_func=METHODS.get,
        horizontal=True,
        key="lm_method",
        help=f"{d}-D latent means shown in 2-D; computed once per model and split.",
    )
    if "umap" not in usable:
        top[2].caption("UMAP: unavailable here (install umap-learn).")
layers = map_layers.layers_ui(ctx, top[2], method)
show_pixels = top[3].toggle(
    "Compare with raw pixels",
    key="lm_pixels",
    help="The same images projected straight from pixel space: what the VAE adds.",
)
pixel_method = top[3].radio(
    "Pixel projection",
    ["tsne", "pca"],
    format_func=METHODS.get,
    horizontal=True,
    key="lm_pixel_method",
    disabled=not show_pixels,
)

made = custom_axes.custom_axes_ui(ctx, mu, st.container(border=True)) if custom else None
if custom and made is None:
    st.stop()
try:
    if made is not None:
        coords, axes, _ = made
    elif d > 2:
        proj = resources.projection(ctx.ref, split, method)
        coords, axes = proj.coords, proj.axis_names
    elif d == 2:
        coords, axes = mu, ("z1", "z2")
    else:  # one dimension: spread the points vertically so they can be told apart
        coords = np.c_[mu[:, 0], np.random.default_rng(0).uniform(-0.5, 0.5, len(mu))]
        axes = ("z1", "jitter (no meaning)")
    values = None if colour == "label" else resources.point_scores(ctx.ref, split)[colour]
except Exception as e:
    st.error(f"Could not compute the map: {e}")
    st.stop()

fig = plots.latent_map(
    coords,
    labels=ds.labels if colour == "label" else None,
    class_names=ds.class_names,
    color_values=values,
    color_title=COLOURS[colour].split(" (")[0],
    axis_names=axes,
    title=f"{ctx.label}, {split} split: {len(ds)} images",
    backdrop=map_layers.backdrop(ctx, mu, layers),
)
map_layers.add_layers(fig, ctx, split, layers)
left, right = st.columns(2) if show_pixels else (st.container(), None)
with left:
    event = st.plotly_chart(
        fig,
        on_select="rerun",
        selection_mode=("points", "box", "lasso"),
        width="stretch",
        key=f"lm_map_{ctx.name}_{ctx.ref.version}_{split}_{method}",
    )
ids = views.selected_rows(event, len(ds))
codes_out.downloads_ui(ctx, split, ids)
if made is not None:
    custom_axes.rulers_ui(ctx, made[2], made[1])
map_layers.captions(ctx, split, layers)

if right is not None:
    with right:
        try:
            pix = resources.pixel_projection(ctx.source, split, pixel_method)  # t-SNE: ~4 s per 1000
            pfig = plots.latent_map(
                pix.coords,
                labels=ds.labels if colour == "label" else None,
                class_names=ds.class_names,
                color_values=values,
                axis_names=pix.axis_names,
                title=f"Raw pixels ({METHODS[pixel_method]}), selection ringed",
            )
            st.plotly_chart(
                plots.highlight(pfig, pix.coords[ids]) if len(ids) else pfig, width="stretch", key="lm_pixel_map"
            )
        except Exception as e:
            st.error(f"Could not project the pixels: {e}")

if not len(ids):
    st.caption("Select points on the map to see them here (double-click empty space to clear).")
    st.stop()
selection.selection_ui(ctx, ds, mu, ids)
