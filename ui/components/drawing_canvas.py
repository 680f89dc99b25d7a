"""A drawing canvas for the Reconstruct and True posterior pages, built with st.components.v2 (our
own HTML/JS/CSS, drawing_canvas.js and .css beside this file). For a grey model: a 280x280 black
square and a white round brush, as MNIST's digits are light on black. For a colour model: a white
square and a palette of inks (the emoji are drawn on white), so a drawing is prepared the way the
model's pictures were. A Clear button either way.

After each stroke the component stores the picture as a PNG data URL in its state "png" (None
after Clear); vae.inference.scoring.decode_data_url turns it into bytes for images.prepare. The JS runs only
in a browser: under AppTest the component mounts and its value stays None.
"""

from __future__ import annotations

import streamlit as st

from ui.components import asset

SIZE = 280  # pixels: 10x MNIST's 28, so the brush below draws MNIST-like stroke widths
BRUSH = 18  # brush diameter in canvas pixels

PALETTE = ["#111111", "#d62728", "#ff7f0e", "#f2c200", "#2ca02c", "#1f77b4", "#9467bd", "#8c564b", "#e377c2"]
_HTML = f"""
<div class="vae-canvas">
  <canvas width="{SIZE}" height="{SIZE}" aria-label="Drawing canvas: draw a picture"></canvas>
  <div class="inks" role="radiogroup" aria-label="Ink" hidden></div>
  <div><button type="button" class="clear">Clear</button> <span>Draw with the mouse, a pen or a finger.</span></div>
</div>
"""

_component = st.components.v2.component(
    "vae_explorer.drawing_canvas", html=_HTML, css=asset("drawing_canvas.css"), js=asset("drawing_canvas.js")
)


def drawing_canvas_ui(key: str, colour: bool = False) -> str | None:
    """Draw the canvas (inks on white for a colour model, white on black otherwise); the latest
    drawing as a PNG data URL, or None before drawing / after Clear."""
    current = (st.session_state.get(key) or {}).get("png")
    data = {
        "png": current,
        "brush": BRUSH,
        "paper": "#ffffff" if colour else "#000000",
        "inks": PALETTE if colour else ["#ffffff"],
    }
    result = _component(key=key, data=data, default={"png": None}, on_png_change=lambda: None, width=SIZE + 4)
    return getattr(result, "png", None)
