"""What the Playground adds for a conditional model (vae/models/kinds.py): the condition (a class,
or a test image whose visible part is given), what z is relative to, the style table, and
Doersch's completions beside the regressor's blurry average.

pages/playground.py runs one flow for every kind and asks `condition_ui` for a Condition: for a
plain VAE it is empty (no picker, z as it is). The computing is in vae.inference.conditioning, the
figures in vae.plots.compare; functions ending in _ui draw widgets and return plain values.

Live decoding: a label model's browser decoder is one Linear over [z, one_hot(y)], so the pad gets
the one-hot as `extra` and a class change sends nothing else; a class-prior model decodes
z = μ_y + ε unconditionally, so the pad moves z itself (its map marks the prior means) and the
sliders hold ε = z - μ_y. A completion model decodes on the server only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import streamlit as st

from vae.inference import conditioning, latent
from vae.models.kinds import Kind
from vae.plots import compare as plots_compare

SERVER_ONLY = (
    "A completion model decodes on the server: its condition network runs on the visible pixels, which are "
    "pasted back into every picture."
)
STYLE_SAMPLES = 8  # columns of random styles under every class
COMPLETION_ROWS = 4  # test images in the completion panel


@dataclass
class Condition:
    """The sidebar model's condition, as the Playground uses it."""

    kind: Kind
    value: object  # a class index, a test image (C, H, W), or None for a plain VAE
    names: list[str]  # the classes' names (class-conditional kinds), else []
    offset: np.ndarray  # (D,) what the sliders are relative to: μ_y for a class prior, else 0
    extra: np.ndarray | None  # appended to z before the browser decoder: a label model's one-hot y

    @property
    def symbol(self) -> str:
        return "ε" if self.kind.class_prior else "z"

    def decoder(self, model):
        """What decodes a slider z: the model itself, or the model under this condition."""
        return conditioning.given(model, self.value) if self.kind.conditional else model

    def caption(self, z: np.ndarray) -> str:
        if self.kind.by_part:
            return "decode(z, visible part)"
        if self.kind.class_prior:
            return f"decode(μ_y + ε), y = {self.names[self.value]}"
        if self.kind.by_class:
            return f"decode(z, y = {self.names[self.value]})"
        return f"decode(z), z = {latent.format_z(z)}" if len(z) <= 8 else "decode(z)"


def condition_ui(ctx, on_class_change: Callable[[], None]) -> Condition:
    """The condition picker of the sidebar's model (nothing for a plain VAE) -> its Condition."""
    kind, model, d = ctx.info.config.kind, ctx.model, ctx.latent_dim
    none = Condition(kind, None, [], np.zeros(d, np.float32), None)
    if not kind.conditional:
        return none
    st.info(f"'{ctx.name}' is " + kind.about, icon=":material/info:")
    test = ctx.dataset("test")
    if kind.by_part:
        item = st.number_input(
            "Test image #",
            0,
            len(test.images) - 1,
            0,
            key=f"pg_item_{ctx.source}",
            help="Its visible part is the condition; the rest is drawn by the decoder.",
        )
        return Condition(kind, test.images[int(item)], [], none.offset, None)
    names = conditioning.class_names(model, test.class_names)
    y = st.radio(
        "Class y",
        range(len(names)),
        format_func=lambda i: names[i],
        horizontal=True,
        key=f"pg_class_{ctx.name}",
        on_change=on_class_change if kind.class_prior else None,  # the pad moves to the new μ_y
    )
    offset = model.prior_means.detach().cpu().numpy()[int(y)] if kind.class_prior else none.offset
    extra = np.eye(model.config.num_classes)[y] if kind.decoder_condition == "class" else None
    return Condition(kind, int(y), names, np.asarray(offset, np.float32), extra)


def extras_ui(ctx, cond: Condition) -> None:
    """Below the explorer: the style table (class-conditional kinds) or the completions."""
    if cond.kind.by_class:
        style_table_ui(ctx, cond.names, ctx.dataset("test"))
    elif cond.kind.by_part:
        completion_ui(ctx, ctx.dataset("test"))


def style_table_ui(ctx, names: list[str], test) -> None:
    st.subheader("Style table")
    st.write(
        "One test image is encoded; its z is then decoded under every class: the same slant and "
        "thickness, every digit. Below, random styles z ~ N(0, I), one per column, under every class."
    )
    item = st.number_input(
        "Test image # to take the style from", 0, len(test.images) - 1, 0, key=f"pg_style_{ctx.source}"
    )
    x, label = test.images[int(item)], int(test.labels[int(item)]) if test.labels is not None else 0
    if label >= len(names):
        st.warning(f"Test image #{item} has class {label}, which this model does not know.")
        return
    table = conditioning.style_table(ctx.model, x, label)
    strips = {f"#{item} ({names[label]})": np.concatenate([x[None], table])}
    st.plotly_chart(
        plots_compare.labelled_strips(strips, ["input", *names], label_width=90), width="content", key="pg_style_table"
    )
    seed = st.session_state.get("pg_style_seed", 0)
    samples = conditioning.class_samples(ctx.model, STYLE_SAMPLES, seed)  # (K, n, C, H, W)
    grid = {f"y = {n}": samples[k] for k, n in enumerate(names)}
    st.plotly_chart(
        plots_compare.labelled_strips(grid, [f"z{j + 1}" for j in range(STYLE_SAMPLES)], cell=48, label_width=70),
        width="content",
        key="pg_style_samples",
    )
    if st.button("Other styles", key="pg_style_other"):
        st.session_state["pg_style_seed"] = seed + 1
        st.rerun()


def completion_ui(ctx, test) -> None:
    st.subheader("Completions")
    st.write(
        f"As in Doersch's tutorial: the visible part, {conditioning.COMPLETIONS} completions from random "
        "z, the ground truth, and the regressor baseline (the same network without z), which can only "
        "draw the blurry average of every plausible digit."
    )
    first = int(st.session_state.get(f"pg_item_{ctx.source}", 0))
    seed = st.session_state.get("pg_completion_seed", 0)
    ids = [first] + [
        int(i)
        for i in np.random.default_rng(seed).choice(len(test.images), COMPLETION_ROWS - 1, replace=False)
        if i != first
    ]
    rows = {f"#{i}": conditioning.complete(ctx.model, test.images[i], seed=seed).row() for i in ids}
    labels = ["given", *[str(j + 1) for j in range(conditioning.COMPLETIONS)], "truth", "regressor"]
    st.plotly_chart(
        plots_compare.labelled_strips(rows, labels, cell=52, label_width=60), width="content", key="pg_completions"
    )
    if st.button("Other z and images", key="pg_completion_other"):
        st.session_state["pg_completion_seed"] = seed + 1
        st.rerun()
