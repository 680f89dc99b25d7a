"""True posterior: for one image, the posterior p(z|x) the ELBO approximates, next to the encoder's
q(z|x), the best Gaussian q*, the exact log p(x) and the gaps between them (Cremer et al. 2018)."""

import numpy as np
import streamlit as st
import torch

from ui import picture_inputs, resources, shell
from vae.data import images
from vae.data import pictures as picture_prep
from vae.models import objectives
from vae.plots import posterior as plots

ctx = shell.page(
    "True posterior",
    "log p(x) = ELBO(q) + KL(q(z|x) || p(z|x)). With a 2-D latent nothing has to be approximated: "
    "p(z|x) ∝ p(x|z) p(z) is evaluated on the latent plane and log p(x) integrated numerically, so "
    "the ELBO's shortfall splits into the encoder's (amortization gap) and the Gaussian's "
    "(approximation gap).",
)

shape, d = tuple(ctx.info.config.image_shape), ctx.latent_dim
if getattr(ctx.info.config, "conditional", "none") != "none":
    st.info("This page integrates p(x|z) p(z) of an unconditional VAE; pick one in the sidebar.")
    st.stop()
test = ctx.dataset("test")
source = st.radio("Image", ["A test image", "An upload or a drawing"], horizontal=True, key="tp_source")
if source == "A test image":
    idx = int(st.number_input(f"Test image (0 to {len(test) - 1})", 0, len(test) - 1, 0, key="tp_index"))
    name, picture = f"test image #{idx}", test.images[idx]
else:
    # Several pictures may be uploaded (a single-file uploader reruns twice when its file is
    # replaced, the page emptied in between); the newest one is shown, the others a click away.
    pictures = picture_inputs.pictures_ui("tp", shape)
    if not pictures:
        st.info("Upload a picture or draw one to see its posterior.")
        st.stop()
    names = picture_inputs.unique_names([n for n, _ in pictures])
    new = [n for n in names if n not in st.session_state.get("tp_seen", ())]
    st.session_state["tp_seen"] = names
    if new or st.session_state.get("tp_pick") not in names:
        st.session_state["tp_pick"] = (new or names)[-1]
    name = names[0] if len(names) == 1 else st.radio("Show", names, horizontal=True, key="tp_pick")
    read = pictures[names.index(name)][1]
    try:
        picture = picture_prep.prepare(read(), shape).array
    except picture_prep.ImageError as e:
        st.error(f"**{name}**: {e}")
        st.stop()

binarized = ctx.info.binarized
if binarized and st.toggle(
    "Binarize the picture (the model was trained and scored on binary pixels)", value=True, key="tp_binarize"
):
    picture = objectives.binarized_test(torch.from_numpy(np.asarray(picture, np.float32))).numpy()

dims = (0, 1)
if d > 2:
    order, _, _ = resources.kl_order(ctx.ref)
    a, b = st.columns(2)
    options = [int(i) for i in order]
    i = a.selectbox("Slice: first dimension", options, index=0, format_func=lambda k: f"z{k + 1}", key="tp_dim1")
    j = b.selectbox(
        "Slice: second dimension",
        [k for k in options if k != i],
        index=0,
        format_func=lambda k: f"z{k + 1}",
        key="tp_dim2",
    )
    dims = (i, j)

try:
    view = resources.posterior_view(ctx.ref, np.asarray(picture, np.float32), dims)
except Exception as e:  # a model fault must not show a traceback
    st.error(f"The posterior of **{name}** could not be computed ({type(e).__name__}: {e})")
    st.stop()

if d > 2:
    st.info(
        f"This model has a {d}-D latent: the plane is a **2-D slice** through q's mean along z{dims[0] + 1} "
        f"and z{dims[1] + 1} (the other dimensions held at their q-mean values), and log p(x) is a "
        f"**large-K importance-weighted estimate** (K={view.iw_ks[-1]}), not an exact value."
    )
elif not view.converged:
    st.warning(f"log p(x) did not converge to 0.01 nats: {view.note}.")

left, right = st.columns([1, 4])
left.image(images.to_png(np.asarray(picture), scale=4), caption=name, width="stretch")
top, bottom = right.columns(3), right.columns(3)
top[0].metric(
    f"log p(x) ({'exact' if view.exact else 'IW estimate'})", f"{view.log_px:.2f}", help=f"nats, {view.log_px_label}"
)
top[1].metric(
    "ELBO(q)",
    f"{view.elbo_q:.2f}",
    help=f"reconstruction E_q[log p(x|z)] {view.reconstruction:.2f} − KL(q||p(z)) {view.kl_prior:.2f}",
)
top[2].metric("ELBO(q*)", f"{view.elbo_qstar:.2f}", help="the best diagonal Gaussian for this image")
bottom[0].metric("KL(q || p(z|x))", f"{view.kl_posterior:.3f}", help="log p(x) − ELBO(q)")
bottom[1].metric("Amortization gap", f"{view.amortization_gap:.3f}", help="ELBO(q*) − ELBO(q): the encoder's shortfall")
bottom[2].metric(
    "Approximation gap",
    f"{view.approximation_gap:.3f}",
    help="log p(x) − ELBO(q*): what no diagonal Gaussian can reach",
)
right.caption(
    f"ELBO(q) = reconstruction {view.reconstruction:.2f} − KL(q||p(z)) {view.kl_prior:.2f} nats. "
    + (
        f"KL(q||p(z|x)) two ways: log p(x) − ELBO(q) = {view.kl_posterior:.3f}, ∫ q log(q/p(z|x)) dz "
        f"on a grid = {view.kl_grid:.3f}."
        if view.kl_grid is not None
        else ""
    )
)

plane, side = st.columns([3, 2])
whole = plane.toggle("Show the whole prior (−4 to 4)", key="tp_whole")
plane.plotly_chart(plots.posterior_plane(view, whole_prior=whole), key="tp_plane", width="stretch")
plane.caption(
    "Heat map: p(z|x) (scaled to its peak). Blue: the encoder's q(z|x), red: q*, both at 1σ (solid) "
    "and 2σ (dashed). Green: z = μ + σ·ε for the ε drawn in the inset (top right, on N(0, I))."
)
side.plotly_chart(plots.gap_bar(view), key="tp_gaps", width="stretch")
side.plotly_chart(plots.kl_monte_carlo(view), key="tp_kl", width="stretch")
side.plotly_chart(plots.iw_curve(view), key="tp_iw", width="stretch")
side.caption(
    "Each IW(K) here is one random estimate. Its average over draws is a lower bound on log p(x) "
    "(Burda et al. 2016), but a single draw can land above it, more often as K grows and the "
    "estimate tightens."
)
