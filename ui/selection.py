"""What the latent map shows of a selection: the originals beside their reconstructions, the decoded
mean code and the pixel average, and a direction made at once from the selection against the rest
(its quality on these codes, saved with the model on request).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import resources
from vae.data import images
from vae.inference import directions as dirs
from vae.inference import latent, views
from vae.store import catalog as store
from vae.store import saved_directions


def selection_ui(ctx, ds, mu, ids) -> None:
    shown, more = views.capped(ids)
    st.subheader(f"{len(ids)} selected")
    if more:
        st.caption(f"Showing the first {len(shown)} of {len(ids)} images; the means use all {len(ids)}.")
    try:
        recon = latent.decode(ctx.model, mu[shown])
        mean_z = mu[ids].mean(0)
        decoded_mean = latent.decode(ctx.model, mean_z)[0]
    except Exception as e:
        st.error(f"Could not decode the selection: {e}")
        return
    ncols, scale = min(8, len(shown)), 3 if len(shown) > 2 else 5
    cols = st.columns([3, 3, 2])
    cols[0].image(images.upscale(images.tile(ds.images[shown], ncols=ncols, pad=2), scale), caption="originals")
    cols[1].image(
        images.upscale(images.tile(recon, ncols=ncols, pad=2), scale), caption="reconstructions: decode(μ), same order"
    )
    means = np.stack([decoded_mean, ds.images[ids].mean(0)])
    cols[2].image(
        images.upscale(images.tile(means, ncols=2, pad=2), 4), caption="decode(mean of the selected μ) · pixel average"
    )
    if ctx.latent_dim <= 8:
        st.caption(f"Mean of the selected μ: {latent.format_z(mean_z)}")
    if 0 < len(ids) < len(mu):
        direction_from_selection_ui(ctx, mu, ids)


KEPT = "lm_kept_group"  # session key: (model name, split, ids) of a selection kept as the first group


def direction_from_selection_ui(ctx, mu, ids) -> None:
    """The selection against the rest, or against a selection kept before, as a direction: the
    difference of the two groups' mean codes (White)."""
    chosen = np.zeros(len(mu), bool)
    chosen[ids] = True
    kept = st.session_state.get(KEPT)
    source, what = ~chosen, "the rest"
    if kept and kept[0] == (ctx.name, len(mu)) and set(kept[1]) != set(ids.tolist()):
        source = np.zeros(len(mu), bool)
        source[list(kept[1])] = True
        source &= ~chosen  # items in both stay with this selection
        what = f"the {int(source.sum())} kept"
    if not source.any():
        return
    vector = dirs.between(mu, source, chosen, "mean")
    auc = dirs.auc(vector, mu, source, chosen)
    title = f"A direction: {what} → these {len(ids)} (length {np.linalg.norm(vector):.2f}, AUC {auc:.3f})"
    with st.expander(title):
        keep = st.button("Keep this selection as the first group", key="lm_keep",
                         help="Then select another group: the direction goes from this one to it.")  # fmt: skip
        if keep:
            st.session_state[KEPT] = ((ctx.name, len(mu)), [int(i) for i in ids])
            st.caption("Kept: select the second group on the map.")
        st.caption(
            "The difference of the mean codes, so adding it to a code moves it from the rest's average to the "
            "selection's. Its AUC is measured on these same codes (not held out): a first look, not a test."
        )
        name = st.text_input("Name", key="lm_dir_name", placeholder="e.g. thick-strokes")
        if st.button("Save with the model", key="lm_dir_save", disabled=not name.strip()):
            entry = dirs.Direction(vector, "mean", f"{what} -> {len(ids)} selected", {"auc_in_sample": auc})
            try:
                saved_directions.save_direction(ctx.name, name.strip(), entry.to_dict(), resources.models_dir())
            except store.StoreError as e:
                st.error(f"Not saved: {e}")
            else:
                st.success(f"Saved as **{name.strip()}**: the Playground, Manifold and Reconstruct offer it now.")
