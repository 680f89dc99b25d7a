"""What the latent map draws besides the codes: under the points, the decoded manifold (2-D) or the
holes of the aggregate posterior q(z) (2-D, or the PCA plane above 2-D); over them, samples of the
prior p(z) = N(0, I), so one sees where "Sample z" lands relative to the data."""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go
import streamlit as st

from ui import resources
from vae.inference import views
from vae.plots import explore as plots

UNDER = {"none": "nothing", "decoded": "decoded images", "holes": "holes of q(z)"}
BACKDROP_CELLS = 25  # decoded images per side under a 2-D map
PRIOR_SAMPLES = 1000


@dataclass(frozen=True)
class Layers:
    under: str = "none"  # a key of UNDER
    prior: bool = False  # prior samples over the points
    method: str = "z"  # the map's plane: "z" (a 2-D latent) or "pca"


def layers_ui(ctx: resources.Current, box, method: str) -> Layers:
    """The controls (in `box`) for a map drawn on a 2-D latent ("z") or a PCA plane; none elsewhere:
    t-SNE and UMAP have no plane to evaluate a density on."""
    d = ctx.latent_dim
    if method not in ("z", "pca") or d < 2:
        return Layers()
    options = list(UNDER) if d == 2 else ["none", "holes"]  # the decoded tiles need the latent's own plane
    under = box.radio("Under the points", options, format_func=UNDER.get, key="lm_under", horizontal=True)
    prior = box.toggle(
        "Prior samples",
        key="lm_prior",
        help=f"{PRIOR_SAMPLES:,} samples z ~ N(0, I), where 'Sample z' draws from"
        + ("" if d == 2 else ", projected onto the PCA plane"),
    )
    return Layers(under, prior, method)


def backdrop(ctx: resources.Current, mu, layers: Layers) -> dict | None:
    """The decoded manifold for plots.latent_map's `backdrop`, when chosen."""
    if layers.under != "decoded":
        return None
    window = views.square_window(mu)
    picture = resources.backdrop(ctx.ref, *window, BACKDROP_CELLS)
    # grey digits are inverted so the dots stay visible; colour pictures on white are not
    return views.backdrop_layer(picture, window, invert=ctx.info.config.image_shape[0] == 1)


def add_layers(fig: go.Figure, ctx: resources.Current, split: str, layers: Layers) -> go.Figure:
    """The hole map under the points and the prior samples over them, as chosen."""
    if layers.under == "holes":
        plots.add_hole_map(fig, *resources.hole_map(ctx.ref, split, layers.method))
    if layers.prior:
        plots.add_prior_samples(fig, resources.prior_points(ctx.ref, split, layers.method, PRIOR_SAMPLES))
    return fig


def captions(ctx: resources.Current, split: str, layers: Layers) -> None:
    if layers.under == "holes":
        st.caption(resources.hole_caption(ctx.ref, split, layers.method))
    elif layers.prior:
        st.caption(
            "Black crosses: samples of the prior N(0, I). Where they fall beside no codes, 'Sample z' decodes "
            "a picture the encoder never produced; a sampler fitted to the codes (Playground, Manifold) avoids that."
        )
