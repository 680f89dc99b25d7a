"""VAE Latent Explorer: the entry point (`streamlit run app.py`) and its Overview page.

The other pages are the scripts in pages/ (Streamlit's multipage folder); ui/shell.py draws the frame
every page shares: page config, navigation and the sidebar (model picker, dataset, model card).
"""

import json

import numpy as np
import streamlit as st

from ui import resources, shell
from vae.data import images, provenance
from vae.inference import latent
from vae.plots import explore as plots
from vae.store import card, saved_directions
from vae.store import catalog as store

ctx = shell.page(
    "Overview",
    "See inside a variational autoencoder: where it puts each image in its latent space, what it "
    "decodes from every point, and how well it models the data. Pick a model and dataset in the "
    "sidebar, then choose a page.",
    heading="VAE Latent Explorer",
)

cfg, m = ctx.info.config, ctx.info.metrics
st.subheader(f"Model '{ctx.name}' · {cfg.describe()}")
cols = st.columns(4)
if m:
    said = card.explain(ctx.info)
    cols[0].metric("Test ELBO (nats)", f"{m['elbo']:.1f}")
    cols[1].metric(f"log p(x) ≥ (IW, K={m.get('iw_samples')})", f"{m['iw_log_likelihood']:.1f}")
    cols[2].metric("KL (nats)", f"{m['kl']:.1f}")
    cols[3].metric("Active units", f"{m.get('active_units')}/{cfg.latent_dim}")
    for col, key in zip(cols, ("elbo", "iw", "kl", "active")):
        col.caption(said[key])
    if "iw_log_likelihood_bits_per_dim" in m:  # colour-image papers report bits per dimension
        st.caption(
            f"In bits per dimension: ELBO {m['elbo_bits_per_dim']:.3f}, log p(x) ≥ "
            f"{m['iw_log_likelihood_bits_per_dim']:.3f} (lower is better; {m['bits_per_dim_note']})."
        )
    st.caption(f"{said['gap']} **The numbers**: from the model card. {provenance.metrics_source(ctx.info.meta)}")
    if not cfg.kind.encoder_condition:  # ELBO surgery needs q(z|x) alone
        cut = resources.surgery(ctx.ref)
        words = card.surgery_sentences(cut)
        a, b = st.columns(2)
        a.metric(f"Mutual information I(x; z) on {ctx.label}", f"{cut['mutual_information']:.2f} nats")
        a.caption(words["mutual_information"])
        b.metric("Marginal KL(q(z) ‖ p(z))", f"{cut['marginal_kl']:.2f} nats")
        b.caption(words["marginal_kl"])
else:
    st.caption("This model has no stored test metrics.")

ds = ctx.dataset("test")
rng = np.random.default_rng(0)
idx = np.sort(rng.choice(len(ds), size=min(12, len(ds)), replace=False))
mu, _ = ctx.encoded("test")
recon = latent.decode(ctx.model, mu[idx])
left, right = st.columns([3, 2])
with left:
    st.markdown(f"**Pictures from {ctx.label} (top) and their reconstructions from the posterior mean (bottom)**")
    if ctx.source != ctx.info.dataset:  # the card's numbers and these pictures are different images
        st.caption(
            f"These come from {ctx.label}, picked in the sidebar; the numbers above were measured on "
            f"{ctx.info.dataset or 'the model’s own data'}'s test split."
        )
    if ctx.info.binarized:
        st.caption("Shown and encoded with their grey levels; the model was trained on binarized images.")
    grid = images.tile(np.concatenate([ds.images[idx], recon]), ncols=len(idx), pad=2)
    st.image(images.upscale(grid, 3), width="stretch")
with right:
    order, active, kl = resources.kl_order(ctx.ref)
    kl_title = "KL per latent dimension (test split)"
    st.plotly_chart(plots.kl_bars(kl, active).update_layout(height=260, title=kl_title), width="stretch")
if ctx.info.history:
    st.plotly_chart(
        plots.loss_curves(ctx.info.history).update_layout(height=300, title="Training curves"), width="stretch"
    )

with st.expander("Export this model", icon=":material/download:"):
    try:
        directions = json.dumps(saved_directions.list_directions(ctx.name, resources.models_dir()), sort_keys=True)
        _, code = resources.export_tensors(ctx.ref, directions)
    except store.StoreError as e:  # a conditional model: its networks take the condition too
        st.info(f"Not exportable yet: {e}")
    else:
        left, right = st.columns(2)
        left.download_button(
            "ONNX encoder + decoder (.zip)",
            key="export_onnx",
            file_name=f"{ctx.name}-onnx.zip",
            data=lambda: resources.export_onnx_zip(ctx.ref, directions),
            mime="application/zip",
            help="encoder.onnx: image -> mu, logvar; decoder.onnx: z -> image mean; any batch size (opset 17)",
        )
        right.download_button(
            "Plain tensors (.safetensors)",
            key="export_tensors",
            mime="application/octet-stream",
            file_name=f"{ctx.name}.safetensors",
            data=lambda: resources.export_tensors(ctx.ref, directions)[0],
        )
        st.caption("The tensors load into this PyTorch code (no need for this project):")
        st.code(code, language="python")
