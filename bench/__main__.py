"""python -m bench [NAME ...] [--full]: run benchmarks, then rewrite docs/benchmarks.md.

Without names it runs the quick ones (about 15 minutes in all); --full adds the slow ones: the true
posterior's gap table, the reference recipes and the full-MNIST log-likelihood run (10-15 minutes
each; the last needs `python -m vae data fetch mnist`). `python -m bench --render` only rewrites
the page from the results already recorded in bench/results/.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from .common import load_results, machine

QUICK = [
    "training",
    "latency",
    "architectures",
    "app",
    "live",
    "serve",
    "distributed",
    "hostile",
    "directions",
    "aggregate",
    "fuzz",
    "engines",
]
FULL = ["posterior", "recipes", "bundled", "mnist_ll", "colour"]  # each 10-40 minutes on this machine
DOC = Path(__file__).parent.parent / "docs" / "benchmarks.md"
TITLES = {
    "training": "Training throughput",
    "latency": "Decoding and projections",
    "app": "The app: server and browser",
    "live": "Live decoding in the browser",
    "serve": "Many users and training in one server",
    "architectures": "Seed architectures on mnist-5k",
    "bundled": "The bundled models on their test digits",
    "mnist_ll": "Full MNIST, binarized, 2-D latent",
    "hostile": "Hostile input and the store under SIGKILL",
    "recipes": "The reference systems' recipes on mnist-5k and full MNIST",
    "posterior": "True posterior: exact log p(x) and inference gaps",
    "distributed": "Training on several processes (torchrun)",
    "colour": "Colour: the emoji recipe (32x32, 2-D latent)",
    "directions": "Directions in latent space: which method moves held-out pictures",
    "aggregate": "The aggregate posterior: ELBO surgery, holes, samplers fitted to the codes",
    "fuzz": "Every input path fuzzed",
    "engines": "The browser decoder against other engines",
}


def _load(r: dict) -> str:
    """The machine's load when the run ended, where it was recorded: numbers taken on a busy machine
    say so."""
    if not r.get("load_average"):
        return ""
    one, five, _ = r["load_average"]
    return f"; load average {one} (1 min), {five} (5 min) as it ended"


def render() -> str:
    m = machine()
    out = [
        "# Benchmarks",
        "",
        "Written by `python -m bench` (`--full` adds the slow ones: posterior gaps, recipes, full MNIST); "
        "each section is the "
        "latest recorded run of that benchmark (bench/results/*.json). These are measurements, not "
        "tests: nothing fails when a number moves.",
        "",
        f"This machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}, "
        f"torch {m['torch']} ({m['torch_threads']} threads).",
        "",
    ]
    for r in sorted(load_results(), key=lambda r: list(TITLES).index(r["name"]) if r["name"] in TITLES else 99):
        out += [
            f"## {TITLES.get(r['name'], r['name'])}",
            "",
            f"Measured {r['date']} on {r['machine']['cpu']} ({r['machine']['cores']} cores){_load(r)}.",
            "",
            f"How: {r['method']}",
            "",
        ]
        if r.get("command"):
            out += ["```", r["command"], "```", ""]
        out += ["| what | value | notes |", "| --- | --- | --- |"]
        out += [
            f"| {row['what']} | {row['value']} {row.get('unit', '')} | {row.get('note', '')} |" for row in r["rows"]
        ]
        out.append("")
        out += [f"- {line}" for line in r.get("findings", [])] + ([""] if r.get("findings") else [])
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", help=f"benchmarks to run: {', '.join(QUICK + FULL)}")
    p.add_argument("--full", action="store_true", help="also run the slow benchmarks: " + ", ".join(FULL))
    p.add_argument("--render", action="store_true", help="only rewrite docs/benchmarks.md")
    p.add_argument("--cases", type=int, help="fuzz: inputs per path (default 10,000)")
    args = p.parse_args()
    names = [] if args.render else (args.names or QUICK + (FULL if args.full else []))
    for name in names:
        print(f"== {name}")
        module = importlib.import_module(f"bench.{name}")
        module.main(cases=args.cases) if name == "fuzz" else module.main()
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render())
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
