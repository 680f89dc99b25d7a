"""Our own st.components.v2 widgets: each a small .py with its .js and .css beside it, read from disk
when the module is imported (no build step, nothing fetched at run time).

- drawing_canvas: draw a digit with the mouse, a pen or a finger (Reconstruct page).
- latent_pad: the live latent pad, decoding in the browser on every frame (Playground);
  pad_map.js draws its map.
- latent_path: an interpolation path played frame by frame in the browser (Interpolate).

decoder.js is the decoder's math alone (no DOM): the live components get it and live.js (the
page-wide cache of weights, frame statistics) prepended to their own script, and tests load it by
itself in a blank page. live.py is their Python side: which parts of the weights to send.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent


def asset(name: str) -> str:
    """The text of a file beside this package's modules (a .js, .css or .html)."""
    return (HERE / name).read_text(encoding="utf-8")


def script(*names: str) -> str:
    """Several JavaScript files as one module, in order (the later ones use the earlier ones' names)."""
    return "\n".join(f"// ---- components/{n}\n{asset(n)}" for n in names)
