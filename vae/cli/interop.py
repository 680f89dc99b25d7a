"""python -m vae import | export: models from other code into the store, and out of it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vae.data import datasets
from vae.interop import export, importer, onnx_import, pythae_folder, weights
from vae.store import catalog as store
from vae.store import saved_directions

IMPORT_EPILOG = """examples:
  python -m vae import vae.pth --name their-vae                       # pytorch/examples vae/main.py
  python -m vae import model.safetensors --name seq --activation tanh  # encoder.N / fc_mu / decoder.N
  python -m vae import weights.pt --name x --layout map.json           # anything else, layer by layer
  python -m vae import --onnx-encoder enc.onnx --onnx-decoder dec.onnx --name their-onnx
  python -m vae import vanilla_vae.ckpt --name celeba --dataset emoji-64  # AntixK/PyTorch-VAE's VanillaVAE
  python -m vae import my_vae/final_model --name pythae-vae             # a folder pythae's model.save wrote
  python -m vae import dcgan.pt --name dc --layout dcgan                # 4x4 convs + BatchNorm, Tanh output

Files are read without running code: .safetensors headers are checked first, .pt/.pth/.bin/.ckpt
go through torch.load(weights_only=True), which refuses pickled objects; ONNX graphs are read with
onnx.load(load_external_data=False), converted op by op, then checked once against onnxruntime. Nothing is saved unless
every tensor finds its place; the model is then measured on --dataset and saved with its source
(file name, SHA-256, layout)."""


def _shape(text: str) -> tuple[int, int, int]:
    try:
        c, h, w = (int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--image-shape takes C,H,W (like 1,28,28), got {text!r}") from None
    return c, h, w


def register(sub, common) -> None:
    i = sub.add_parser(
        "import",
        help="import a VAE's state dict (.safetensors, .pt) into the store",
        description="Import a VAE trained elsewhere from its state dict.",
        epilog=IMPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    i.add_argument(
        "file",
        nargs="?",
        help=".safetensors, .pt, .pth, .bin or .ckpt holding a state dict, or a folder pythae's model.save wrote",
    )
    i.add_argument(
        "--onnx-encoder",
        metavar="E.onnx",
        help="an ONNX encoder (image -> mu and log-variance, or sigma); with --onnx-decoder instead of FILE",
    )
    i.add_argument("--onnx-decoder", metavar="D.onnx", help="an ONNX decoder (z -> image)")
    i.add_argument("--name", required=True, help="the model's name in the store")
    i.add_argument(
        "--dataset",
        default="mnist-5k",
        help="measure the model on this dataset's test split (default mnist-5k; `python -m vae data list`)",
    )
    i.add_argument(
        "--layout",
        default="auto",
        help="auto | pytorch-examples | sequential | vanilla-vae | pythae-mlp | pythae-conv-mnist | dcgan | MAP.json "
        "(which tensor is which layer; auto says which it chose)",
    )
    i.add_argument(
        "--activation",
        help="the activation between layers, which a state dict does not store: "
        "relu, tanh, elu, gelu, gelu_tanh, leaky_relu, softplus, sigmoid, silu, mish, hardtanh (default: the "
        "file's metadata when it says, as this project's exports do, else relu; a layout map gives parameters, "
        'e.g. ["act", "leaky_relu", 0.2])',
    )
    i.add_argument("--image-shape", type=_shape, help="C,H,W of the model's input (default: the dataset's)")
    i.add_argument("--likelihood", choices=("bernoulli", "gaussian"), default="bernoulli")
    i.add_argument(
        "--output",
        choices=("sigmoid", "identity", "tanh"),
        help="sigmoid: the decoder ends in a sigmoid; tanh: in a Tanh (data in [-1, 1]); identity: its output is "
        "the mean (default: Bernoulli reads the output as logits, Gaussian as the mean)",
    )
    i.add_argument("--iw-samples", type=int, default=100, help="importance samples for log p(x) (default 100)")
    i.add_argument("--overwrite", action="store_true", help="replace a model of the same name")
    i.set_defaults(func=_cmd_import)

    e = sub.add_parser(
        "export",
        help="export a model as ONNX or as plain tensors",
        description="Export a model of the store for other code.",
    )
    e.add_argument("name")
    e.add_argument(
        "--onnx",
        metavar="DIR",
        help="write DIR/encoder.onnx (image -> mu, logvar) and DIR/decoder.onnx (z -> image mean)",
    )
    e.add_argument(
        "--state-dict",
        metavar="FILE.safetensors",
        help="write the weights as plain tensors "
        "(encoder.N, fc_mu, fc_logvar, decoder.N) and print the PyTorch code that loads them",
    )
    e.set_defaults(func=_cmd_export)


def _recognise(args):
    shape = args.image_shape or datasets.shape_of(args.dataset)
    if args.onnx_encoder or args.onnx_decoder:
        if args.file or not (args.onnx_encoder and args.onnx_decoder):
            raise ValueError("give FILE (a state dict), or --onnx-encoder and --onnx-decoder together")
        paths = [Path(args.onnx_encoder), Path(args.onnx_decoder)]
        parts = [(str(p), weights.read_bytes(p)) for p in paths]
        return onnx_import.recognise_onnx(
            parts[0], parts[1], image_shape=shape, likelihood=args.likelihood, folders=tuple(p.parent for p in paths)
        )
    if not args.file:
        raise ValueError("give FILE (a state dict), or --onnx-encoder and --onnx-decoder")
    layout, layout_map = args.layout, None
    if layout.endswith(".json"):
        layout_map = Path(layout).read_text()
    if Path(args.file).is_dir():
        if not pythae_folder.is_pythae_folder(args.file):
            raise ValueError(f"{args.file} is a folder, but not one pythae's model.save wrote (no model_config.json)")
        return pythae_folder.recognise_folder(args.file, layout=layout, layout_map=layout_map)
    return importer.recognise(
        args.file,
        layout=layout,
        layout_map=layout_map,
        activation=args.activation,
        image_shape=shape,
        likelihood=args.likelihood,
        output=args.output,
    )


def _cmd_import(args) -> int:
    rec = _recognise(args)
    print(f"{rec.file_name}: layout {rec.layout}, {rec.config.describe()}")
    width = max(len(r["tensor"]) for r in rec.rows)
    for r in rec.rows:
        print(f"  {r['tensor']:{width}s}  {str(tuple(r['shape'])):14s} -> {r['became']}")
    for fact in rec.facts:
        print(f"  read: {fact}")
    for note in rec.notes:
        print(f"  assumed: {note}")

    def progress(done, total):
        print(f"\r  measuring on {args.dataset}: {done}/{total}", end="", file=sys.stderr, flush=True)

    info = importer.save_imported(
        rec,
        args.name,
        args.dataset,
        args.models_dir,
        iw_samples=args.iw_samples,
        overwrite=args.overwrite,
        progress=progress,
    )
    print(file=sys.stderr)
    m = info.metrics
    print(
        f"saved {info.name} in {info.path}: test ELBO {m['elbo']:.2f}, log p(x) >= {m['iw_log_likelihood']:.2f} "
        f"nats (IW, K={args.iw_samples}) on {args.dataset}"
    )
    return 0


def _cmd_export(args) -> int:
    if not args.onnx and not args.state_dict:
        print("error: say what to write: --onnx DIR and/or --state-dict FILE.safetensors", file=sys.stderr)
        return 2
    model, info = store.load(args.name, args.models_dir)
    directions = saved_directions.list_directions(args.name, args.models_dir)  # they go with the model
    if args.onnx:
        for path in export.write_onnx(model, args.onnx, directions):
            print(f"wrote {path}")
    if args.state_dict:
        code = export.write_state_dict(model, args.state_dict, info.name, directions)
        print(f"wrote {args.state_dict}; load it with:\n")
        print(code)
    return 0
