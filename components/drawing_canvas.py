"""A drawing canvas for the Reconstruct page: a 280x280 black square, a white round brush and a
Clear button, built with st.components.v2 (our own HTML/JS, no build step, no extra dependency).

After each stroke the component stores the picture as a PNG data URL in its state "png" (None
after Clear); vae.scoring.decode_data_url turns it into bytes for images.prepare. The JS runs only
in a browser: under AppTest the component mounts and its value stays None.
"""
from __future__ import annotations

import streamlit as st

SIZE = 280  # pixels: 10x MNIST's 28, so the brush below draws MNIST-like stroke widths
BRUSH = 18  # brush diameter in canvas pixels

_HTML = f"""
<div class="vae-canvas">
  <canvas width="{SIZE}" height="{SIZE}" aria-label="Drawing canvas: draw a digit"></canvas>
  <div><button type="button">Clear</button> <span>Draw with the mouse, a pen or a finger.</span></div>
</div>
"""

_CSS = """
.vae-canvas canvas { background: #000; touch-action: none; cursor: crosshair; border-radius: 4px;
  border: 1px solid var(--st-border-color, #888); }
.vae-canvas div { margin-top: 6px; font-size: 0.85rem; color: var(--st-text-color); }
.vae-canvas button { padding: 2px 12px; border-radius: 4px; border: 1px solid #888;
  background: var(--st-secondary-background-color, #eee); color: var(--st-text-color); cursor: pointer; }
"""

_JS = """
export default function (component) {
  const { parentElement, setStateValue, data } = component;
  const canvas = parentElement.querySelector("canvas");
  if (canvas.dataset.ready) return;  // the function runs again on every rerun: wire it once
  canvas.dataset.ready = "1";
  const ctx = canvas.getContext("2d");
  const blank = () => { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height); };
  blank();
  if (data && data.png) {  // remounted (page revisited): show the drawing Python still holds
    const img = new Image();
    img.onload = () => ctx.drawImage(img, 0, 0);
    img.src = data.png;
  }
  ctx.strokeStyle = "#fff"; ctx.fillStyle = "#fff";
  ctx.lineWidth = data && data.brush ? data.brush : 18;
  ctx.lineCap = "round"; ctx.lineJoin = "round";
  let drawing = false, last = null;
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
  };
  const dot = (p) => { ctx.beginPath(); ctx.arc(p[0], p[1], ctx.lineWidth / 2, 0, 2 * Math.PI); ctx.fill(); };
  canvas.addEventListener("pointerdown", (e) => {
    drawing = true; last = at(e); dot(last); canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const p = at(e);
    ctx.beginPath(); ctx.moveTo(last[0], last[1]); ctx.lineTo(p[0], p[1]); ctx.stroke();
    last = p;
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    ctx.fillStyle = "#fff";
    setStateValue("png", canvas.toDataURL("image/png"));
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  parentElement.querySelector("button").addEventListener("click", () => {
    blank(); ctx.fillStyle = "#fff";
    setStateValue("png", null);
  });
}
"""

_component = st.components.v2.component("vae_explorer.drawing_canvas", html=_HTML, css=_CSS, js=_JS)


def drawing_canvas_ui(key: str) -> str | None:
    """Draw the canvas; the latest drawing as a PNG data URL, or None before drawing / after Clear."""
    current = (st.session_state.get(key) or {}).get("png")
    result = _component(key=key, data={"png": current, "brush": BRUSH}, default={"png": None},
                        on_png_change=lambda: None, width=SIZE + 4)
    return getattr(result, "png", None)
