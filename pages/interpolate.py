"""Interpolate: walk the latent space between two endpoints and decode every step."""

import streamlit as st

from ui import analogy, resources, shell
from ui.components.latent_path import latent_path_ui
from ui.endpoints import SOURCES, Endpoints
from vae.data import images
from vae.inference import strip
from vae.plots import explore as plots

ctx = shell.page(
    "Interpolate",
    "Pick two endpoints (test images, uploads or points on the map) and decode the straight or "
    "spherical path between their latent codes: smooth changes mean a well-organised latent space.",
)

d, model = ctx.latent_dim, ctx.model
ds = ctx.dataset("test")
mu, _ = ctx.encoded("test")
plane = None if d == 2 else resources.projection(ctx.ref, "test", "pca")
coords, axes = (mu, ("z1", "z2")) if plane is None else (plane.coords, plane.axis_names)
for tag, x in (("A", -1.5), ("B", 1.5)):  # defaults for map points (session state, so clicks can set them)
    st.session_state.setdefault(f"ip_x_{tag}", x)
    st.session_state.setdefault(f"ip_y_{tag}", 0.0)
ends = Endpoints(model, ds, mu, plane, axes)
MODES = {"path": "A path from A to B", "analogy": "An analogy: A is to B as C is to D"}
if st.segmented_control("Mode", list(MODES), format_func=MODES.get, default="path", key="ip_mode") == "analogy":
    analogy.analogy_ui(ctx, ends)
    st.stop()


def _clicked() -> None:
    """Map click -> the coordinates of the endpoint that takes clicks (runs before the script)."""
    points = st.session_state["ip_map"]["selection"]["points"]
    target = st.session_state.get("ip_target", "A")
    if points:
        st.session_state[f"ip_x_{target}"] = round(float(points[0]["x"]), 2)
        st.session_state[f"ip_y_{target}"] = round(float(points[0]["y"]), 2)


cols = st.columns(2)
with cols[0]:
    z_a = ends.ui("A", 0)
with cols[1]:
    z_b = ends.ui("B", 1)
opts = st.columns([2, 3, 2])
method = opts[0].radio(
    "Path",
    ("linear", "spherical"),
    key="ip_method",
    horizontal=True,
    help="Spherical (slerp) keeps the norm typical of N(0, I) samples in high dimensions.",
)
steps = opts[1].slider("Steps N", 3, 30, 10, key="ip_steps")
pointed = [t for t in ("A", "B") if st.session_state[f"ip_src_{t}"] == SOURCES[2]]
if pointed:
    if st.session_state.get("ip_target") not in pointed:
        st.session_state["ip_target"] = pointed[0]
    opts[2].radio("A click on the map sets", pointed, key="ip_target", horizontal=True)
if z_a is None or z_b is None:
    st.info("Upload a picture for each endpoint set to 'Upload'.")
    st.stop()

path = strip.interpolate(model, z_a, z_b, steps, method)
status = latent_path_ui(f"ip_live_{ctx.name}", ctx, z_a, z_b, method, steps)
if status not in ("live", "starting"):
    st.caption(f"The path player is off: {status}. The strip below is decoded on the server.")
picture = path.image()
st.image(
    images.upscale(picture, max(1, -(-900 // picture.shape[1]))),
    width="stretch",
    caption=f"{steps} steps, {method}, from A (left) to B (right)",
)
dl = st.columns([1, 1, 4])
dl[0].download_button("Strip (PNG)", path.png(), "interpolation.png", "image/png", key="ip_png")
dl[1].download_button(
    "Animation (GIF)",
    path.gif(),
    "interpolation.gif",
    "image/gif",
    key="ip_gif",
    help="Ping-pong: A to B and back, looping.",
)

fig = plots.latent_map(
    coords,
    labels=ds.labels,
    class_names=ds.class_names,
    axis_names=axes,
    marker_size=3,
    title="The path on the latent map" + ("" if plane is None else " (PCA of the latent)"),
)
plots.add_path(fig, path.zs if plane is None else plane.transform(path.zs))
for tag, z, color in (("A", z_a, "#111111"), ("B", z_b, "#ff00ff")):
    plots.add_point(fig, z[:2] if plane is None else plane.transform(z)[0], name=tag, color=color)
st.plotly_chart(
    fig.update_layout(height=520, dragmode="pan"),
    key="ip_map",
    width="stretch",
    on_select=_clicked if pointed else "ignore",
    selection_mode=("points",),
)
if pointed:
    st.caption(f"Click a point to move endpoint {st.session_state['ip_target']} there.")
if plane is not None:
    st.caption("Points set on the PCA map are mapped back through it: their off-plane part is the data mean's.")
