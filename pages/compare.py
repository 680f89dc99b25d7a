"""Compare: two to four stored models side by side on the same test images."""

import streamlit as st

from ui import resources, shell
from vae.inference import comparison
from vae.plots import compare as plots_compare
from vae.plots import explore as plots

ctx = shell.page(
    "Compare",
    "Two to four models side by side on the same test images: their scores, training curves, latent "
    "maps, manifolds and reconstructions. Higher ELBO and log-likelihood (nats per image) are better.",
    needs_model=False,
)
directory = resources.models_dir()
models = {m.name: m for m in resources.model_list(directory) if not m.error}
if len(models) < comparison.MIN_MODELS:
    st.info("Compare needs at least two models in the store: train another one on the Train page.")
    st.stop()
first = ctx.name if ctx else next(iter(models))
shape = models[first].config.image_shape
default = [first] + (
    [n for n in models if n != first and models[n].config.image_shape == shape] or [n for n in models if n != first]
)[:1]
wanted = [n for n in st.query_params.get("models", "").split(",") if n in models]  # a shared link
default = wanted[: comparison.MAX_MODELS] if len(wanted) >= comparison.MIN_MODELS else default
chosen = st.multiselect(
    "Models",
    list(models),
    default=default,
    max_selections=comparison.MAX_MODELS,
    key="cmp_models",
    help="Two to four models from the store.",
)
if len(chosen) < comparison.MIN_MODELS:
    st.info("Pick at least two models to compare.")
    st.stop()
st.query_params["models"] = ",".join(chosen)
infos = [models[n] for n in chosen]
problem = comparison.incompatibility(infos)
if problem:
    st.warning(problem)
    st.dataframe(
        [comparison.score_row(i.name, i.config, i.metrics, f"stored ({i.dataset})") for i in infos],
        hide_index=True,
        key="cmp_stored",
    )
    st.stop()

sources = comparison.test_sources(infos)
if not sources:
    st.error("No available dataset has images of the shape these models take.")
    st.stop()
label = st.selectbox(
    "Test images from",
    list(sources),
    key="cmp_source",
    help="Every model is scored and shown on this dataset's test split.",
)
source = sources[label]
test = resources.dataset(source, "test")
refs = {i.name: resources.ModelRef.of(i, directory, source) for i in infos}

st.subheader("Scores on the same test images")
rows = []
for info in infos:
    stored = comparison.stored_scores(info, source)
    binarize = info.binarized
    try:
        metrics = stored or resources.compare_scores(refs[info.name], binarize)
    except Exception as e:  # a model that cannot read these images is reported, not a traceback
        st.error(f"Could not score '{info.name}' on {label}: {e}")
        st.stop()
    origin = "stored at training" if stored else "measured here"
    rows.append(comparison.score_row(info.name, info.config, metrics, origin))
st.dataframe(rows, hide_index=True, key="cmp_scores")
for caveat in comparison.caveats(rows):
    st.warning(caveat)
st.plotly_chart(plots_compare.score_bars(rows), width="stretch", key="cmp_bars")

st.subheader("Training curves")
histories = {i.name: i.history for i in infos}
st.plotly_chart(plots_compare.training_curves(histories), width="stretch", key="cmp_curves")
st.caption(
    "Validation solid, training dotted; each panel's axis is shared by every model. Models trained "
    "on other data than the test images above have curves from their own data."
)

st.subheader("Latent maps")
maps = {i.name: comparison.map_coords(resources.encoded(refs[i.name], "test")[0]) for i in infos}
cols = st.columns(len(infos))
for k, (info, col) in enumerate(zip(infos, cols)):
    coords, axis_names, note = maps[info.name]
    fig = plots.latent_map(
        coords,
        labels=test.labels,
        class_names=test.class_names,
        axis_names=axis_names,
        title=info.name,
        marker_size=3,
        webgl=False,
    )
    if info.config.kind.class_prior and info.config.latent_dim == 2:
        model = resources.model(refs[info.name])
        plots_compare.add_prior_means(fig, model.prior_means.detach().numpy(), test.class_names)
    fig.update_layout(height=380, showlegend=k == len(infos) - 1, margin=dict(l=40, r=10, t=40, b=40))
    col.plotly_chart(fig, width="stretch", key=f"cmp_map_{k}")
    col.caption(note)

st.subheader("Manifolds")
n = st.slider("Grid size N", 6, 20, 12, key="cmp_n", help="N x N decodes at Gaussian percentiles.")
kinds = {i.name: i.config.kind for i in infos}
given_class = given_item = None
if any(k.by_class for k in kinds.values()):
    names = test.class_names or [str(c) for c in range(10)]
    given_class = st.selectbox(
        "Class y for conditional models",
        range(len(names)),
        format_func=lambda c: names[c],
        key="cmp_class",
        help="A label or class-prior model decodes its grid under it.",
    )
if any(k.by_part for k in kinds.values()):
    given_item = st.number_input(
        "Test image whose visible part completion models are given", 0, len(test.images) - 1, 0, key="cmp_item"
    )
cols = st.columns(len(infos))
for k, (info, col) in enumerate(zip(infos, cols)):
    d, kind = info.config.latent_dim, kinds[info.name]
    condition = given_class if kind.by_class else given_item if kind.by_part else None
    images = resources.compare_manifold(refs[info.name], n, condition)
    fig = plots.image(images, title=info.name)
    fig.update_layout(width=None, height=760 // len(infos) + 60, margin=dict(l=10, r=10, t=40, b=10))
    col.plotly_chart(fig, width="stretch", key=f"cmp_manifold_{k}")
    col.caption(comparison.manifold_note(d, kind, condition))

st.subheader("Reconstructions of the same test images")
count = st.slider("Images", 4, 16, 10, key="cmp_count")
if st.button("Other images", key="cmp_reshuffle"):
    st.session_state["cmp_seed"] = st.session_state.get("cmp_seed", 0) + 1
ids = comparison.sample_ids(len(test.images), count, st.session_state.get("cmp_seed", 0))
recons = {i.name: resources.compare_reconstructions(refs[i.name], tuple(int(j) for j in ids)) for i in infos}
st.plotly_chart(plots_compare.reconstructions(test.images[ids], recons, ids), width="content", key="cmp_recons")
st.caption("Each model decodes the mean of q(z|x) for the image at the top of its column.")
