"""The items Interpolate starts from (its endpoints, an analogy's corners): a test image, an upload
(prepared as Reconstruct prepares it) or a point on the latent map, each turned into a latent code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from ui import shell
from vae import limits
from vae.data import images, pictures
from vae.inference import scoring

SOURCES = ("Dataset item", "Upload", "Point on the map")


@dataclass
class Endpoints:
    """What every endpoint widget reads: the model, the test split, its codes and the map's plane."""

    model: object
    ds: object  # the test split (vae.data.datasets.Dataset)
    mu: np.ndarray  # (N, D) its posterior means
    plane: object  # None for a 2-D model, else the PCA plane the map shows (vae.inference.latent.Projection)
    axes: tuple[str, str]

    @property
    def shape(self) -> tuple:
        return tuple(self.model.config.image_shape)

    def to_z(self, xy) -> np.ndarray:
        """A point on the map -> a latent code (2-D: itself; else back through the PCA plane)."""
        return np.asarray(xy, np.float32) if self.plane is None else self.plane.inverse(np.asarray([xy]))[0]

    def show(self, x, caption: str) -> None:
        st.image(images.to_png(x, scale=max(1, 112 // self.shape[2])), caption=caption, width=112)

    def ui(self, tag: str, default_index: int, prefix: str = "ip") -> np.ndarray | None:
        """Widgets for one endpoint; returns its latent code, or None while it is not chosen."""
        ds = self.ds
        source = st.radio(f"Endpoint {tag}", SOURCES, key=f"{prefix}_src_{tag}", horizontal=True)
        if source == "Dataset item":
            i = int(
                st.number_input(
                    f"Test-split index (0-{len(ds) - 1})",
                    0,
                    len(ds) - 1,
                    default_index % len(ds),
                    key=f"{prefix}_idx_{tag}",
                )
            )
            self.show(ds.images[i], f"#{i}" + (f" · {ds.label_name(i)}" if ds.labels is not None else ""))
            return self.mu[i]
        if source == "Upload":
            f = st.file_uploader(
                "Picture",
                type=["png", "jpg", "jpeg", "bmp", "gif", "webp"],
                key=f"{prefix}_up_{tag}",
                max_upload_size=limits.UPLOAD_MB,
            )
            if f is None:
                return None
            try:
                prepared = pictures.prepare(f.getvalue(), self.shape)
            except pictures.ImageError as e:
                st.error(f"**{f.name}**: {e}")
                return None
            except Exception as e:  # noqa: BLE001  (whatever is inside the upload: one clear error)
                shell.file_error(f.name, e)
                return None
            self.show(prepared.array, f"{f.name}, prepared")
            return scoring.encode(self.model, prepared.array)[0]
        st.session_state.setdefault(f"{prefix}_x_{tag}", 0.0)
        st.session_state.setdefault(f"{prefix}_y_{tag}", 0.0)
        a, b = st.columns(2)
        x = a.number_input(self.axes[0], step=0.1, format="%.2f", key=f"{prefix}_x_{tag}")
        y = b.number_input(self.axes[1], step=0.1, format="%.2f", key=f"{prefix}_y_{tag}")
        return self.to_z((x, y))
