"""The live latent pad (Playground): the 2-D latent map on a canvas with a crosshair the user drags
(mouse, pen, touch) or moves with the arrow keys, and the decoded image beside it, decoded in the
browser on every animation frame (latent_pad.js; decoder.js does the math, pad_map.js draws the
map under the crosshair). Above 2-D the pad moves two chosen dimensions or the PCA plane (through
its inverse), and sliders inside the component move every dimension, all decoding live.

How data travels (st.components.v2 `data` as raw bytes, vae.store.bundle's safetensors layout; the
part bookkeeping is ui/components/live.py):
- Parts, each with a content id: "dec" (the decoder's layers and weights, float16 or int8 where
  that decodes within one grey level, vae/store/compact.py) and "pts" (the test split's latent
  means, labels and PCA plane). A part is packed into `data` only while the browser does not hold
  it: the component reports the ids it holds in its state "live" ({"ok", "have", "error"}), and the
  browser keeps the parts in a page-wide cache (globalThis.__vaeLive) and in IndexedDB, listed in
  a cookie the server reads on a session's first run. So reruns, Sample z, page changes and later
  visits send only the small JSON (z, a sequence number, the dimension order). Until the browser
  paints its first frame, the image shows `preview`, the server's PNG of the same z (sent only
  while the browser lacks a part).
- z goes back to Python when a drag ends (pointerup) or 300 ms after the last arrow key: the
  state "z" ({"z": [...], "n": count}), rounded to 0.01 and clipped to +-limit like the server's
  sliders.
  The page's on_z callback copies it into the sliders, whose values go to the URL.
- Python's own changes to z (Sample z, Reset, a server slider, the URL) come with a new `seq`; the
  pad adopts a z only when seq changes, so a rerun never pulls the crosshair back mid-drag.
- `direction`: an optional {name, vector}: the pad's direction slider moves z along it in the
  browser (the same decoder, every frame) and draws the path; a release sends z like a drag.
- `extra`: an optional fixed vector appended to z before the decoder's first layer ([z, extra]),
  for a conditional decoder (a one-hot label); None for the plain VAE.

latent_pad_ui returns whether the browser decodes: "live", "starting" (first run of a mount, the
script has not answered yet), or a sentence why not ("the component's script did not start" when
it never answered, or the reason it gave). The page then keeps its server-side sliders and images.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import resources
from ui.components import asset, live, script

_component = st.components.v2.component(
    "vae_explorer.latent_pad",
    html=asset("latent_pad.html"),
    css=asset("latent_pad.css"),
    js=script("decoder.js", "live.js", "pad_map.js", "latent_pad.js"),
)


def latent_pad_ui(
    key: str,
    ctx: resources.Current,
    z: np.ndarray,
    seq: int,
    *,
    order,
    kl,
    active,
    limit: float,
    on_z,
    extra=None,
    preview: bytes | None = None,
    direction: tuple[str, np.ndarray] | None = None,
) -> str:
    """Mount the pad; returns its status (see the module docstring). on_z runs (as a callback,
    before the script) when the browser sends a new z: read it with `sent_z(key)`. `preview`, a PNG
    of the server's decode of z, is shown in the image until the browser paints its own.
    `direction` (name, vector): a slider under the image moves z along it, -3 to +3 times the vector
    from where z was when the slider was first touched, decoded every frame; its path is drawn on
    the pad."""
    dec = live.decoder_part(ctx)
    parts = {} if isinstance(dec, str) else {"dec": dec, "pts": live.points_part(ctx)}
    mounted, state = live.mount_state(key)
    meta = {
        "direction": None if direction is None else {"name": direction[0], "vector": [float(v) for v in direction[1]]},
        "z": [float(v) for v in z],
        "seq": int(seq),
        "limit": float(limit),
        "order": [int(i) for i in order],
        "kl": [round(float(k), 3) for k in kl],
        "active": [bool(a) for a in active],
        "extra": None if extra is None else [float(v) for v in extra],
        "unsupported": dec if isinstance(dec, str) else None,
    }
    _component(
        key=key,
        data=live.payload(parts, state, meta, preview),
        default={"live": None, "z": None},
        on_live_change=lambda: None,
        on_z_change=on_z,
        width="stretch",
    )
    return live.status(dec, mounted, state)


def sent_z(key: str) -> np.ndarray | None:
    """The z the browser sent last (inside an on_z callback), or None."""
    value = (st.session_state.get(key) or {}).get("z")
    return None if not value else np.asarray(value["z"], dtype=np.float64)
