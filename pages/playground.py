"""Playground: drag z on the live latent pad (decoded in the browser every frame) or move the sliders; URL,
sliders and pad show the same z. One flow for every kind: a condition (ui/conditions.py) plugs in."""

import numpy as np
import streamlit as st

from ui import conditions, direction_picker, resources, shell, z_sliders
from ui.components import latent_pad
from ui.components.live import fallback_note
from vae.data import images
from vae.inference import conditioning, latent, samplers
from vae.plots import compare as plots_compare
from vae.plots import explore as plots

SEQ = "pg_seq"  # counts the server's own changes of z (the pad adopts a z only when this changes)
# A session's first run draws the heading and the pad alone (the browser loads only its scripts); the rest
# follows the pad's first report, or REST_AFTER_S without one (its script blocked: the server decodes).
LATER = "pg_rest_later"  # session key: "waiting" / "armed" while the rest of the page waits
REST_AFTER_S = 1.0

ctx = shell.page(
    "Playground",
    "Drag the crosshair over the latent map, or focus it and use the arrow keys: the decoder's image "
    "follows on every frame, decoded in your browser. Sliders are ordered by how much information each "
    "dimension carries (average KL); unused dimensions are marked. The position is kept in the URL, so "
    "a view can be shared.",
    any_kind=True,
    sidebar_last=True,
)
d = ctx.latent_dim
keys, pad_key = [f"pg_{ctx.name}_{i}" for i in range(d)], f"pg_pad_{ctx.name}"
LIMIT = latent.fit_reach(ctx.encoded("test")[0])  # the sliders' reach: the prior's +-4, or the codes'


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
    """The browser sent z at the end of a drag or key move (a callback: runs before the script).
    The pad shows z + the condition's offset (a class prior's μ_y); the sliders hold z."""
    z = latent_pad.sent_z(pad_key)
    if z is not None and len(z) == d:
        _set_z(z - cond.offset, bump=False)


def buttons_ui(container, symbol: str) -> None:
    """Sample z, where from, and Reset (callbacks: they set z before the script, so the pad above gets it)."""
    cols = container.columns([1, 1, 2, 3])
    draw = lambda: _set_z(resources.draw_z(ctx.ref, st.session_state.get("pg_sampler", "prior")))  # noqa: E731
    cols[0].button("Sample z", key="pg_sample", help=f"Draw {symbol} from the sampler beside", on_click=draw)
    cols[1].button("Reset to 0", key="pg_reset", on_click=lambda: _set_z(np.zeros(d)))
    kinds = samplers.KINDS if not cond.kind.conditional else ("prior",)  # fitted to q(z|x) codes: plain kinds
    cols[2].selectbox("from", kinds, key="pg_sampler", format_func=samplers.TITLES.get, label_visibility="collapsed")


def map_ui(z: np.ndarray, reach: float) -> None:
    """The 2-D latent map with z marked (and a class prior's means); a click moves z there."""
    mu, _ = ctx.encoded("test")
    ds = ctx.dataset("test")
    fig = plots.latent_map(
        mu, labels=ds.labels, class_names=ds.class_names, webgl=False, title="Click anywhere to move z there"
    )
    plots.add_click_targets(fig, reach)
    if cond.kind.class_prior:
        plots_compare.add_prior_means(fig, ctx.model.prior_means.detach().cpu().numpy(), cond.names)
    plots.add_point(fig, z + cond.offset, name="z")
    fig.update_layout(height=520, margin=dict(t=40, b=40))
    event = st.plotly_chart(fig, on_select="rerun", selection_mode=("points",), key="pg_map", width="stretch")
    points = (event or {}).get("selection", {}).get("points", [])
    if points:
        clicked = [points[0]["x"], points[0]["y"]]
        if st.session_state.get("pg_last_click") != clicked:  # a new click, not the same event again
            st.session_state["pg_last_click"] = clicked
            _set_z(np.asarray(clicked, np.float32) - cond.offset)
            st.rerun(scope="fragment")


@st.fragment
def explore(order, active, kl) -> None:
    """Reruns alone on a pad release, a slider change or a map click. The pad's element goes out first
    (the buttons' place above it is filled after it), so the browser starts on it first (docs/benchmarks.md)."""
    top = st.container()
    z = z_sliders.z(keys)
    x = latent.decode(cond.decoder(ctx.model), z)[0]  # (C, H, W): the pad shows it until the browser decodes
    reach = LIMIT + float(np.ceil(np.abs(cond.offset).max(initial=0)))
    if cond.kind.by_part:
        st.caption(conditions.SERVER_ONLY)
        live = False
    else:
        ready = not st.session_state.get(LATER) and cond.kind.plain_networks  # a first run: the pad alone
        way = st.container()  # in every run, so the pad keeps its place and is not mounted anew
        picked = direction_picker.pad_direction_ui(ctx, "pg_dir", way) if ready else None
        status = latent_pad.latent_pad_ui(
            pad_key, ctx, z + cond.offset, st.session_state.get(SEQ, 0), order=order, kl=kl, active=active, limit=reach,
            on_z=_from_pad, extra=cond.extra, preview=images.to_png(x),
            direction=None if picked is None else (picked.name, picked.vector),
        )  # fmt: skip
        if st.session_state.get(LATER):
            if status == "starting":  # the first run: the pad alone, until it reports or the timer fires
                return
            del st.session_state[LATER]  # it reported: now the whole page
            st.rerun(scope="app")
        live = fallback_note(status)  # the same elements either way
    buttons_ui(top, cond.symbol)
    box = st.container() if cond.kind.by_part else st.expander("The same z on the server: sliders and decoder", True)
    with box:
        left, right = st.columns([2, 3])
        if cond.kind.by_part:
            picture = conditioning.visible_picture(ctx.model, cond.value)
            left.image(images.to_png(picture, scale=5), caption="what the model is given (the rest grey)", width=140)
        image_slot = left.empty()
        z_sliders.ordered_ui(left if d == 2 else right, keys, LIMIT, _from_sliders, order, active, kl, cond.symbol)
        st.query_params["z"] = ",".join(f"{v:.2f}" for v in z)
        image_slot.image(images.to_png(x, scale=max(1, 320 // x.shape[-1])), caption=cond.caption(z), width=320)
        left.code(",".join(f"{v:.2f}" for v in z), language=None)  # Streamlit's copy button: z to the clipboard
        if d == 2 and not live:  # the pad is the map while it runs
            with right:
                map_ui(z, reach)


try:
    cond = conditions.condition_ui(ctx, on_class_change=_bump)
    if shell.first_run() and not cond.kind.by_part:
        st.session_state[LATER] = "waiting"
    if keys[0] not in st.session_state:
        start = z_sliders.from_url(d)
        _set_z(start if start is not None else np.zeros(d))
    explore(*resources.kl_order(ctx.ref))
    if st.session_state.get(LATER):
        shell.sidebar_placeholder()
        shell.rest_soon(LATER, REST_AFTER_S)
    else:
        conditions.extras_ui(ctx, cond)
except BaseException:  # a stop, a rerun or an error: the sidebar is drawn all the same
    shell.finish()
    raise
if not st.session_state.get(LATER):
    shell.finish()  # the sidebar after the pad (shell.page's sidebar_last), or in the run after it
