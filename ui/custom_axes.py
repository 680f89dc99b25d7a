"""The latent map's custom axes (the Embedding Projector's Custom tab, as Latent Space Cartography
does it): x along a chosen direction, y along a second one or the first principal direction of
what is left; each axis labelled, with a ruler of images decoded along it through the codes' mean.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import direction_picker
from vae.data import images
from vae.inference import directions as dirs
from vae.inference import latent

RULER = 7  # decoded images along each axis


def custom_axes_ui(ctx, mu, container) -> tuple[np.ndarray, tuple[str, str], dirs.CustomAxes] | None:
    """The two axes' controls in `container` -> (coords, axis names, the axes), or None until an x is chosen."""
    with container:
        x = direction_picker.direction_ui(ctx, "lm_x", allow_none=False)
        second = st.toggle("y: a second direction", key="lm_y_own", help="Off: the first principal direction "
                           "of what is left once x is taken out (Liu et al.).")  # fmt: skip
        y = direction_picker.direction_ui(ctx, "lm_y", allow_none=False) if second else None
    if x is None or (second and y is None):
        return None
    try:
        axes = dirs.custom_axes(mu, x.vector, None if y is None else y.vector)
    except dirs.DirectionError as e:
        container.error(f"No custom axes: {e}")
        return None
    container.caption(f"x: {x.summary()}" + (f" · y: {y.summary()}" if y else ""))
    names = (f"along {x.name}", f"along {y.name} (made orthogonal)" if y else "first PC of the rest")
    return axes.coords, names, axes


def rulers_ui(ctx, axes: dirs.CustomAxes, names: tuple[str, str]) -> None:
    """A strip of decoded images along each axis, from its 5th to its 95th percentile of the codes."""
    cols = st.columns(2)
    for k, (col, name) in enumerate(zip(cols, names)):
        lo, hi = np.percentile(axes.coords[:, k], [5, 95])
        values = np.linspace(lo, hi, RULER)
        strip = latent.decode(ctx.model, axes.codes(k, values))
        picture = images.tile(strip, ncols=RULER, pad=1)
        col.image(images.to_png(picture, scale=max(1, 560 // picture.shape[1])), width="stretch",
                  caption=f"{name}: {values[0]:+.2f} … {values[-1]:+.2f} through the mean code")  # fmt: skip
