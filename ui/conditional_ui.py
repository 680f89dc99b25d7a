"""The Playground of a conditional model (vae/models/conditional.py): choose the condition (a class, or a
test image whose visible part is given), move z, watch the decoder; the style table; Doersch's
completions beside the regressor's blurry average.

pages/playground.py calls playground(ctx) when the sidebar's model is conditional; the computing is
in vae.inference.conditioning, the figures in vae.plots_compare. Functions ending in _ui draw widgets and
return plain values.

Live decoding (ui/components/latent_pad, as on the plain Playground, with the same server-side
fallback): a label model's bundle is one Linear over [z, one_hot(y)], so the pad gets the one-hot
as `extra` and a class change sends nothing but that; a class-prior model decodes z = μ_y + ε
unconditionally, so the pad moves z itself (starting at μ_y, the prior means marked on its map) and
the sliders hold ε = z - μ_y. A completion model decodes on the server only.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import resources, z_sliders
from ui.components import latent_pad
from ui.components.live import fallback_note
from vae.data import images
from vae.inference import conditioning, latent
from vae.plots import compare as plots_compare
from vae.plots import explore as plots

LIMIT = 4.0  # slider range in prior standard deviations
SEQ = "cpg_seq"  # counts the server's own changes of z (the pad adopts a z only when this changes)
STYLE_SAMPLES = 8  # columns of random styles under every class
COMPLETION_ROWS = 4  # test images in the completion panel
INTRO = {
    "label": "a **label-conditional VAE**: the decoder is given the class y as well as z, so z only "
    "has to hold the style (slant, thickness). Pick a class, move z.",
    "prior": "a **class-prior VAE** (Su Jianlin's CVAE): each class y has its own prior N(μ_y, I). Pick a "
    "class; the sliders move z around its prior mean, z = μ_y + ε.",
    "completion": "a **completion CVAE** (Doersch's tutorial): it is given part of an image and draws the "
    "rest; z chooses one of the many plausible completions. Pick a test image, move z.",
}


def _z_keys(ctx) -> list[str]:
    return [f"cpg_{ctx.name}_{i}" for i in range(ctx.latent_dim)]


def _bump() -> None:
    st.session_state[SEQ] = st.session_state.get(SEQ, 0) + 1


def _set_z(ctx, z, *, bump: bool = True) -> None:
    z_sliders.set_z(_z_keys(ctx), z, LIMIT)
    if bump:
        _bump()


def _from_sliders(keys: list[str]) -> None:
    z_sliders.adopt_sliders(keys)
    _bump()


def _offset(ctx, kind: str, y) -> np.ndarray:
    """What the sliders' values are relative to: μ_y for a class prior, 0 otherwise."""
    if kind != "prior":
        return np.zeros(ctx.latent_dim, np.float32)
    return ctx.model.prior_means.detach().cpu().numpy()[int(y)]


def condition_ui(ctx, kind: str, names: list[str], test):
    """The condition: a class index, or a test image (C, H, W) whose visible part is given."""
    if kind in conditioning.CLASS_KINDS:
        return st.radio(
            "Class y",
            range(len(names)),
            format_func=lambda i: names[i],
            horizontal=True,
            key=f"cpg_class_{ctx.name}",
            on_change=_bump if kind == "prior" else None,
        )
    item = st.number_input(
        "Test image #",
        0,
        len(test.images) - 1,
        0,
        key=f"cpg_item_{ctx.source}",
        help="Its visible part is the condition; the rest is drawn by the decoder.",
    )
    return test.images[int(item)]


def sliders_ui(ctx, kind: str) -> np.ndarray:
    keys = _z_keys(ctx)
    if keys[0] not in st.session_state:
        _set_z(ctx, np.zeros(ctx.latent_dim), bump=False)
    buttons = st.columns(2)
    if buttons[0].button("Sample z", key="cpg_sample", help="Draw z (ε for a class prior) from N(0, I)"):
        _set_z(ctx, np.random.default_rng().standard_normal(ctx.latent_dim))
    if buttons[1].button("Reset to 0", key="cpg_reset"):
        _set_z(ctx, np.zeros(ctx.latent_dim))
    symbol = "ε" if kind == "prior" else "z"
    cols = st.columns(2 if ctx.latent_dim > 4 else 1)
    for i in range(len(keys)):
        z_sliders.slider(cols[i % len(cols)], f"{symbol}{i + 1}", keys, i, LIMIT, lambda: _from_sliders(keys))
    return z_sliders.z(keys)


def _picture(x, width: int = 280) -> bytes:
    return images.to_png(x, scale=max(1, width // x.shape[-1]))


def explore_ui(ctx, kind: str, names: list[str], condition) -> None:
    """The live pad (label and prior models), then z's sliders on the left and the decoded image
    under the condition on the right, decoded on the server (a fragment: a slider reruns only this)."""
    live = False
    if kind == "completion":
        st.caption(
            "A completion model decodes on the server: its condition network runs on the visible "
            "pixels, which are pasted back into every picture."
        )
    else:
        live = fallback_note(pad_ui(ctx, kind, condition))
    box = (
        st.container()
        if kind == "completion"
        else st.expander("The same z on the server: sliders and decoder", expanded=True)
    )
    with box:
        server_ui(ctx, kind, names, condition, live)


def pad_ui(ctx, kind: str, condition) -> str:
    """The latent pad decoding in the browser: [z, one_hot(y)] for a label model, z = μ_y + ε for a
    class prior. Returns latent_pad_ui's status."""
    pad_key, y_key = f"cpg_pad_{ctx.name}", f"cpg_class_{ctx.name}"
    order, active, kl = resources.kl_order(ctx.ref)

    def from_pad() -> None:  # a callback: the browser sent z at the end of a drag (before the script)
        z = latent_pad.sent_z(pad_key)
        if z is not None and len(z) == ctx.latent_dim:
            _set_z(ctx, z - _offset(ctx, kind, st.session_state.get(y_key, condition)), bump=False)

    offset = _offset(ctx, kind, condition)
    keys = _z_keys(ctx)
    if keys[0] not in st.session_state:
        _set_z(ctx, np.zeros(ctx.latent_dim), bump=False)
    z = np.array([st.session_state[k] for k in keys], np.float32) + offset
    extra = np.eye(ctx.model.config.num_classes)[condition] if kind == "label" else None
    return latent_pad.latent_pad_ui(
        pad_key,
        ctx,
        z,
        st.session_state.get(SEQ, 0),
        order=order,
        kl=kl,
        active=active,
        limit=LIMIT + float(np.ceil(np.abs(offset).max(initial=0))),
        on_z=from_pad,
        extra=extra,
    )


def server_ui(ctx, kind: str, names: list[str], condition, live: bool) -> None:
    left, right = st.columns([3, 2])
    with left:
        z = sliders_ui(ctx, kind)
    x = latent.decode(conditioning.given(ctx.model, condition), z)[0]  # (C, H, W)
    if kind == "completion":
        right.image(
            _picture(conditioning.visible_picture(ctx.model, condition), 140),
            caption="what the model is given (the rest grey)",
            width=140,
        )
        caption = "decode(z, visible part)"
    else:
        caption = (
            f"decode(z, y = {names[condition]})" if kind == "label" else f"decode(μ_y + ε), y = {names[condition]}"
        )
    right.image(_picture(x), caption=caption, width=280)
    if ctx.latent_dim == 2 and not live:  # the pad is the map while it runs
        with left:
            map_ui(ctx, kind, names, condition, z)


def map_ui(ctx, kind: str, names: list[str], condition, z: np.ndarray) -> None:
    """A 2-D model's latent map (test images encoded with their own condition) with z starred and,
    for a class prior, the prior means; a click moves z there."""
    mu, _ = ctx.encoded("test")
    test = ctx.dataset("test")
    offset = np.zeros(2, np.float32)
    fig = plots.latent_map(
        mu,
        labels=test.labels,
        class_names=test.class_names,
        webgl=False,
        title="Click anywhere to move z there",
        marker_size=3,
    )
    plots.add_click_targets(fig, LIMIT + 2)
    if kind == "prior":
        means = ctx.model.prior_means.detach().cpu().numpy()
        offset = means[condition]
        plots_compare.add_prior_means(fig, means, names)
    plots.add_point(fig, z + offset, name="z")
    fig.update_layout(height=420, margin=dict(t=40, b=40))
    event = st.plotly_chart(fig, on_select="rerun", selection_mode=("points",), key="cpg_map", width="stretch")
    points = (event or {}).get("selection", {}).get("points", [])
    if points:
        clicked = [points[0]["x"], points[0]["y"]]
        if st.session_state.get("cpg_last_click") != clicked:  # a new click, not the same event again
            st.session_state["cpg_last_click"] = clicked
            _set_z(ctx, np.asarray(clicked, np.float32) - offset)
            st.rerun(scope="fragment")


def style_table_ui(ctx, names: list[str], test) -> None:
    st.subheader("Style table")
    st.write(
        "One test image is encoded; its z is then decoded under every class: the same slant and "
        "thickness, every digit. Below, random styles z ~ N(0, I), one per column, under every class."
    )
    item = st.number_input(
        "Test image # to take the style from", 0, len(test.images) - 1, 0, key=f"cpg_style_{ctx.source}"
    )
    x, label = test.images[int(item)], int(test.labels[int(item)]) if test.labels is not None else 0
    if label >= len(names):
        st.warning(f"Test image #{item} has class {label}, which this model does not know.")
        return
    table = conditioning.style_table(ctx.model, x, label)
    strips = {f"#{item} ({names[label]})": np.concatenate([x[None], table])}
    st.plotly_chart(
        plots_compare.labelled_strips(strips, ["input", *names], label_width=90), width="content", key="cpg_style_table"
    )
    seed = st.session_state.get("cpg_style_seed", 0)
    samples = conditioning.class_samples(ctx.model, STYLE_SAMPLES, seed)  # (K, n, C, H, W)
    grid = {f"y = {n}": samples[k] for k, n in enumerate(names)}
    st.plotly_chart(
        plots_compare.labelled_strips(grid, [f"z{j + 1}" for j in range(STYLE_SAMPLES)], cell=48, label_width=70),
        width="content",
        key="cpg_style_samples",
    )
    if st.button("Other styles", key="cpg_style_other"):
        st.session_state["cpg_style_seed"] = seed + 1
        st.rerun()


def completion_ui(ctx, test) -> None:
    st.subheader("Completions")
    st.write(
        f"As in Doersch's tutorial: the visible part, {conditioning.COMPLETIONS} completions from random "
        "z, the ground truth, and the regressor baseline (the same network without z), which can only "
        "draw the blurry average of every plausible digit."
    )
    first = int(st.session_state.get(f"cpg_item_{ctx.source}", 0))
    seed = st.session_state.get("cpg_completion_seed", 0)
    ids = [first] + [
        int(i)
        for i in np.random.default_rng(seed).choice(len(test.images), COMPLETION_ROWS - 1, replace=False)
        if i != first
    ]
    rows = {f"#{i}": conditioning.complete(ctx.model, test.images[i], seed=seed).row() for i in ids}
    labels = ["given", *[str(j + 1) for j in range(conditioning.COMPLETIONS)], "truth", "regressor"]
    st.plotly_chart(
        plots_compare.labelled_strips(rows, labels, cell=52, label_width=60), width="content", key="cpg_completions"
    )
    if st.button("Other z and images", key="cpg_completion_other"):
        st.session_state["cpg_completion_seed"] = seed + 1
        st.rerun()


def playground(ctx) -> None:
    """The whole conditional Playground for the sidebar's model (ctx: resources.Current)."""
    kind = conditioning.kind(ctx.model)
    st.info(f"'{ctx.name}' is " + INTRO[kind], icon=":material/info:")
    test = ctx.dataset("test")
    names = conditioning.class_names(ctx.model, test.class_names) if kind in conditioning.CLASS_KINDS else []
    condition = condition_ui(ctx, kind, names, test)
    st.fragment(explore_ui)(ctx, kind, names, condition)
    if kind in conditioning.CLASS_KINDS:
        style_table_ui(ctx, names, test)
    else:
        completion_ui(ctx, test)
