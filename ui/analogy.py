"""Interpolate's analogy mode (Tom White, "Sampling Generative Networks", 2016): three items A, B, C give
D = C + (B - A), "A is to B as C is to D", and the J-diagram: an N x N grid with A, B, C and D at its
corners, its inside filled by linear or spherical interpolation; PNG download.
"""

from __future__ import annotations

import streamlit as st

from ui.endpoints import Endpoints
from vae.data import images
from vae.inference import directions, latent, views
from vae.plots import explore as plots


def analogy_ui(ctx, ends: Endpoints) -> None:
    cols = st.columns(3)
    corners = {}
    for col, (tag, default) in zip(cols, (("A", 0), ("B", 1), ("C", 2))):
        with col:
            corners[tag] = ends.ui(tag, default, prefix="an")
    if any(z is None for z in corners.values()):
        st.info("Upload a picture for each corner set to 'Upload'.")
        return
    left, right = st.columns([1, 3])
    method = left.radio("Inside", ("linear", "spherical"), key="an_method", help="lerp or slerp along rows and columns")
    n = left.slider("Grid N", 3, 9, 5, key="an_n")
    a, b, c = corners["A"], corners["B"], corners["C"]
    d = directions.analogy(a, b, c)
    left.image(
        images.to_png(latent.decode(ends.model, d)[0], scale=max(1, 112 // ends.shape[2])),
        caption="D = C + (B − A)",
        width=112,
    )
    grid = directions.j_diagram(a, b, c, n, method)  # (n, n, D)
    tiles = latent.decode(ends.model, grid.reshape(n * n, -1)).reshape(n, n, *ends.shape)
    fig = plots.image(tiles, title="J-diagram: A top left, B top right, C bottom left, D bottom right")
    right.plotly_chart(fig.update_layout(height=560, width=None), width="stretch", key="an_grid")
    picture = views.grid_picture(tiles)
    left.download_button(
        "Grid (PNG)",
        images.to_png(picture, scale=max(1, 1200 // max(picture.shape[:2]))),
        file_name=f"{ctx.name}-analogy-{n}x{n}.png",
        mime="image/png",
        key="an_png",
    )
    st.caption(
        "D is C moved by the same vector that takes A to B. Rows go from A (or C) towards B (or D); columns from "
        "the top row to the bottom. In a 2-D latent, the vector often cannot carry one class to another everywhere."
    )
