"""Import: bring a VAE trained elsewhere (a state dict or an ONNX encoder/decoder pair), see which tensor
became which layer and what it decodes, then save it into the store, where every page works on it."""

import numpy as np
import streamlit as st

from ui import import_form, resources, shell
from vae.data import datasets, images
from vae.inference import latent
from vae.interop import importer
from vae.store import catalog as store

shell.page(
    "Import",
    "Bring your own VAE: upload its state dict (.safetensors, or a .pt/.pth saved with "
    "`torch.save(model.state_dict(), ...)`) or its ONNX encoder and decoder. They are read without running "
    "any code in them (an ONNX pair is checked once against onnxruntime after conversion); you see "
    "which tensor became which layer and what the model decodes before anything is saved.",
    needs_model=False,
)

kind = st.segmented_control(
    "What you have", ["State dict", "ONNX encoder + decoder"], default="State dict", key="imp_kind"
)
cols = st.columns(4)
names = [d for d in datasets.DATASETS if datasets.is_available(d)]
dataset = cols[0].selectbox(
    "Measure on",
    names,
    key="imp_dataset",
    help="The model is scored on this dataset's test split; its images set the model's input shape.",
)
likelihood = cols[3].selectbox("Likelihood", ["bernoulli", "gaussian"], key="imp_lik")
shape = datasets.shape_of(dataset)


try:
    if kind == "ONNX encoder + decoder":
        file_name, rec = import_form.onnx_ui(shape, likelihood)
    else:
        file_name, rec = import_form.state_dict_ui(cols, shape, likelihood)
except store.StoreError as e:
    st.error(f"Not imported: {e}")
    st.stop()
except Exception as e:  # noqa: BLE001  (whatever is inside an uploaded file: one clear error, never a traceback)
    shell.file_error("The uploaded model", e)
    st.stop()
if rec is None:
    st.info(
        "Upload a state dict, or an ONNX encoder and decoder, to begin. Try `python -m vae export default "
        "--state-dict x.safetensors` (or `--onnx DIR`) for files to practise on."
    )
    st.stop()

st.success(f"Recognised **{rec.config.describe()}** (layout {rec.layout}).")
st.dataframe(
    [{"tensor": r["tensor"], "shape": str(tuple(r["shape"])), "became": r["became"]} for r in rec.rows],
    hide_index=True,
    width="stretch",
    height=min(400, 38 + 35 * len(rec.rows)),
    column_config={
        "tensor": st.column_config.TextColumn(width="medium"),
        "shape": st.column_config.TextColumn(width="small"),
        "became": st.column_config.TextColumn(width="large"),
    },
)
left, right = st.columns(2)
left.markdown(
    "**Read from the file or checked**\n" + "\n".join(f"- {n}" for n in [*rec.facts, f"SHA-256 {rec.sha256}"])
)
right.markdown("**Assumed, not read from the file**\n" + "\n".join(f"- {n}" for n in rec.notes))

model = rec.model()
test = resources.dataset(dataset, "test")
x = test.images[:10]
mu, _ = latent.encode_dataset(model, x)
if model.latent_dim == 2:
    decoded = latent.decode_grid(model, 10).images
    grid = images.tile(decoded.reshape(-1, *model.config.image_shape), ncols=10, pad=1)
    caption = "decoded 10 x 10 grid at Gaussian percentiles"
else:
    z = np.random.default_rng(0).standard_normal((30, model.latent_dim)).astype(np.float32)
    grid, caption = images.tile(latent.decode(model, z), ncols=10, pad=1), "30 samples z ~ N(0, I)"
a, b = st.columns(2)
a.image(images.upscale(grid, 2), caption=caption, width="stretch")
b.image(
    images.upscale(images.tile(np.concatenate([x, latent.decode(model, mu)]), ncols=10, pad=1), 2),
    caption=f"10 test images of {dataset} (top) and their reconstructions (bottom)",
    width="stretch",
)

with st.form("imp_save"):
    name = st.text_input(
        "Name in the store",
        value=importer.suggest_name(file_name),
        key="imp_name",
        placeholder="name it, e.g. my-mnist-vae",
    )
    saved = st.form_submit_button("Measure and save", type="primary")
if saved and not name.strip():
    st.error("Give the model a name first.")
elif saved:
    bar = st.progress(0.0, text=f"Measuring on {dataset}…")
    try:
        info = importer.save_imported(
            rec,
            name,
            dataset,
            resources.models_dir(),
            iw_samples=100,
            progress=lambda done, n: bar.progress(done / n, text=f"Measuring on {dataset}: {done}/{n}"),
        )
    except (store.StoreError, ValueError) as e:
        bar.empty()
        st.error(f"Not saved: {e}")
        st.stop()
    bar.empty()
    resources.model_list.clear()
    st.session_state["pending_model"] = info.name
    m = info.metrics
    st.success(
        f"Saved **{info.name}**: test ELBO {m['elbo']:.1f} nats, log p(x) ≥ {m['iw_log_likelihood']:.1f} "
        f"(IW, K=100) on {dataset}. It is selected in the sidebar on the next page."
    )
    st.page_link("pages/playground.py", label="Open it in the Playground", icon=":material/tune:")
