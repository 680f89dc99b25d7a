"""Samples side by side: pictures decoded from z drawn by two samplers (the prior, or a density fitted
to the training codes: vae.inference.samplers), each with its quality against the held-out split
(vae.inference.quality), so one sees what fitting the codes buys and what it costs."""

from __future__ import annotations

import streamlit as st

from ui import resources
from vae.data import images
from vae.inference import samplers

SHOWN = 64  # pictures in each grid (the first of the measured samples)
COLUMNS = 8


def samples_ui(ctx: resources.Current) -> None:
    st.subheader("Samples")
    if not ctx.info.config.kind.plain_networks:
        st.caption(f"Samplers fit the codes of a plain VAE; a {ctx.info.config.kind.title} decodes z with a condition.")
        return
    st.caption(
        f"Pictures decoded from z drawn by two samplers: the prior N(0, I), or a density fitted to the codes of the "
        f"training split. Each is measured on {resources.QUALITY_SAMPLES:,} samples against held-out pictures, in "
        "a small classifier's feature space: the Fréchet distance (lower: closer to the data), precision (the "
        "share of samples that look like some real picture) and recall (the share of real pictures some sample "
        "covers; Kynkäänniemi et al. 2019), the classifier's confidence and how evenly the samples spread over the "
        "classes (1: evenly)."
    )
    if not st.toggle("Draw and measure samples", key="mf_samples", help="Fits the densities once per model (seconds)"):
        return
    cols = st.columns(2, gap="medium")
    for col, default, key in zip(cols, ("prior", "gmm"), ("mf_sampler_a", "mf_sampler_b")):
        kind = col.selectbox(
            "Sampler", samplers.KINDS, index=samplers.KINDS.index(default), format_func=samplers.TITLES.get, key=key
        )
        _column(ctx, col, kind)


def _column(ctx: resources.Current, col, kind: str) -> None:
    try:
        x, _ = resources.samples(ctx.ref, kind, resources.QUALITY_SAMPLES)
    except Exception as e:  # a fit that fails on odd codes: say so, keep the other column
        col.error(f"Could not draw from {samplers.TITLES[kind]}: {e}")
        return
    col.image(images.to_png(images.tile(x[:SHOWN], ncols=COLUMNS, pad=1), scale=2), width="stretch")
    col.caption(resources.sampler(ctx.ref, kind).describe())
    try:
        q = resources.sample_quality(ctx.ref, kind)
    except Exception as e:  # unlabelled data: no classifier to measure with
        col.caption(f"Quality not measured: {e}")
        return
    col.markdown(
        f"**Fréchet {q['frechet']:.1f}** · precision {q['precision']:.2f} · recall {q['recall']:.2f} · "
        f"confidence {q['confidence']:.2f} · class balance {q['class_balance']:.2f}"
    )
