"""The interpolation scrubber (Interpolate page): the path between two latent codes decoded in the
browser at any point, by dragging a slider or pressing Play (A to B and back, one decode per
animation frame). The same decoder.js as the latent pad; the weights travel the same way and are
shared with it (ui/components/live.py). t runs over [0, 1]; at t = k / (steps - 1) the picture is step
k of the strip the server decodes, the path being vae.inference.latent.interpolate's (linear or slerp).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import resources
from ui.components import asset, live, script

_component = st.components.v2.component(
    "vae_explorer.latent_path",
    html=asset("latent_path.html"),
    css=asset("latent_path.css"),
    js=script("decoder.js", "live.js", "latent_path.js"),
)


def latent_path_ui(
    key: str, ctx: resources.Current, z_a: np.ndarray, z_b: np.ndarray, method: str, steps: int, *, extra=None
) -> str:
    """Mount the scrubber; returns live.status: "live", "starting", or why it does not decode."""
    dec = live.decoder_part(ctx)
    mounted, state = live.mount_state(key)
    meta = {
        "z_a": [float(v) for v in z_a],
        "z_b": [float(v) for v in z_b],
        "method": method,
        "steps": int(steps),
        "extra": None if extra is None else [float(v) for v in extra],
        "unsupported": dec if isinstance(dec, str) else None,
    }
    _component(
        key=key,
        data=live.payload({} if isinstance(dec, str) else {"dec": dec}, state, meta),
        default={"live": None},
        on_live_change=lambda: None,
        width="stretch",
    )
    return live.status(dec, mounted, state)
