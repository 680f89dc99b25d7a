"""VAE Latent Explorer: the entry point (`streamlit run app.py`).

Sets up the page, draws the shared sidebar (model picker, dataset, model card) and runs the page
the person chose. Each page is a thin script in pages/.
"""
from __future__ import annotations

import streamlit as st

import resources
from vae import data, store

st.set_page_config(page_title="VAE Latent Explorer", page_icon="🧭", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Overview", icon="🏠", default=True),
    st.Page("pages/train.py", title="Train", icon="🏋️"),
    st.Page("pages/latent_map.py", title="Latent map", icon="🗺️"),
    st.Page("pages/manifold.py", title="Manifold", icon="🧩"),
    st.Page("pages/playground.py", title="Playground", icon="🎛️"),
    st.Page("pages/reconstruct.py", title="Reconstruct", icon="🔁"),
    st.Page("pages/interpolate.py", title="Interpolate", icon="〰️"),
]


def _dataset_choices(info: store.ModelInfo) -> dict[str, str]:
    """label -> source for datasets whose images fit the model, the model's own first."""
    shape = info.config.image_shape
    own = (info.meta.get("dataset") or {})
    choices = {}
    if own.get("path"):
        choices[f"{own.get('name', 'upload')} (its training data)"] = own["path"]
    elif own.get("name") in data.DATASETS:
        choices[own["name"]] = own["name"]
    for name in data.DATASETS:
        if name not in choices.values() and data.is_available(name) and shape == data.shape_of(name):
            choices[name] = name
    return choices


def sidebar() -> None:
    directory = resources.models_dir()
    models = resources.model_list(directory)
    usable = [m for m in models if not m.error]
    broken = [m for m in models if m.error]
    names = [m.name for m in usable]
    # a page may ask for a model to be selected (the Train page after saving): set before the widget
    wanted = st.session_state.pop("pending_model", None) or st.session_state.get("model_name")
    st.session_state["model_name"] = wanted if wanted in names else store.DEFAULT_MODEL
    st.sidebar.selectbox("Model", names, key="model_name",
                         help="Models in the store; train new ones on the Train page.")
    info = next(m for m in usable if m.name == st.session_state["model_name"])
    choices = _dataset_choices(info)
    if not choices:
        st.session_state["current"] = None
        st.sidebar.error(f"No available dataset has images of shape {info.config.image_shape}.")
    else:
        label = st.sidebar.selectbox("Dataset", list(choices), key=f"dataset_for_{info.name}",
                                     help="Images of the same size as the model's input.")
        st.session_state["current"] = resources.Current(info.name, info.version, directory, info,
                                                        choices[label], label)
    with st.sidebar.expander("Model card", expanded=False):
        m = info.metrics
        st.caption(info.config.describe())
        if m:
            st.write(f"Test ELBO **{m['elbo']:.1f}** nats · log p(x) ≥ **{m['iw_log_likelihood']:.1f}** "
                     f"(IW, K={m.get('iw_samples')}) · KL {m['kl']:.1f} · active units "
                     f"{m.get('active_units')}/{info.config.latent_dim}")
        st.caption(f"Trained on {info.dataset or 'unknown data'}; created {info.meta.get('created', '?')}")
    for m in broken:
        st.sidebar.warning(f"Model '{m.name}' cannot be opened: {m.error}")


sidebar()
st.navigation(PAGES).run()
