"""The command line: python -m vae {train,evaluate,recipes,list,rename,delete,data,import,export} ...

Run `python -m vae COMMAND --help` for each command's options. Each command group is a module of
its own (train, evaluate, recipes, models, data) with a register(sub, common) that adds its
subcommands; this module assembles the parser and runs the chosen command.
"""

from __future__ import annotations

import argparse
import functools
import sys

from vae.cli import data, evaluate, interop, models, recipes, train

EPILOG = """examples:
  python -m vae train --dataset mnist-5k --latent-dim 2 --epochs 30 --name my-2d
  python -m vae train --resume my-2d --epochs 20
  python -m vae train --recipe doersch-cvae --name doersch-cvae
  python -m vae train --conditional label --name my-cvae
  python -m vae recipes
  python -m vae evaluate my-2d --iw-samples 1000
  python -m vae evaluate my-2d --exact --limit 1000
  python -m vae data fetch mnist
  python -m vae list
  python -m vae import vae.pth --name their-vae      (a state dict from elsewhere; see import --help)
  python -m vae export my-2d --onnx out/ --state-dict out/my-2d.safetensors
  torchrun --nproc_per_node 4 -m vae train --dataset mnist --batch-size 512 --name big  (4 processes;
      every option works the same; see the README for several machines and Slurm)"""


GROUPS = (train, evaluate, recipes, models, data, interop)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m vae",
        description="Train, evaluate and manage VAEs for the latent explorer.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--models-dir", help="models folder (default: $VAE_MODELS_DIR or ./models)")
    # every command takes --models-dir too (before or after the command); SUPPRESS keeps a value
    # given before the command when none is given after it
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--models-dir", default=argparse.SUPPRESS, help="models folder (default: $VAE_MODELS_DIR or ./models)"
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser = functools.partial(sub.add_parser, parents=[common])

    for group in GROUPS:
        group.register(sub, common)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as e:  # StoreError, DataError, ConfigError are ValueErrors
        print(f"error: {e}", file=sys.stderr)
        return 2
