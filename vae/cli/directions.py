"""python -m vae directions / edit: find a meaningful direction in a model's latent space, see how good
it is, save it with the model, and push a picture along it.

A direction's "vector" is the displacement added to a code: between two groups it carries the source
group's mean code to the target's; along a property it raises the property by one standard deviation
of the data (vae/inference/directions.py). `edit --amount 1` applies exactly z + vector.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from vae.cli import model_data
from vae.data import datasets as data
from vae.data import images, pictures
from vae.inference import direction_builder, latent, scoring
from vae.inference import directions as dirs
from vae.store import catalog as store
from vae.store import saved_directions

EXAMPLES = """examples:
  python -m vae directions default --from label=3 --to label=8 --json
  python -m vae directions my-16d --from label=3 --to label=8 --method probe --save three-to-eight
  python -m vae directions emoji-2d --from vendor=google --to vendor=twitter --balance label
  python -m vae directions default --along brightness --save ink
  python -m vae directions default --principal 3
  python -m vae directions default --axes
  python -m vae directions default --list
  python -m vae edit default digit.png --direction ink --amount -2,-1,0,1,2 --output strip.png"""


def register(sub, common) -> None:
    d = sub.add_parser(
        "directions",
        help="find, measure, save and list directions in a model's latent space",
        description=__doc__.split("\n\n")[0],
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d.add_argument("model")
    what = d.add_mutually_exclusive_group(required=True)
    what.add_argument("--from", dest="source", metavar="GROUP", help="label=3, a column (vendor=google), ids=1,2,3")
    what.add_argument("--along", choices=dirs.PROPERTIES, help="a measured property of each image")
    what.add_argument("--principal", type=int, metavar="K", help="the first K principal directions of the codes")
    what.add_argument("--axes", action="store_true", help="the latent axes, by decreasing KL")
    what.add_argument("--list", action="store_true", help="the directions saved with the model")
    what.add_argument("--delete", metavar="NAME", help="delete a saved direction")
    d.add_argument("--to", dest="target", metavar="GROUP", help="the target group (with --from)")
    d.add_argument("--method", choices=dirs.METHODS, default="mean", help="how two groups give a vector")
    d.add_argument("--balance", metavar="COLUMN", help="balance over this column (with --method balanced)")
    d.add_argument("--orthogonal-to", metavar="NAMES", help="saved directions a probe is made orthogonal to")
    d.add_argument("--dataset", help="the data (default: the model's own)")
    d.add_argument("--data-dir")
    d.add_argument("--save", metavar="NAME", help="save the direction with the model under this name")
    d.add_argument("--overwrite", action="store_true", help="replace a saved direction of that name")
    d.add_argument("--json", action="store_true", help="print one JSON object")
    d.set_defaults(func=_cmd_directions)

    e = sub.add_parser(
        "edit",
        help="push a picture along a saved direction: a strip of decoded images",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    e.add_argument("model")
    e.add_argument("image", help="a picture file (prepared as the Reconstruct page prepares it)")
    e.add_argument("--direction", required=True, help="a direction saved with the model (directions --list)")
    e.add_argument("--amount", default="-2,-1,0,1,2", help="how far along it, in multiples of its vector")
    e.add_argument("--output", required=True, help="the strip, a PNG file")
    e.set_defaults(func=_cmd_edit)


def _cmd_directions(args) -> int:
    if args.list:
        return _print_list(args)
    if args.delete:
        saved_directions.delete_direction(args.model, args.delete, args.models_dir)
        print(f"deleted {args.delete} of {args.model}", file=sys.stderr)
        return 0
    if args.source is not None and args.target is None:
        raise dirs.DirectionError("--from needs --to: the group the direction leads to")
    if args.balance and args.method != "balanced":
        raise dirs.DirectionError("--balance goes with --method balanced")
    model, info = store.load(args.model, args.models_dir)
    if not info.config.kind.plain_networks:
        raise dirs.DirectionError(f"{args.model} is a {info.config.kind.title}: directions need a code z alone")
    train, test = model_data.splits(args, info, model)
    if args.principal is not None or args.axes:
        if args.save:
            raise dirs.DirectionError("--save takes one direction: --principal and --axes give several")
        if args.axes:
            found = direction_builder.axes_by_kl(model, train)
        else:
            found = direction_builder.principal_directions(model, train, args.principal)
        print(json.dumps([f.to_dict() for f in found], indent=1) if args.json else _describe_all(found))
        return 0
    if args.along:
        found = direction_builder.from_property(model, train, test, args.along)
    else:
        others = _saved_vectors(args)
        cache = data.default_data_dir() / "readers"
        found = direction_builder.from_groups(
            model, train, test, args.source, args.target, method=args.method, balance=args.balance,
            orthogonal_to=others, reader_cache=cache,
        )  # fmt: skip
    if args.save:
        saved_directions.save_direction(
            args.model, args.save, found.to_dict(), args.models_dir, overwrite=args.overwrite
        )
    out = dict(found.to_dict(), **({"saved": args.save} if args.save else {}))
    print(json.dumps(out, indent=1) if args.json else _describe(found, args.save))
    return 0


def _saved_vectors(args) -> list[np.ndarray]:
    if not args.orthogonal_to:
        return []
    if args.method != "probe":
        raise dirs.DirectionError("--orthogonal-to conditions a probe: use it with --method probe")
    saved = saved_directions.list_directions(args.model, args.models_dir)
    missing = [n for n in args.orthogonal_to.split(",") if n not in saved]
    if missing:
        raise dirs.DirectionError(f"no saved direction {', '.join(missing)}; saved: {', '.join(saved) or 'none'}")
    return [dirs.Direction.from_dict(saved[n]).vector for n in args.orthogonal_to.split(",")]


def _print_list(args) -> int:
    saved = saved_directions.list_directions(args.model, args.models_dir)
    if args.json:
        print(json.dumps(saved, indent=1))
    elif not saved:
        print(f"{args.model} has no saved directions (make one with --from/--to or --along, and --save)")
    else:
        for name, entry in saved.items():
            print(f"{name}: {_describe(dirs.Direction.from_dict(entry), None)}")
    return 0


def _describe(d: dirs.Direction, saved: str | None) -> str:
    return f"{d.method} {d.source}; {d.summary()}" + (f"; saved as {saved}" if saved else "")


def _describe_all(found: list[dirs.Direction]) -> str:
    return "\n".join(_describe(d, None) for d in found)


def _cmd_edit(args) -> int:
    model, info = store.load(args.model, args.models_dir)
    if not info.config.kind.plain_networks:
        raise dirs.DirectionError(f"{args.model} is a {info.config.kind.title}: edit needs a code z alone")
    saved = saved_directions.list_directions(args.model, args.models_dir)
    if args.direction not in saved:
        raise dirs.DirectionError(
            f"{args.model} has no direction {args.direction!r}; saved: {', '.join(saved) or 'none'}"
        )
    direction = dirs.Direction.from_dict(saved[args.direction])
    try:
        amounts = [float(a) for a in args.amount.split(",")]
    except ValueError:
        raise dirs.DirectionError(f"--amount is numbers separated by commas, got {args.amount!r}") from None
    path = Path(args.image)
    if not path.is_file():
        raise pictures.ImageError(f"{path}: no such file")
    prepared = pictures.prepare(path.read_bytes(), tuple(model.config.image_shape))
    mu, _ = scoring.encode(model, prepared.array)
    strip = latent.decode(model, dirs.edit(mu, direction.vector, amounts))
    picture = images.tile(np.concatenate([prepared.array[None], strip]), ncols=len(amounts) + 1, pad=1)
    out = Path(args.output)
    out.write_bytes(images.to_png(picture, scale=max(1, 112 // model.config.image_shape[-1])))
    print(f"{out}: the prepared input, then amounts {', '.join(f'{a:g}' for a in amounts)} of {args.direction}")
    return 0
