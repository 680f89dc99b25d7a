"""The command line: python -m vae COMMAND ... (train, evaluate, recipes, list, rename, delete, data, import,
export, directions, edit, sample, encode).

Run `python -m vae COMMAND --help` for each command's options. Each command group is a module of
its own (train, evaluate, recipes, models, data) with a register(sub, common) that adds its
subcommands; this module assembles the parser and runs the chosen command.
"""

from __future__ import annotations

import argparse
import functools
import sys

from vae.cli import data, directions, encode, evaluate, interop, models, recipes, sample, train

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
  python -m vae directions default --from label=3 --to label=8 --save three-to-eight
  python -m vae edit default digit.png --direction three-to-eight --output strip.png
  python -m vae sample default --sampler gmm --n 64 --output s.npz --grid s.png
  python -m vae encode default --output codes.csv      (or --projector FOLDER: an Embedding Projector bundle)
  torchrun --nproc_per_node 4 -m vae train --dataset mnist --batch-size 512 --name big  (4 processes;
      every option works the same; see the README for several machines and Slurm)"""


GROUPS = (train, evaluate, recipes, models, data, interop, directions, sample, encode)


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


NEGATIVE_LISTS = ("--amount",)  # options whose value may start with a minus: "--amount -2,-1,0,1,2"


def _attach(argv: list[str]) -> list[str]:
    """argparse reads "-2,-1,0" after an option as another option: join such values to their option."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] in NEGATIVE_LISTS and i + 1 < len(argv) and argv[i + 1].startswith("-") and "," in argv[i + 1]:
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(_attach(list(sys.argv[1:] if argv is None else argv)))
    try:
        return args.func(args)
    except (ValueError, OSError) as e:  # StoreError, DataError, ConfigError are ValueErrors
        print(f"error: {e}", file=sys.stderr)
        return 2
