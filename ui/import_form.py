"""The Import page's inputs: a state dict with its options (layout, activation, a JSON layout map) or
an ONNX encoder/decoder pair, each read without running code in it (vae.interop) -> the recognised
model. Raises store.StoreError with a sentence for the user when a file cannot be imported.
"""

import streamlit as st

from vae import limits
from vae.interop import importer, layouts, onnx_import
from vae.models.layers import FUNCTIONS

EXAMPLE_MAP = (
    '{"encoder": [["linear", "fc1"], ["act", "relu"]], "heads": ["fc21", "fc22"],\n'
    ' "decoder": [["linear", "fc3"], ["act", "relu"], ["linear", "fc4"], ["act", "sigmoid"]]}'
)
FROM_FILE = "as the file says, else relu"
ACTIVATIONS = list(FUNCTIONS)  # with their default parameters; a layout map gives others


def state_dict_ui(cols, shape: tuple, likelihood: str):
    """Upload and options for a state dict (three option widgets in `cols`) -> (file name, the
    recognised model), or (None, None) before an upload."""
    upload = st.file_uploader(
        "State dict", type=["safetensors", "pt", "pth", "bin", "ckpt"], key="imp_file", max_upload_size=limits.UPLOAD_MB
    )
    layout = cols[1].selectbox(
        "Layout",
        [*layouts.LAYOUTS, "map (JSON)"],
        key="imp_layout",
        help="Which tensor is which layer: auto recognises AntixK's VanillaVAE and pythae's networks by "
        "their names, then pytorch/examples' names, then encoder.N / fc_mu / fc_logvar / decoder.N "
        "(4x4 convolutions with BatchNorm read as a DCGAN stack).",
    )
    activation = cols[2].selectbox(
        "Activation between layers",
        [FROM_FILE, *ACTIVATIONS],
        key="imp_act",
        help="A state dict does not store its activations: say which the model used "
        "(this project's exports record it in the file).",
    )
    layout_map = None
    if layout == "map (JSON)":
        layout_map = st.text_area("Layout map", key="imp_map", height=140, help=layouts.__doc__, value=EXAMPLE_MAP)
    if upload is None:
        return None, None
    return upload.name, importer.recognise(
        upload.name,
        upload.getvalue(),
        layout="auto" if layout_map else layout,
        layout_map=layout_map,
        activation=None if activation == FROM_FILE else activation,
        image_shape=shape,
        likelihood=likelihood,
    )


def onnx_ui(shape: tuple, likelihood: str):
    """Two uploads, the encoder's graph and the decoder's -> (file name, the recognised model), or
    (None, None) before both."""
    left, right = st.columns(2)
    enc = left.file_uploader(
        "Encoder (.onnx): image -> mu, log-variance", type=["onnx"], key="imp_enc", max_upload_size=limits.UPLOAD_MB
    )
    dec = right.file_uploader(
        "Decoder (.onnx): z -> image", type=["onnx"], key="imp_dec", max_upload_size=limits.UPLOAD_MB
    )
    if enc is None or dec is None:
        return None, None
    return enc.name, onnx_import.recognise_onnx(
        (enc.name, enc.getvalue()), (dec.name, dec.getvalue()), image_shape=shape, likelihood=likelihood
    )
