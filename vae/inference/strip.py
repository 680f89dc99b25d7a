"""An interpolation strip: the images decoded along a path between two latent points, as one tiled
picture (PNG) and as a ping-pong animation (GIF: there and back, endpoints shown once per cycle).

Nothing here imports streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vae.data import images
from vae.inference import latent

PAD = 2  # pixels between tiles in the strip


@dataclass
class Strip:
    zs: np.ndarray  # (steps, D) latent points, endpoints included
    frames: np.ndarray  # (steps, C, H, W) decoder means in [0, 1]

    def image(self, scale: int = 1) -> np.ndarray:
        """The frames side by side, left to right, as one uint8 picture enlarged `scale` times."""
        return images.upscale(images.tile(self.frames, ncols=len(self.frames), pad=PAD), scale)

    def png(self, scale: int = 3) -> bytes:
        return images.to_png(self.image(), scale=scale)

    def gif(self, scale: int = 4, duration_ms: int = 120) -> bytes:
        """Animated GIF of ping_pong(frames), looping forever."""
        return images.to_gif(ping_pong(self.frames), duration_ms=duration_ms, scale=scale)


def ping_pong(frames) -> list:
    """f0..f(n-1) then back f(n-2)..f1: 2n-2 frames (n for n <= 2), so a loop has no repeated end."""
    frames = list(frames)
    return frames + frames[-2:0:-1]


def interpolate(model, z0, z1, steps: int, method: str = "linear") -> Strip:
    """Decode `steps` points from z0 to z1 (latent.interpolate: "linear" or "spherical")."""
    zs = latent.interpolate(z0, z1, steps, method)
    return Strip(zs, latent.decode(model, zs))
