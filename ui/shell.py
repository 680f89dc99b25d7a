"""The frame every page is drawn in: page config, navigation links and the shared sidebar (model
picker, dataset, model card).

Pages are discovered from pages/ (Streamlit's multipage folder), so any page URL works on its own,
a shared /playground?z=... link included; each page starts with `ctx = shell.page("Title")`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st
import torch

from ui import resources
from vae.data import datasets as data
from vae.data import provenance
from vae.store import catalog as store

NAV = [  # (script, label, icon): Material icons ship with Streamlit, emoji need a system font
    ("app.py", "Overview", ":material/home:"),
    ("pages/train.py", "Train", ":material/model_training:"),
    ("pages/import_model.py", "Import", ":material/upload_file:"),
    ("pages/latent_map.py", "Latent map", ":material/scatter_plot:"),
    ("pages/manifold.py", "Manifold", ":material/grid_view:"),
    ("pages/playground.py", "Playground", ":material/tune:"),
    ("pages/reconstruct.py", "Reconstruct", ":material/image_search:"),
    ("pages/interpolate.py", "Interpolate", ":material/timeline:"),
    ("pages/posterior.py", "True posterior", ":material/blur_on:"),
    ("pages/compare.py", "Compare", ":material/compare:"),
]
ICON = str(Path(__file__).parents[1] / "assets" / "icon.png")  # a local file: a Material page_icon is
# fetched from Google's font CDN by the browser, which fails offline
MODEL_KEY = "model_name"  # the chosen model; a plain key, so it survives page changes


def _dataset_choices(info: store.ModelInfo) -> dict[str, str]:
    """label -> source for available datasets whose images fit the model, the model's own first
    (for a named one, its test split is held out); a dataset the model was trained on says so."""
    shape = info.config.image_shape
    own = info.data
    choices = {}
    if own.get("path"):
        choices[f"{own.get('name', 'upload')} (its training data)"] = own["path"]
    elif own.get("name") in data.DATASETS and data.is_available(own["name"]):
        choices[own["name"]] = own["name"]
    for name in data.DATASETS:
        if name not in choices.values() and data.is_available(name) and shape == data.shape_of(name):
            seen = provenance.seen_in_training(own.get("name"), name, "test") == "all"
            choices[f"{name} (seen in training)" if seen else name] = name
    return choices


def _provenance_note(current: resources.Current) -> None:
    """Say so when the images a page shows were in the model's training data."""
    own = current.info.dataset
    words = provenance.note(own, current.source, "test", own in data.DATASETS and data.is_available(own))
    if words:
        st.caption(f":material/visibility: {words}")


def _keep(src: str, dst: str) -> None:
    st.session_state[dst] = st.session_state[src]


def _choose(key: str, options: list[str], default: str) -> str:
    """The choice a picker shows, kept in a plain session key so every page shows the same one
    (widget state itself is dropped when the page changes)."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = default
    return st.session_state[key]


def _picker(key: str, label: str, options: list[str], **kwargs) -> None:
    """The selectbox of a choice made by _choose (its own key mirrors the plain one)."""
    st.session_state[f"_{key}"] = st.session_state[key]
    st.sidebar.selectbox(label, options, key=f"_{key}", on_change=_keep, args=(f"_{key}", key), **kwargs)


_RECIPE_DATA = {"mnist": "full MNIST (60,000 digits)", "mnist-5k": "mnist-5k (4,000 digits, not full MNIST)"}


def _model_card(info: store.ModelInfo) -> None:
    with st.sidebar.expander("Model card", expanded=False):
        m = info.metrics
        st.caption(info.config.describe())
        if m:
            bound = info.config.kind.bound
            st.write(
                f"Test ELBO **{m['elbo']:.1f}** nats · {bound} ≥ **{m['iw_log_likelihood']:.1f}** "
                f"(IW, K={m.get('iw_samples')}) · KL {m['kl']:.1f} · active units "
                f"{m.get('active_units')}/{info.config.latent_dim}"
            )
            if "iw_log_likelihood_bits_per_dim" in m:
                st.caption(f"= {m['iw_log_likelihood_bits_per_dim']:.3f} bits/dim ({m['bits_per_dim_note']})")
            if "regressor_log_likelihood" in m:
                st.caption(f"Regressor baseline (no z): {bound} = {m['regressor_log_likelihood']:.1f}")
            st.caption(provenance.metrics_source(info.meta))
        if info.source.get("kind") == "imported":
            src = info.source
            files = src.get("files") or {src.get("file"): src.get("sha256")}
            named = ", ".join(f"{f} (SHA-256 {str(h)[:16]}…)" for f, h in files.items())
            ops = f"; operators {', '.join(src['operators'])}" if src.get("operators") else ""
            st.caption(
                f"**Imported, not trained here**: {named}, layout {src.get('layout')}{ops}; its metrics "
                f"were measured here on {src.get('measured_on') or info.dataset}. "
                f"Created {info.created}"
            )
            return
        recipe = info.recipe
        data_name = _RECIPE_DATA.get(info.dataset, info.dataset) if recipe else info.dataset
        st.caption(
            (f"Recipe **{recipe}**; " if recipe else "") + f"trained on {data_name or 'unknown data'}; "
            f"created {info.created}"
        )


@dataclass
class Selection:
    """What the sidebar shows and the pages use: the store's models, the chosen one and its datasets."""

    models: list
    usable: dict
    name: str
    choices: dict  # dataset label -> source, the model's own first
    current: resources.Current | None  # None when no dataset fits the model


def select() -> Selection:
    """The model and dataset this session shows (from the pickers' keys, a page's request or the
    URL), without drawing anything but a toast for a link's unknown model."""
    directory = resources.models_dir()
    resources.training_jobs()  # a server's first page: what a stopped server left is saved first
    models = resources.model_list(directory)
    usable = {m.name: m for m in models if not m.error}
    pending = st.session_state.pop("pending_model", None)  # a page asked for this one (Train)
    if pending in usable:
        st.session_state[MODEL_KEY] = pending
    elif MODEL_KEY not in st.session_state:  # a new session: a shared link may name the model
        wanted = st.query_params.get("model")
        if wanted and wanted not in usable:  # maybe saved in the last seconds: read the store again
            resources.model_list.clear()
            models = resources.model_list(directory)
            usable = {m.name: m for m in models if not m.error}
        if wanted in usable:
            st.session_state[MODEL_KEY] = wanted
        elif wanted:
            st.toast(
                f"This link's model '{wanted}' is not in the store here; showing the default model.",
                icon=":material/warning:",
            )
    name = _choose(MODEL_KEY, list(usable), store.DEFAULT_MODEL)
    if name == store.DEFAULT_MODEL:  # the URL names the model, so a shared link opens the same view
        st.query_params.pop("model", None)
    else:
        st.query_params["model"] = name
    info = usable[name]
    choices = _dataset_choices(info)
    current = None
    if choices:
        label = _choose(f"dataset_for_{name}", list(choices), next(iter(choices)))
        current = resources.Current(resources.ModelRef.of(info, directory, choices[label]), info, label)
    return Selection(models, usable, name, choices, current)


def draw_sidebar(sel: Selection) -> None:
    """The navigation, the model and dataset pickers, the model card and the store's warnings."""
    for script, label, icon in NAV:
        st.sidebar.page_link(script, label=label, icon=icon)
    st.sidebar.divider()
    _picker(MODEL_KEY, "Model", list(sel.usable), help="Models in the store; train new ones on the Train page.")
    info = sel.usable[sel.name]
    if not sel.choices:
        st.sidebar.error(f"No available dataset has images of shape {info.config.image_shape}.")
    else:
        _picker(
            f"dataset_for_{sel.name}",
            "Dataset",
            list(sel.choices),
            help="Images of the same size as the model's input.",
        )
    _model_card(info)
    for m in sel.models:
        if m.error:
            st.sidebar.warning(f"Model '{m.name}' cannot be opened: {m.error}")


_LATER = "_shell_sidebar_later"  # session key: the selection whose sidebar a page draws last
_RAN, _FIRST = "_shell_ran", "_shell_first_run"  # session keys: a page ran / this run is the first


def page(
    title: str,
    intro: str,
    *,
    heading: str | None = None,
    needs_model: bool = True,
    any_kind: bool = False,
    sidebar_last: bool = False,
) -> resources.Current | None:
    """Start a page: browser title and icon, the sidebar, the heading and its one-line explanation.
    Returns the sidebar's selection; a page that needs one stops with a note when there is none, or
    when the model's networks take a condition (vae/models/kinds.py) and the page is not `any_kind`.

    sidebar_last: the sidebar is drawn by `finish()`, which the page calls after its first elements
    (in a `finally`, so a stop or an error still draws it). The browser builds a page's elements in
    the order they arrive; the Playground's live pad goes first and is ready ~0.4 s sooner
    (docs/benchmarks.md). Where it is drawn on the screen does not change."""
    st.set_page_config(page_title=f"{title} · VAE Latent Explorer", page_icon=ICON, layout="wide")
    # One torch thread per process: the server shares its cores between sessions and training
    # threads, and two threads each oversubscribe them (an epoch ran ~10x slower in the page).
    torch.set_num_threads(1)
    st.session_state[_FIRST] = _RAN not in st.session_state  # the session's first script run
    st.session_state[_RAN] = True
    sel = select()
    if sidebar_last:
        st.session_state[_LATER] = sel
    else:
        draw_sidebar(sel)
    current = sel.current
    st.title(heading or title)
    st.write(intro)
    if current is not None and needs_model:  # Train and Compare do not show the picked model's view
        _provenance_note(current)
    if needs_model and current is None:
        st.info("Pick a model with a compatible dataset in the sidebar.")
        _stop()
    if needs_model:
        try:
            current.model  # noqa: B018  (loaded here, so a broken file is a message, not a traceback)
        except store.StoreError as e:
            st.error(f"Model '{current.name}' cannot be opened: {e}")
            _stop()
    if needs_model and not any_kind and not current.info.config.kind.plain_networks:
        st.info(
            f"**{current.name}** is a {current.info.config.kind.title}: its encoder and decoder need the "
            "condition, which this page does not give. Explore it in the Playground, or pick another "
            "model in the sidebar."
        )
        _stop()
    return current


def first_run() -> bool:
    """Whether this is the session's first script run (a new browser tab, a reload, a shared link):
    the browser then has none of Streamlit's element scripts loaded yet."""
    return bool(st.session_state.get(_FIRST))


def rest_soon(key: str, seconds: float) -> None:
    """A first run's timer for a page that draws one element first and the rest when it reports
    (the Playground's pad): if session key `key` is still set after a tick, the whole page anyway."""
    st.fragment(run_every=seconds)(_tick)(key)


def _tick(key: str) -> None:
    state = st.session_state.get(key)
    if state == "armed":
        del st.session_state[key]
        st.rerun(scope="app")
    elif state is not None:
        st.session_state[key] = "armed"


def sidebar_placeholder() -> None:
    """A line in the sidebar while a page holds the real one back (a first run's Playground): the
    sidebar takes its width at once, so the page does not shift when the pickers arrive."""
    st.sidebar.caption("VAE Latent Explorer: loading the pages and the model picker…")


def finish() -> None:
    """Draw the sidebar of a page started with sidebar_last=True (once; nothing otherwise)."""
    sel = st.session_state.pop(_LATER, None)
    if sel is not None:
        draw_sidebar(sel)


def _stop():
    finish()
    st.stop()


def file_error(what: str, e: Exception) -> None:
    """A user's file that broke the code reading it (not one of the project's own refusals): one
    clear error on the page, the traceback in the server's log, nothing saved."""
    import logging

    logging.getLogger("vae.ui").error("reading %s", what, exc_info=e)
    st.error(
        f"**{what}** could not be read: something inside it is not what such a file holds, and the reader "
        f"stopped ({type(e).__name__}). Nothing was saved; the details are in the server's log."
    )
