"""Images for display: tile a batch into a grid, enlarge with sharp pixels, encode PNG and GIF.

Inputs are numpy arrays or torch tensors (read without importing torch), floats in [0, 1] or uint8.
Preparing a picture as model input is vae/data/pictures.py.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
from PIL import Image


def _numpy(a: Any) -> np.ndarray:
    if hasattr(a, "detach"):  # a torch tensor, without importing torch here
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def to_uint8_hwc(a: Any) -> np.ndarray:
    """(H,W), (H,W,C) or (C,H,W) with C in {1,3,4}, uint8 or float in [0,1] -> uint8 (H,W[,C])."""
    a = _numpy(a)
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[2] not in (1, 3, 4):
        a = a.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3):
        raise ValueError(f"expected one image (H,W), (H,W,C) or (C,H,W); got shape {a.shape}")
    if a.dtype != np.uint8:
        a = np.round(np.clip(a.astype(np.float64), 0, 1) * 255).astype(np.uint8)
    return np.ascontiguousarray(a)


def tile(images: Any, ncols: int | None = None, pad: int = 1, pad_value: float = 1.0) -> np.ndarray:
    """(N,C,H,W) or (N,H,W) floats in [0,1] -> one uint8 grid (H',W') for C=1, (H',W',3) for C=3.

    Tiles fill rows left to right, ncols per row (default ceil(sqrt(N))); `pad` pixels of
    `pad_value` separate them and surround the grid; empty cells are pad_value too.
    """
    x = _numpy(images).astype(np.float32)
    if x.ndim == 3:
        x = x[:, None]  # (N, 1, H, W)
    if x.ndim != 4 or x.shape[0] == 0:
        raise ValueError(f"expected a non-empty (N,C,H,W) or (N,H,W) batch; got {x.shape}")
    n, c, h, w = x.shape
    ncols = max(1, min(ncols or math.ceil(math.sqrt(n)), n))
    nrows = math.ceil(n / ncols)
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), pad_value, np.float32)
    for i in range(n):
        top, left = pad + (i // ncols) * (h + pad), pad + (i % ncols) * (w + pad)
        grid[top : top + h, left : left + w] = x[i].transpose(1, 2, 0)
    return to_uint8_hwc(grid)


def upscale(array: Any, scale: int) -> np.ndarray:
    """Nearest-neighbour enlargement of (H,W) or (H,W,C) by a whole factor (sharp pixels)."""
    if int(scale) != scale or scale < 1:
        raise ValueError(f"scale must be a whole number >= 1, got {scale}")
    a = _numpy(array)
    return a if scale == 1 else a.repeat(int(scale), axis=0).repeat(int(scale), axis=1)


def to_png(array: Any, scale: int = 1) -> bytes:
    """One image (see to_uint8_hwc for shapes) -> PNG bytes, enlarged `scale` times."""
    buf = io.BytesIO()
    Image.fromarray(upscale(to_uint8_hwc(array), scale)).save(buf, format="PNG")
    return buf.getvalue()


def to_gif(frames: Iterable[Any], duration_ms: int = 100, scale: int = 1, loop: int | None = 0) -> bytes:
    """Frames (a list, or an (N,...) array of images) -> animated GIF bytes.

    loop=0 repeats forever, None plays once. Pillow merges identical consecutive frames (adding
    their durations), so the file can hold fewer frames than given.
    """
    ims = [Image.fromarray(upscale(to_uint8_hwc(f), scale)) for f in frames]
    if not ims:
        raise ValueError("to_gif needs at least one frame")
    buf = io.BytesIO()
    extra = {} if loop is None else {"loop": loop}
    ims[0].save(buf, format="GIF", save_all=True, append_images=ims[1:], duration=duration_ms, **extra)
    return buf.getvalue()
