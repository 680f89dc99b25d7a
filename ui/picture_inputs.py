"""The picture inputs pages share: upload pictures (any size or format) and draw one.

`pictures_ui` draws the uploader beside the drawing canvas and returns (name, read) pairs, where
read() gives what vae.data.pictures.prepare accepts; nothing is decoded until a page asks for it.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from ui.components.drawing_canvas import drawing_canvas_ui
from vae import limits
from vae.inference import scoring

FILE_TYPES = ["png", "jpg", "jpeg", "bmp", "gif", "webp"]


def pictures_ui(prefix: str, shape: tuple, multiple: bool = True) -> list[tuple[str, Callable[[], object]]]:
    """An uploader (keyed PREFIX_files) and a canvas (PREFIX_canvas) -> [(name, read)], uploads first."""
    left, right = st.columns([3, 2])
    label = f"Picture{'s' if multiple else ''} ({', '.join(t.upper() for t in FILE_TYPES)})"
    files = left.file_uploader(
        label,
        type=FILE_TYPES,
        accept_multiple_files=multiple,
        key=f"{prefix}_files",
        max_upload_size=limits.UPLOAD_MB,
        help=f"Any size; each is converted to the model's {shape[2]}x{shape[1]} input.",
    )
    colour = shape[0] == 3
    with right:
        st.caption(
            "…or draw (pick an ink; on white, as the emoji are):"
            if colour
            else "…or draw (white on black, as MNIST's digits are):"
        )
        drawn = drawing_canvas_ui(f"{prefix}_canvas", colour=colour)
    files = files if multiple else [files] if files else []
    inputs = [(f.name, f.getvalue) for f in files or []]
    if drawn:
        inputs.append(("your drawing", lambda: scoring.decode_data_url(drawn)))
    return inputs


def unique_names(names: list[str]) -> list[str]:
    """Names made distinct in order: a second "a.png" becomes "a.png (2)"."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out
