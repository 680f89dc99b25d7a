"""python -m vae data list | fetch: the named datasets and their download."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from vae.data import datasets as data
from vae.inference import quality


def register(sub, common) -> None:
    """Add this group's commands to the parser's subcommands."""
    dp = sub.add_parser("data", help="list or download datasets")
    dsub = dp.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    dsub.add_parser = functools.partial(dsub.add_parser, parents=[common])
    dsub.add_parser("list", help="list the named datasets")
    f = dsub.add_parser("fetch", help="download a dataset into the cache, verifying checksums")
    f.add_argument("name", choices=[n for n in data.DATASETS if n in data.DOWNLOADABLE])
    f.add_argument("--data-dir")
    r = dsub.add_parser(
        "reader",
        help="train the classifier sample quality is measured with (reproducibly: seeded, one thread)",
    )
    r.add_argument("family", choices=sorted(quality.TRAIN_ON), help="mnist (on mnist-5k) or emoji (on emoji)")
    r.add_argument("--bundled", action="store_true", help=f"write it into {quality.BUNDLED} (maintainers)")
    r.add_argument("--data-dir")
    dp.set_defaults(func=_cmd_data)


def _cmd_data(args) -> int:
    if args.data_command == "list":
        for name, desc in data.DATASETS.items():
            print(f"{name:14s} {desc}")
        return 0

    if args.data_command == "reader":
        return _reader(args)

    def progress(done, total, filename):
        if filename.endswith("images"):  # emoji: pictures read from the tarballs, counted
            print(f"\r{filename}: {done:,}/{total:,}", end="", file=sys.stderr)
            return
        size = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
        print(f"\r{filename}: {size}", end="\n" if total and done >= total else "", file=sys.stderr)

    path = data.fetch(args.name, args.data_dir, progress=progress)
    print(f"\n{args.name} is ready in {path}")
    return 0


def _reader(args) -> int:
    name = quality.TRAIN_ON[args.family]
    train, test = data.load_splits(name, data_dir=args.data_dir)
    print(f"training the {args.family} reader on {len(train):,} pictures of {name}…", file=sys.stderr)
    reader = quality.train_reader(train.images, train.labels)
    _, probs = reader.read(test.images)
    accuracy = float((probs.argmax(1) == test.labels).mean())
    folder = quality.BUNDLED if args.bundled else Path(args.data_dir or data.default_data_dir()) / "readers"
    path = quality.save_reader(reader, folder / f"{args.family}.safetensors", name)
    print(
        f"{path}: test accuracy {accuracy:.3f} on {len(test):,} held-out pictures, {path.stat().st_size / 1e6:.2f} MB"
    )
    return 0
