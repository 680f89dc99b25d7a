"""The Train page's form: a reference system's recipe or your own settings, the data (a named dataset
or an upload), and `start`, which turns the form's values into a running training job.

Functions ending in _ui draw widgets and return plain values; `start` reads those values only.
"""

import streamlit as st

from ui import resources
from vae import limits
from vae.data import datasets as data
from vae.models import kinds
from vae.models.conditional import with_classes
from vae.models.config import CONDITIONALS, LIKELIHOODS, OPTIMIZERS, TRAIN_ARCHS, VISIBLE_PARTS, TrainConfig
from vae.training import intake, jobs, recipes

UPLOAD = "Upload a file…"
LRS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
OWN = "your own settings"


def _named() -> list[str]:
    return [n for n in data.DATASETS if data.is_available(n)]


def _apply_recipe() -> None:
    """Fill the form with the chosen recipe's settings (they stay editable)."""
    name = st.session_state["tr_recipe"]
    if name == OWN:
        return
    m, t = recipes.settings(name)
    own, named = recipes.get(name).dataset, _named()
    st.session_state.update(
        tr_source=own if own in named else "mnist" if "mnist" in named else "mnist-5k",
        tr_arch=m.get("arch", "mlp"),
        tr_hidden=", ".join(map(str, m.get("hidden", (512,)))),
        tr_channels=", ".join(map(str, m.get("conv_channels", (32, 64)))),
        tr_dense=m.get("conv_dense", 16),
        tr_latent=m["latent_dim"],
        tr_likelihood=m["likelihood"],
        tr_kind=m.get("conditional", "none"),
        tr_visible=m.get("visible") or VISIBLE_PARTS[0],
        tr_bincond=m.get("binarize_condition", False),
        tr_epochs=t["epochs"],
        tr_batch=t["batch_size"],
        tr_lr=t["lr"],
        tr_optimizer=t["optimizer"],
        tr_wd=t.get("weight_decay", 0.0),
        tr_beta=1.0,
        tr_binarize=False,
    )


def recipe_ui() -> str:
    name = st.selectbox(
        "Recipe",
        [OWN, *recipes.RECIPES],
        key="tr_recipe",
        on_change=_apply_recipe,
        help="Start from a reference system's settings; change any of them below.",
    )
    if name != OWN:
        r = recipes.get(name)
        where = f"Trains on {r.dataset}" if r.dataset else "Trains on full MNIST when fetched, else mnist-5k"
        st.caption(f"{r.title}. Source: {r.source}. {where}.")
        with st.expander("What differs from the original"):
            st.write(r.differs)
    return name


def settings_ui() -> dict:
    """The form's widgets -> their values (plain dict)."""
    s = {"upload": None, "recipe": recipe_ui()}
    named = _named()
    missing = [n for n in data.DATASETS if n not in named]
    left, mid, right = st.columns(3)
    s["source"] = left.selectbox("Dataset", named + [UPLOAD], key="tr_source")
    if s["source"] != UPLOAD:
        left.caption(data.DATASETS[s["source"]])
    if missing:
        left.caption(
            "Not downloaded: " + ", ".join(missing) + ". Fetch one with `python -m vae data fetch NAME`, then reload."
        )
    if s["source"] == UPLOAD:
        s["upload"] = left.file_uploader(
            "A .zip of images (a subfolder per class), .npz or .npy",
            type=list(intake.UPLOAD_TYPES),
            key="tr_upload",
            max_upload_size=limits.UPLOAD_MB,
        )
    s["arch"] = mid.radio("Architecture", TRAIN_ARCHS, horizontal=True, key="tr_arch")
    s["hidden"] = mid.text_input(
        "MLP hidden sizes",
        "512",
        key="tr_hidden",
        disabled=s["arch"] != "mlp",
        help="Encoder layers, e.g. 512, 256; the decoder mirrors them.",
    )
    s["conv_channels"] = mid.text_input(
        "Conv channels",
        "32, 64",
        key="tr_channels",
        disabled=s["arch"] != "conv",
        help="Stride-2 3x3 convolutions, e.g. 32, 64, 128; the decoder mirrors them.",
    )
    s["conv_dense"] = mid.number_input("Conv dense layer", 1, 4096, 16, key="tr_dense", disabled=s["arch"] != "conv")
    s["latent_dim"] = mid.number_input(
        "Latent size", 1, 64, 2, key="tr_latent", help="2 shows the latent map live while training."
    )
    s["likelihood"] = mid.radio("Likelihood p(x|z)", LIKELIHOODS, horizontal=True, key="tr_likelihood")
    s["conditional"] = mid.selectbox(
        "Model kind", CONDITIONALS, key="tr_kind", format_func=lambda k: kinds.of(k).choice
    )
    if kinds.of(s["conditional"]).by_part:
        s["visible"] = mid.selectbox("Visible part (the condition)", VISIBLE_PARTS, key="tr_visible")
        s["binarize_condition"] = mid.checkbox("Bernoulli-sample the visible part", key="tr_bincond")
    s["beta"] = mid.number_input("β (KL weight; 1 = the true ELBO)", 0.0, 100.0, 1.0, 0.1, key="tr_beta")
    s["epochs"] = right.number_input("Epochs", 1, limits.EPOCHS, min(10, limits.EPOCHS), key="tr_epochs")
    s["batch_size"] = right.number_input("Batch size", 1, 4096, 128, key="tr_batch")
    s["lr"] = right.select_slider("Learning rate", LRS, value=1e-3, key="tr_lr", format_func="{:g}".format)
    s["optimizer"] = right.radio("Optimizer", OPTIMIZERS, horizontal=True, key="tr_optimizer")
    s["weight_decay"] = right.number_input("Weight decay", 0.0, 1.0, 0.0, 1e-4, key="tr_wd", format="%g")
    s["seed"] = right.number_input("Seed", 0, 2**31 - 1, 0, key="tr_seed")
    s["binarize"] = right.checkbox(
        "Dynamic binarization", key="tr_binarize", help="Resample 0/1 pixels each epoch (Bernoulli, p = intensity)."
    )
    example = intake.auto_name(s["source"] if s["source"] != UPLOAD else "upload", s["latent_dim"])
    s["name"] = st.text_input("Model name", key="tr_name", placeholder=f"leave empty for e.g. {example}")
    return s


def start(s: dict, registry: dict) -> jobs.Job:
    """Load and split the data, build the configs and start the job in `registry` (raises
    ValueError/OSError)."""
    if s["source"] == UPLOAD:
        if s["upload"] is None:
            raise ValueError("choose a file to upload first")
        path, train, test = intake.save_upload(s["upload"].getvalue(), s["upload"].name)
        label, source = s["upload"].name, str(path)
    else:
        label = source = s["source"]
        train, test = resources.dataset(source, "train"), resources.dataset(source, "test")
    td = intake.split_data(train, test, seed=s["seed"], name=label, path=source if s["source"] == UPLOAD else None)
    hidden = intake.parse_hidden(s["hidden"]) if s["arch"] == "mlp" else (512,)
    kind = {k: s[k] for k in ("conditional", "visible", "binarize_condition") if k in s}
    convs = (
        {}
        if s["arch"] != "conv"
        else {"conv_channels": intake.parse_hidden(s["conv_channels"]), "conv_dense": int(s["conv_dense"])}
    )
    mc = intake.model_config(
        train.shape,
        arch=s["arch"],
        hidden=hidden,
        latent_dim=int(s["latent_dim"]),
        **convs,
        likelihood=s["likelihood"],
        **with_classes(kind, train.labels, train.class_names),
    )
    tc = TrainConfig(
        epochs=int(s["epochs"]),
        batch_size=int(s["batch_size"]),
        lr=s["lr"],
        beta=s["beta"],
        seed=int(s["seed"]),
        binarize=s["binarize"],
        optimizer=s["optimizer"],
        weight_decay=s["weight_decay"],
        extra={} if s["recipe"] == OWN else {"recipe": s["recipe"]},
        warmup_epochs=recipes.get(s["recipe"]).train.get("warmup_epochs", 0) if s["recipe"] != OWN else 0,
    )
    if tc.epochs > limits.EPOCHS:
        raise ValueError(f"{tc.epochs} epochs is over the limit of {limits.EPOCHS} per job (VAE_EPOCHS)")
    name = s["name"].strip() or intake.auto_name(label, mc.latent_dim)
    return jobs.start(
        name,
        mc,
        tc,
        td.train,
        td.val,
        td.test,
        dataset=td.dataset,
        registry=registry,
        models_dir=resources.models_dir(),
        preview_labels=td.val_labels,
        labels=(td.train_labels, td.val_labels, td.test_labels),
    )
