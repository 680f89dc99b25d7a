"""Playground: one slider per latent dimension; the decoded image follows every change."""
import numpy as np
import streamlit as st

import resources
import shell
from vae import images, latent, plots

LIMIT = 4.0  # slider range in prior standard deviations

ctx = shell.page(
    "Playground",
    "Move a latent coordinate and watch the decoder's image change. Sliders are ordered by how much "
    "information each dimension carries (average KL); unused dimensions are marked. The position is "
    "kept in the URL, so a view can be shared.")

d = ctx.latent_dim
order, active, kl = resources.kl_order(ctx.name, ctx.version, ctx.directory, ctx.source)
keys = [f"pg_{ctx.name}_{i}" for i in range(d)]


def _set_z(z) -> None:
    for k, v in zip(keys, np.clip(np.asarray(z, dtype=float), -LIMIT, LIMIT)):
        st.session_state[k] = round(float(v), 2)


def _z_from_url() -> np.ndarray | None:
    text = st.query_params.get("z")
    if not text:
        return None
    try:
        z = np.array([float(t) for t in text.split(",")])
    except ValueError:
        st.warning(f"Ignored the URL's z={text!r}: it is not a list of numbers.")
        return None
    if len(z) != d or not np.isfinite(z).all():
        st.warning(f"Ignored the URL's z: it has {len(z)} values, this model has {d} dimensions.")
        return None
    return z


if keys[0] not in st.session_state:
    start = _z_from_url()
    _set_z(start if start is not None else np.zeros(d))

buttons = st.columns([1, 1, 5])
if buttons[0].button("Sample z", key="pg_sample", help="Draw z from the prior N(0, I)"):
    _set_z(np.random.default_rng().standard_normal(d))
if buttons[1].button("Reset to 0", key="pg_reset"):
    _set_z(np.zeros(d))


@st.fragment
def sliders_and_image(side_by_side: bool) -> None:
    """Reruns alone on a slider change: sliders, the URL and the decoded image."""
    image_col, slider_col = st.columns([2, 3]) if side_by_side else (st.container(), st.container())
    with slider_col:
        cols = st.columns(2 if d > 4 else 1)
        for n, i in enumerate(order):
            note = "" if active[i] else " · inactive"
            cols[n % len(cols)].slider(f"z{i + 1} (KL {kl[i]:.2f} nats{note})", -LIMIT, LIMIT, step=0.05,
                                       key=keys[i], format="%.2f")
    z = np.array([st.session_state[k] for k in keys], dtype=np.float32)
    st.query_params["z"] = ",".join(f"{v:.2f}" for v in z)
    x = latent.decode(ctx.model, z)[0]  # (C, H, W)
    caption = f"decode(z), z = {np.round(z, 2).tolist()}" if d <= 8 else "decode(z)"
    with image_col:
        st.image(images.to_png(x, scale=max(1, 320 // x.shape[-1])), caption=caption, width=320,
                 output_format="PNG")


if d != 2:
    sliders_and_image(side_by_side=True)
    st.stop()

left, right = st.columns([2, 3])
with left:
    sliders_and_image(side_by_side=False)
with right:
    mu, _ = ctx.encoded("test")
    ds = ctx.dataset("test")
    z_now = np.array([st.session_state[k] for k in keys])
    fig = plots.latent_map(mu, labels=ds.labels, class_names=ds.class_names,
                           title="Click anywhere to move z there")
    plots.add_click_targets(fig, LIMIT)
    plots.add_point(fig, z_now, name="z")
    fig.update_layout(height=520, dragmode="pan", margin=dict(t=40, b=40))
    event = st.plotly_chart(fig, on_select="rerun", selection_mode=("points",), key="pg_map", width="stretch")
points = (event or {}).get("selection", {}).get("points", [])
if points:
    clicked = np.array([points[0]["x"], points[0]["y"]])
    if st.session_state.get("pg_last_click") != clicked.tolist():  # a new click, not the same event again
        st.session_state["pg_last_click"] = clicked.tolist()
        _set_z(clicked)
        st.rerun()
