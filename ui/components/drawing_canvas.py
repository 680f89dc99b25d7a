"""A drawing canvas for the Reconstruct page: a 280x280 black square, a white round brush and a
Clear button, built with st.components.v2 (our own HTML/JS/CSS, drawing_canvas.js and .css beside this file).

After each stroke the component stores the picture as a PNG data URL in its state "png" (None
after Clear); vae.inference.scoring.decode_data_url turns it into bytes for images.prepare. The JS runs only
in a browser: under AppTest the component mounts and its value stays None.
"""
from __future__ import annotations

import streamlit as st

from ui.components import asset

SIZE = 280  # pixels: 10x MNIST's 28, so the brush below draws MNIST-like stroke widths
BRUSH = 18  # brush diameter in canvas pixels

_HTML = f"""
<div class="vae-canvas">
  <canvas width="{SIZE}" height="{SIZE}" aria-label="Drawing canvas: draw a digit"></canvas>
  <div><button type="button">Clear</button> <span>Draw with the mouse, a pen or a finger.</span></div>
</div>
"""

_component = st.components.v2.component("vae_explorer.drawing_canvas", html=_HTML, css=asset("drawing_canvas.css"),
                                        js=asset("drawing_canvas.js"))


def drawing_canvas_ui(key: str) -> str | None:
    """Draw the canvas; the latest drawing as a PNG data URL, or None before drawing / after Clear."""
    current = (st.session_state.get(key) or {}).get("png")
    result = _component(key=key, data={"png": current, "brush": BRUSH}, default={"png": None},
                        on_png_change=lambda: None, width=SIZE + 4)
    return getattr(result, "png", None)
