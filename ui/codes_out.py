"""The latent map's way out: the codes as a CSV (all items, or the selection) and an Embedding
Projector bundle (.zip: load the folder in the standalone Projector or TensorBoard's plugin)."""

from __future__ import annotations

import streamlit as st

from ui import resources
from vae.inference import codes


def downloads_ui(ctx, split: str, ids) -> None:
    cols = st.columns([1, 1, 2])
    which = "the selection" if len(ids) else "all items"
    cols[0].download_button(
        f"Codes of {which} (CSV)",
        data=lambda: codes.csv_text(resources.codes_table(ctx.ref, split), ids if len(ids) else None),
        file_name=f"{ctx.name}-{split}-codes.csv",
        mime="text/csv",
        key="lm_codes_csv",
        help="One row per item: index, label, class name, mu and sigma of every dimension, reconstruction "
        "error, ELBO, KL (and the map's x, y for a 2-D model).",
    )
    cols[1].download_button(
        "Embedding Projector (.zip)",
        data=lambda: resources.projector_zip(ctx.ref, split),
        file_name=f"{ctx.name}-projector.zip",
        mime="application/zip",
        key="lm_projector",
        help="tensors.tsv, metadata.tsv, a sprite and projector_config.pbtxt: unzip, then 'Load' them in "
        "projector.tensorflow.org or point TensorBoard's projector at the folder.",
    )
