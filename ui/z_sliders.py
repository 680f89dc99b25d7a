"""z held in session keys and shown by sliders that start at it (Playground and the conditional
Playground).

A widget value set through st.session_state reaches the browser only with the run that set it; a run
cut short by the next rerun request (Streamlit's fast reruns) left sliders showing their minimum while
z was elsewhere. So z lives in its own keys, and the sliders are widgets of their own, created with
value=z and keyed by a version that every change of z by the program (pad, URL, buttons, map) bumps."""

from __future__ import annotations

import numpy as np
import streamlit as st

STEP = 0.05
SLIDERS = 24  # sliders at most: the dimensions with the most KL (the pad shows as many)


def _version_key(keys: list[str]) -> str:
    return f"{keys[0]}@version"


def _slider_key(keys: list[str], i: int) -> str:
    return f"{keys[i]}@{st.session_state.get(_version_key(keys), 0)}"


def set_z(keys: list[str], z, limit: float) -> None:
    """z set by the program: stored rounded and clipped; the sliders are made anew at it."""
    for k, v in zip(keys, np.clip(np.asarray(z, dtype=float), -limit, limit)):
        st.session_state[k] = round(float(v), 2)
    st.session_state[_version_key(keys)] = st.session_state.get(_version_key(keys), 0) + 1


def adopt_sliders(keys: list[str]) -> None:
    """A slider moved (call from its on_change, before the script): z takes the sliders' values."""
    for i, k in enumerate(keys):
        if _slider_key(keys, i) in st.session_state:
            st.session_state[k] = st.session_state[_slider_key(keys, i)]


def slider(container, label: str, keys: list[str], i: int, limit: float, on_change) -> None:
    """Dimension i's slider, starting at z[i]."""
    container.slider(
        label,
        -limit,
        limit,
        value=float(st.session_state[keys[i]]),
        step=STEP,
        key=_slider_key(keys, i),
        format="%.2f",
        on_change=on_change,
    )


def z(keys: list[str]) -> np.ndarray:
    return np.array([st.session_state[k] for k in keys], dtype=np.float32)


def ordered_ui(container, keys: list[str], limit: float, on_change, order, active, kl, symbol: str = "z") -> None:
    """One slider per dimension, by decreasing KL (`order`), each labelled with its KL in nats and
    marked when inactive; two columns above four dimensions. Above SLIDERS dimensions (an imported
    128-D model) only the SLIDERS most informative get one; the others keep their values (the URL
    holds them)."""
    cols = container.columns(2 if len(keys) > 4 else 1)
    for n, i in enumerate(order[:SLIDERS]):
        note = "" if active[i] else " · inactive"
        slider(cols[n % len(cols)], f"{symbol}{i + 1} (KL {kl[i]:.2f} nats{note})", keys, i, limit, on_change)
    if len(order) > SLIDERS:
        container.caption(
            f"{len(order) - SLIDERS} more dimensions, each with less KL than these, keep their values "
            "(Sample z and the URL set them)."
        )


def from_url(d: int) -> np.ndarray | None:
    """z from the URL's ?z=a,b,... when it is d finite numbers; otherwise a warning and None."""
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
