"""python -m vae data list | fetch: the named datasets and their download."""

from __future__ import annotations

import functools
import sys

from vae.data import datasets as data


def register(sub, common) -> None:
    """Add this group's commands to the parser's subcommands."""
    dp = sub.add_parser("data", help="list or download datasets")
    dsub = dp.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    dsub.add_parser = functools.partial(dsub.add_parser, parents=[common])
    dsub.add_parser("list", help="list the named datasets")
    f = dsub.add_parser("fetch", help="download a dataset into the cache, verifying checksums")
    f.add_argument("name", choices=[n for n in data.DATASETS if n in data.DOWNLOADABLE])
    f.add_argument("--data-dir")
    dp.set_defaults(func=_cmd_data)


def _cmd_data(args) -> int:
    if args.data_command == "list":
        for name, desc in data.DATASETS.items():
            print(f"{name:14s} {desc}")
        return 0

    def progress(done, total, filename):
        size = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
        print(f"\r{filename}: {size}", end="\n" if total and done >= total else "", file=sys.stderr)

    path = data.fetch(args.name, args.data_dir, progress=progress)
    print(f"\n{args.name} is ready in {path}")
    return 0
