"""python -m vae recipes: the reference systems' recipes for train --recipe."""

from __future__ import annotations

from vae.training import recipes


def register(sub, common) -> None:
    """Add this group's commands to the parser's subcommands."""
    r = sub.add_parser("recipes", help="list the reference systems' recipes (python -m vae train --recipe NAME)")
    r.set_defaults(func=_cmd_recipes)


def _cmd_recipes(args) -> int:
    print(
        f"Recipes for `python -m vae train --recipe NAME` (the MNIST ones now on {recipes.dataset()}: full MNIST "
        "when fetched, else mnist-5k; options given override the recipe's).\n"
    )
    print("\n\n".join(recipes.describe(r) for r in recipes.RECIPES.values()))
    return 0
