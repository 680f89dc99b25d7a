"""python -m vae sample: pictures decoded from z drawn from the prior or from a density fitted to the
model's codes of its training split (vae/inference/samplers.py), saved as .npz ("images" (N, C, H, W)
in [0, 1] and "z") and, with --grid, as a PNG grid. A fitted sampler is cached per model version in
the data folder (<data dir>/samplers/), so a second call draws at once.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np

from vae import limits
from vae.cli import model_data
from vae.data import datasets as data
from vae.data import images
from vae.inference import latent, quality, samplers
from vae.store import catalog as store


def register(sub, common) -> None:
    s = sub.add_parser(
        "sample",
        help="decode pictures from z drawn from the prior or a density fitted to the codes",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    s.add_argument("model")
    s.add_argument("--sampler", choices=samplers.KINDS, default="prior", help="where z comes from")
    s.add_argument("--n", type=int, default=64, help=f"how many pictures (at most VAE_SAMPLES = {limits.SAMPLES:,})")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--output", required=True, help="an .npz file: images (N, C, H, W) in [0, 1] and z (N, D)")
    s.add_argument("--grid", metavar="PNG", help="also a PNG grid of the pictures")
    s.add_argument(
        "--quality",
        action="store_true",
        help="print, as JSON, the samples' precision and recall (Kynkaanniemi et al. 2019), Frechet distance, "
        "confidence and class balance against the held-out split, in a small classifier's feature space",
    )
    s.add_argument("--dataset", help="the codes a density is fitted on (default: the model's own data)")
    s.add_argument("--data-dir")
    s.set_defaults(func=_cmd_sample)


def _cmd_sample(args) -> int:
    if not 0 < args.n <= limits.SAMPLES:
        raise ValueError(f"--n must be between 1 and {limits.SAMPLES:,} (VAE_SAMPLES), got {args.n}")
    model, info = store.load(args.model, args.models_dir)
    if not info.config.kind.plain_networks:
        raise ValueError(f"{args.model} is a {info.config.kind.title}: sample needs a decoder of z alone")
    sampler = _fitted(args, info, model)
    z = sampler.sample(args.n, seed=args.seed)
    x = latent.decode(model, z)
    out = Path(args.output)
    buf = io.BytesIO()
    np.savez_compressed(buf, images=x, z=z)
    out.write_bytes(buf.getvalue())
    print(f"{out}: {len(x)} pictures from {sampler.describe()}")
    if args.quality:
        print(json.dumps(_quality(args, info, model, x), indent=1))
    if args.grid:
        ncols = int(np.ceil(np.sqrt(len(x))))
        Path(args.grid).write_bytes(images.to_png(images.tile(x, ncols=ncols, pad=1), scale=2))
        print(f"{args.grid}: the grid")
    return 0


def _quality(args, info, model, x) -> dict:
    if len(x) <= quality.K:
        raise ValueError(f"--quality needs more than {quality.K} samples")
    train, test = model_data.splits(args, info, model)
    reader = quality.reader_for(train.name, data.default_data_dir() / "readers", train)
    return {"sampler": args.sampler, "dataset": test.name, **quality.measure(reader, test.images, x)}


def _fitted(args, info, model) -> samplers.Sampler:
    if args.sampler == "prior":
        return samplers.Sampler(model.latent_dim)
    cache = (
        data.default_data_dir() / "samplers" / f"{info.name}-{info.version}-{args.dataset or 'own'}-{args.sampler}.npz"
    )
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            return samplers.from_arrays(dict(z))
    train, _ = model_data.splits(args, info, model)
    print(f"fitting {args.sampler} on {len(train):,} codes of {train.name}'s training split…", file=sys.stderr)
    mu, _ = latent.encode_dataset(model, train.images)
    sampler = samplers.fit(args.sampler, mu, seed=0)
    cache.parent.mkdir(parents=True, exist_ok=True)
    part = cache.with_name(f".{cache.name}.part.npz")
    np.savez(part, **sampler.to_arrays())
    part.replace(cache)
    return sampler
