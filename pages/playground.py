"""Playground: drag z on the live latent pad (decoded in the browser on every frame) or move the
server-side sliders; the URL, the sliders and the pad always show the same z."""

import numpy as np
import streamlit as st

from ui import resources, shell, z_sliders
from ui.components import latent_pad
from ui.components.live import fallback_note
from vae.data import images
from vae.inference import latent
from vae.plots import explore as plots

SEQ = "pg_seq"  # counts the server's own changes of z (the pad adopts a z only when this changes)
# A session's first run draws the heading and the pad alone: the browser then loads only the pad's
# scripts, and its first live frame comes sooner (docs/benchmarks.md). The rest of the page (the
# buttons, the server's sliders and image, the sidebar) follows when the pad reports that it runs,
# or after REST_AFTER_S if it never does (its script blocked): then the server decodes, as ever.
LATER = "pg_rest_later"  # session key: "waiting" / "armed" while the rest of the page waits
REST_AFTER_S = 1.0

ctx = shell.page(
    "Playground",
    "Drag the crosshair over the latent map, or focus it and use the arrow keys: the decoder's image "
    "follows on every frame, decoded in your browser. Sliders are ordered by how much information each "
    "dimension carries (average KL); unused dimensions are marked. The position is kept in the URL, so "
    "a view can be shared.",
    kinds=("none", "prior", "label", "completion"),
    sidebar_last=True,
)
if ctx.info.config.conditional != "none":  # a class or a visible part goes with z: its own section
    from ui import conditional_ui

    try:
        conditional_ui.playground(ctx)
    finally:
        shell.finish()
    st.stop()

d = ctx.latent_dim
LIMIT = latent.fit_reach(ctx.encoded("test")[0])  # the sliders' and the pad's reach: the prior's +-4, or the codes'
keys = [f"pg_{ctx.name}_{i}" for i in range(d)]
pad_key = f"pg_pad_{ctx.name}"


def _bump() -> None:
    st.session_state[SEQ] = st.session_state.get(SEQ, 0) + 1


def _set_z(z, *, bump: bool = True) -> None:
    z_sliders.set_z(keys, z, LIMIT)
    if bump:
        _bump()


def _from_sliders() -> None:
    z_sliders.adopt_sliders(keys)
    _bump()


def _from_pad() -> None:
    """The browser sent z at the end of a drag or key move (a callback: runs before the script)."""
    z = latent_pad.sent_z(pad_key)
    if z is not None and len(z) == d:
        _set_z(z, bump=False)


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


def buttons_ui(container) -> None:
    """Sample z and Reset (callbacks: they set z before the script, so the pad above gets it)."""
    cols = container.columns([1, 1, 5])
    cols[0].button(
        "Sample z",
        key="pg_sample",
        help="Draw z from the prior N(0, I)",
        on_click=lambda: _set_z(np.random.default_rng().standard_normal(d)),
    )
    cols[1].button("Reset to 0", key="pg_reset", on_click=lambda: _set_z(np.zeros(d)))


def sliders_ui(container) -> np.ndarray:
    """One slider per dimension, by decreasing KL; returns z in dimension order."""
    cols = container.columns(2 if d > 4 else 1)
    for n, i in enumerate(order):
        note = "" if active[i] else " · inactive"
        z_sliders.slider(cols[n % len(cols)], f"z{i + 1} (KL {kl[i]:.2f} nats{note})", keys, i, LIMIT, _from_sliders)
    return z_sliders.z(keys)


def map_ui(z: np.ndarray) -> None:
    """The 2-D latent map with z marked; a click anywhere moves z there."""
    mu, _ = ctx.encoded("test")
    ds = ctx.dataset("test")
    fig = plots.latent_map(
        mu, labels=ds.labels, class_names=ds.class_names, webgl=False, title="Click anywhere to move z there"
    )
    plots.add_click_targets(fig, LIMIT)
    plots.add_point(fig, z, name="z")
    fig.update_layout(height=520, margin=dict(t=40, b=40))
    event = st.plotly_chart(fig, on_select="rerun", selection_mode=("points",), key="pg_map", width="stretch")
    points = (event or {}).get("selection", {}).get("points", [])
    if points:
        clicked = [points[0]["x"], points[0]["y"]]
        if st.session_state.get("pg_last_click") != clicked:  # a new click, not the same event again
            st.session_state["pg_last_click"] = clicked
            _set_z(clicked)
            st.rerun(scope="fragment")


@st.fragment
def explore() -> None:
    """Reruns alone on a pad release, a slider change or a map click: pad, sliders, URL, image, map.
    The pad's element goes out first (the buttons' place above it is filled after it), so the
    browser starts on it before anything else of the page (docs/benchmarks.md, first live frame)."""
    top = st.container()
    z = z_sliders.z(keys)
    x = latent.decode(ctx.model, z)[0]  # (C, H, W): the pad shows it until the browser decodes
    status = latent_pad.latent_pad_ui(
        pad_key,
        ctx,
        z,
        st.session_state.get(SEQ, 0),
        order=order,
        kl=kl,
        active=active,
        limit=LIMIT,
        on_z=_from_pad,
        preview=images.to_png(x),
    )
    if st.session_state.get(LATER):
        if status == "starting":  # the first run: the pad alone, until it reports or the timer fires
            return
        del st.session_state[LATER]  # it reported: now the whole page
        st.rerun(scope="app")
    buttons_ui(top)
    live = fallback_note(status)  # the same elements either way
    with st.expander("The same z on the server: sliders and decoder", expanded=True):
        left, right = st.columns([2, 3])
        image_slot = left.empty()
        sliders_ui(left if d == 2 else right)
        st.query_params["z"] = ",".join(f"{v:.2f}" for v in z)
        caption = f"decode(z), z = {latent.format_z(z)}" if d <= 8 else "decode(z)"
        image_slot.image(
            images.to_png(x, scale=max(1, 320 // x.shape[-1])), caption=caption, width=320, output_format="PNG"
        )
        if d == 2 and not live:  # the pad is the map while it runs
            with right:
                map_ui(z)


@st.fragment(run_every=REST_AFTER_S)
def _rest_soon() -> None:
    """The first run's timer: when the pad has not reported by the next tick, the whole page anyway."""
    state = st.session_state.get(LATER)
    if state == "armed":
        del st.session_state[LATER]
        st.rerun(scope="app")
    elif state is not None:
        st.session_state[LATER] = "armed"


if shell.first_run():
    st.session_state[LATER] = "waiting"
try:
    order, active, kl = resources.kl_order(ctx.ref)
    if keys[0] not in st.session_state:
        start = _z_from_url()
        _set_z(start if start is not None else np.zeros(d))
    explore()
    if st.session_state.get(LATER):
        shell.sidebar_placeholder()
        _rest_soon()
except BaseException:  # a stop, a rerun or an error: the sidebar is drawn all the same
    shell.finish()
    raise
if not st.session_state.get(LATER):
    shell.finish()  # the sidebar after the pad (shell.page's sidebar_last), or in the run after it
