"""python -m vae encode: a model's latent codes of a dataset, one row per item, to .npz / .csv / .parquet,
or an Embedding Projector bundle (vae/inference/codes.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from vae.cli import model_data
from vae.data import datasets as data
from vae.inference import codes, latent
from vae.store import catalog as store

EXAMPLES = """examples:
  python -m vae encode default --output codes.csv
  python -m vae encode my-16d --split all --projection tsne --output codes.parquet
  python -m vae encode default --projector projector/   (then the standalone Projector's "Load")"""


def register(sub, common) -> None:
    e = sub.add_parser(
        "encode",
        help="the latent codes of a dataset: a table, or an Embedding Projector bundle",
        description=__doc__.split("\n\n")[0],
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    e.add_argument("model")
    e.add_argument("--dataset", help="the data (default: the model's own)")
    e.add_argument("--data-dir")
    e.add_argument("--split", choices=["test", "train", "all"], default="test")
    out = e.add_mutually_exclusive_group(required=True)
    out.add_argument("--output", help=f"a table: {', '.join(codes.FORMATS)} by the file's suffix")
    out.add_argument("--projector", metavar="FOLDER", help="an Embedding Projector bundle in this folder")
    e.add_argument("--projection", choices=["pca", "tsne", "umap"], help="add the map's 2-D coordinates (map_x, map_y)")
    e.set_defaults(func=_cmd_encode)


def _cmd_encode(args) -> int:
    if args.output and Path(args.output).suffix.lower() not in codes.FORMATS:
        raise ValueError(f"--output must end in {', '.join(codes.FORMATS)}, got {args.output!r}")
    if args.output and not Path(args.output).resolve().parent.is_dir():
        raise ValueError(f"{Path(args.output).parent} is not a folder: nothing was written")
    model, info = store.load(args.model, args.models_dir)
    if model.config.kind.encoder_condition:
        raise ValueError(f"{args.model} is a {model.config.kind.title}: its codes need the condition too")
    train, test = model_data.splits(args, info, model)
    ds = test if args.split == "test" else train if args.split == "train" else _joined(train, test)
    if args.projector:
        done = codes.projector(model, ds, args.projector)
        sub = (
            f" (a sample of {done['items']:,} of {done['of']:,}: the sprite's 8192 px limit)"
            if done["items"] < done["of"]
            else ""
        )
        print(f"{args.projector}: {', '.join(done['files'])} for {done['items']:,} items{sub}")
        return 0
    coords = None
    if args.projection:
        mu, _ = latent.encode_dataset(model, ds.images)
        coords = mu if mu.shape[1] == 2 and args.projection == "pca" else latent.project(mu, args.projection).coords
    print(f"encoding {len(ds):,} items of {ds.name} ({args.split})…", file=sys.stderr)
    path = codes.write(codes.table(model, ds, coords=coords), args.output)
    print(f"{path}: {len(ds):,} rows")
    return 0


def _joined(train, test):
    labels = None if train.labels is None else np.concatenate([train.labels, test.labels])
    columns = {k: np.concatenate([train.columns[k], test.columns[k]]) for k in train.columns if k in test.columns}
    return data.Dataset(np.concatenate([train.images, test.images]), labels, train.class_names, train.name, columns)
