"""Reconstruct: upload pictures or draw one; see how each is prepared, what the model makes of it,
where it lands in the latent space, its nearest training images, and how typical it is."""

import logging

import numpy as np
import streamlit as st

from ui import direction_picker, picture_inputs, resources, shell
from vae.data import images, pictures
from vae.inference import latent, scoring
from vae.plots import explore as plots

NEIGHBOURS = 8

ctx = shell.page(
    "Reconstruct",
    "Upload pictures or draw one. Each is prepared the way the model's training pictures were made "
    "(each step shown), encoded to q(z|x), decoded from its posterior mean, placed on the latent map "
    "with its 1σ and 2σ ellipses, and scored: a log-likelihood far below the test set's says 'not like "
    "the training data'.",
)

shape = tuple(ctx.info.config.image_shape)
inputs = picture_inputs.pictures_ui("rc", shape)
d, model = ctx.latent_dim, ctx.model
test_mu, _ = ctx.encoded("test")
test = ctx.dataset("test")
plane = None if d == 2 else resources.projection(ctx.ref, "test", "pca")
coords, axes = (test_mu, ("z1", "z2")) if plane is None else (plane.coords, plane.axis_names)


def score_all(inputs) -> list[tuple[str, scoring.Scored]]:
    """Each input scored; one that fails says why in a line (never a traceback) and the rest go on."""
    scored = []
    for name, read in inputs:
        try:
            scored.append((name, scoring.score(model, read(), shape)))
        except pictures.ImageError as e:
            st.error(f"**{name}**: {e}")
        except Exception:  # a model or data fault must not take the other inputs down
            logging.getLogger(__name__).exception("scoring %s", name)
            st.error(f"**{name}**: could not be processed as a picture. Try a PNG or JPEG of one drawing.")
    return scored


scored = score_all(inputs)
if not scored:
    st.info(
        "Upload a picture or draw one to see its reconstruction and where it lands on this map."
        if not inputs
        else "Nothing above could be read as a picture; the test set's map stays for reference."
    )
    # (drawn before any upload, the map also has the browser load the chart library while a file is picked)
    fig = plots.latent_map(
        coords,
        labels=test.labels,
        class_names=test.class_names,
        axis_names=axes,
        title=f"The test set's latent map ({'z1, z2' if plane is None else 'first two PCs'})",
        marker_size=3,
    )
    st.plotly_chart(fig.update_layout(height=440, dragmode="pan"), key="rc_map_empty", width="stretch")
    st.stop()

train_mu, _ = ctx.encoded("train")
train = ctx.dataset("train")
reference = resources.test_scores(ctx.ref, scoring.IW_SAMPLES)


def latent_map_ui(s: scoring.Scored, name: str, key: str) -> None:
    fig = plots.latent_map(
        coords,
        labels=test.labels,
        class_names=test.class_names,
        axis_names=axes,
        title="Where it lands (test set, faded, for reference)",
        marker_size=3,
    )
    centre, cov = scoring.on_plane(s.mu, s.sigma, plane)
    plots.add_input(fig, centre, cov, name)
    st.plotly_chart(fig.update_layout(height=440, dragmode="pan"), key=key, width="stretch")
    if plane is not None:
        st.caption(
            f"{d}-D latent shown on its first two principal components. The ellipses are exact: "
            "a linear projection of the Gaussian q(z|x) is the Gaussian N(P mu, P Σ Pᵀ)."
        )


def scores_ui(s: scoring.Scored, key: str) -> None:
    pct = scoring.percentile(reference["iw"], s.iw)
    a, b, c = st.columns(3)
    a.metric("ELBO (nats)", f"{s.elbo:.1f}", help="One-sample E_q[log p(x|z)] - KL, summed over pixels.")
    b.metric(
        f"log p(x) ≥ (IW, K={s.iw_samples})",
        f"{s.iw:.1f}",
        help="Importance-weighted bound (Burda et al. 2016); the test set is scored the same way.",
    )
    c.metric(
        "Test images scoring lower",
        f"{pct:.1f}%",
        help="The share of the test set the model finds less "
        "likely than this input. Low means 'unlike the training data'.",
    )
    words = scoring.verdict(pct, f"test images of {ctx.label}")
    (st.warning if pct < scoring.UNUSUAL_PERCENTILE else st.success)(
        f"Under the model, this input is **{words}**. This is how likely the model finds the picture, not "
        "how well it reconstructs it: a simple shape can score high and still come back changed."
    )
    st.markdown(scoring.error_words(s.error, reference["error"]))
    fig = plots.histogram_with_marker(reference["iw"], s.iw, f"log p(x) of the test set (IW, K={s.iw_samples})")
    st.plotly_chart(fig.update_layout(height=280), key=key, width="stretch")


def input_ui(n: int, name: str, s: scoring.Scored, picked) -> None:
    with st.container(border=True):
        st.subheader(name)
        steps = st.columns(len(s.prepared.steps))
        for col, (title, picture) in zip(steps, s.prepared.steps):
            col.image(scoring.thumbnail(picture), caption=title, width="stretch")
        pair, where = st.columns([2, 3])
        pair.image(
            images.to_png(
                images.tile(np.stack([s.prepared.array, s.reconstruction]), ncols=2, pad=1),
                scale=max(1, 320 // (2 * shape[2])),
            ),
            caption="model input (left) and its reconstruction, decode(mu) (right)",
            width="stretch",
        )
        with where:
            latent_map_ui(s, name, key=f"rc_map_{n}")
        idx, dist = latent.nearest_neighbours(train_mu, s.mu, NEIGHBOURS)
        st.markdown(f"**Nearest training images in latent space** ({ctx.label}, train split)")
        st.caption("The closest training codes: what the model thinks it is near (not always what it looks like).")
        st.image(
            [images.to_png(train.images[j], scale=3) for j in idx[0]],
            width=84,
            caption=[f"{train.label_name(j) or f'#{j}'} · {r:.2f}" for j, r in zip(idx[0], dist[0])],
        )
        scores_ui(s, key=f"rc_hist_{n}")
        if picked is not None:
            direction_picker.edit_strip_ui(ctx, picked, s.mu, name, key=f"rc_strip_{n}")


picked = direction_picker.direction_ui(ctx, "rc_dir") if ctx.info.config.kind.plain_networks else None
for n, (name, s) in enumerate(scored):
    input_ui(n, name, s, picked)
