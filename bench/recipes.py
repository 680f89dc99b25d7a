"""The reference systems' recipes on mnist-5k and on full MNIST: test ELBO and IW(1000) of each, the
completion CVAE against its regressor baseline, and how often decodes of random z show the class they
were asked for.

Each recipe runs as the CLI command `python -m vae train --recipe NAME --dataset DATASET
--eval-iw-samples 1000` in a subprocess, with the recipe's own epochs (grey levels as in the
originals; 10% of the training split held out for validation: 3,600 + 400 digits of mnist-5k, 54,000 +
6,000 of MNIST), and its saved test metrics are read back (the 1,000 mnist-5k or the 10,000 MNIST test
digits; conditional models with their condition given). A label-conditional VAE with the su-vae network
and settings and su-cvae's 100 epochs (`--recipe su-vae --conditional label --epochs 100`) is trained
the same way. Class accuracy: an RBF support-vector classifier (scikit-learn SVC, default settings)
trained on the 4,000 real mnist-5k training digits' pixels (for both datasets) labels 1,000 decodes per
model: for the label CVAE z ~ N(0, I) decoded under each class (100 each), for su-cvae z ~ N(mu_y, I)
around each class's learned prior mean. The classifier's own accuracy on the real test digits is
reported beside them. None of the originals publishes a test log-likelihood; they all train on full
MNIST. `python -m bench.recipes [NAME ...] [--dataset mnist-5k|mnist] [--doersch-epochs N]` runs only
the runs named and keeps the other rows already recorded (the result file is rewritten after every
run); --doersch-epochs caps Doersch's two 784-1000-500-250 recipes (about 6x the others' cost per
step) for a quick look.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

import torch

from vae.data import datasets as data
from vae.store import catalog as store
from vae.training import recipes

from .common import RESULTS, record

DATASETS = ("mnist-5k", "mnist")
RUNS = {
    "tflearn": "--recipe tflearn",
    "su-vae": "--recipe su-vae",
    "su-cvae": "--recipe su-cvae",
    "label-cvae": "--recipe su-vae --conditional label --epochs 100",
    "doersch-vae": "--recipe doersch-vae",
    "doersch-cvae": "--recipe doersch-cvae",
}
COMMAND = "python -m vae train {options} --dataset {dataset} --eval-iw-samples 1000 --name {name} --quiet"


def _run_id(name: str, dataset: str) -> str:
    return f"{name} ({dataset})"


def _command(name: str, dataset: str, doersch_epochs: int | None) -> str:
    options = RUNS[name]
    if doersch_epochs and name.startswith("doersch"):
        options += f" --epochs {doersch_epochs}"
    return COMMAND.format(options=options, dataset=dataset, name=f"{name}-{dataset}")


def _train(name: str, dataset: str, models: str, doersch_epochs: int | None) -> tuple[store.ModelInfo, float]:
    argv = [sys.executable, *shlex.split(_command(name, dataset, doersch_epochs))[1:]]
    t = time.perf_counter()
    subprocess.run(argv, check=True, env={**os.environ, "VAE_MODELS_DIR": models})
    return store.find(f"{name}-{dataset}", models), time.perf_counter() - t


def _classifier():
    from sklearn.svm import SVC

    train, test = data.load_splits("mnist-5k")
    clf = SVC().fit(train.images.reshape(len(train.images), -1), train.labels)
    return clf, float((clf.predict(test.images.reshape(len(test.images), -1)) == test.labels).mean())


@torch.inference_mode()
def _class_accuracy(clf, info: store.ModelInfo) -> float:
    model, _ = store.load(info.name, str(info.path.parent))
    y = torch.arange(10).repeat_interleave(100)
    z = torch.randn(len(y), model.latent_dim, generator=torch.Generator().manual_seed(0))
    images = model.decode(z, y) if model.config.conditional == "label" else model.decode(z + model.prior_mean(y))
    return float((clf.predict(images.flatten(1).numpy()) == y.numpy()).mean())


def _row(name: str, dataset: str, info: store.ModelInfo, seconds: float) -> dict:
    m, r = info.metrics, recipes.RECIPES.get(name)
    bound = {"label": "log p(x|y)", "prior": "log p(x|y)", "completion": "log p(rest|column)"}.get(
        info.config.conditional, "log p(x)"
    )
    epochs = len(info.meta["history"])
    of = f" of the recipe's {r.train['epochs']}" if r and epochs != r.train["epochs"] else ""
    note = (
        f"{info.config.describe()}; ELBO {m['elbo']:.2f}, KL {m['kl']:.2f}, active units "
        f"{m['active_units']}/{info.config.latent_dim}; {epochs}{of} epochs, "
        f"{seconds / 60:.1f} min with the evaluation"
    )
    note += "; the original reports no test log-likelihood" if r else "; no original (su-vae settings)"
    if "regressor_log_likelihood" in m:
        note += f"; the regressor baseline (no z): {bound} = {m['regressor_log_likelihood']:.2f}"
    return {
        "what": f"{_run_id(name, dataset)}: test {bound} >= IW(1000)",
        "value": round(m["iw_log_likelihood"], 2),
        "unit": "nats",
        "note": note,
    }


ACCURACY = {
    "label-cvae": "z ~ N(0, I) decoded under each class",
    "su-cvae": "z ~ N(mu_y, I) around each class's prior mean",
}


def _record(rows: dict[str, list], commands: dict[str, str]) -> dict:
    """Merge this run's rows into those already recorded for the other runs, in DATASETS x RUNS order
    (rows recorded before the dataset was part of a run's name are dropped)."""
    path = RESULTS / "recipes.json"
    old = json.loads(path.read_text()) if path.is_file() else {"rows": [], "command": ""}
    order = [_run_id(n, d) for d in DATASETS for n in RUNS]
    for row in old["rows"]:
        run = row["what"].split(":")[0]
        if run in order and run not in commands:
            rows.setdefault(run, []).append(row)
    for line in old.get("command", "").splitlines():
        name, dataset = line.split("--name ")[-1].split()[0], line.split("--dataset ")[-1].split()[0]
        run = _run_id(name.removesuffix(f"-{dataset}"), dataset)
        if run in order:
            commands.setdefault(run, line)
    return record(
        "recipes",
        [r for n in order for r in rows.get(n, [])],
        __doc__.strip().replace("\n", " "),
        command="\n".join(commands[n] for n in order if n in commands),
    )


def main(*names: str, datasets: tuple[str, ...] | None = None, doersch_epochs: int | None = None) -> dict:
    """Every run named (all by default) on each dataset (by default mnist-5k, then full MNIST where it
    has been fetched)."""
    names = names or tuple(RUNS)
    datasets = datasets or tuple(dict.fromkeys(("mnist-5k", recipes.dataset())))
    rows, commands, scorer, result = {}, {}, None, {}
    with tempfile.TemporaryDirectory() as models:
        for dataset, name in ((d, n) for d in datasets for n in names):
            info, seconds = _train(name, dataset, models, doersch_epochs)
            run = _run_id(name, dataset)
            commands[run] = _command(name, dataset, doersch_epochs)
            rows[run] = [_row(name, dataset, info, seconds)]
            if name in ACCURACY:
                scorer = scorer or _classifier()  # (the SVC, its accuracy on real test digits)
                clf, real = scorer
                rows[run].append(
                    {
                        "what": f"{run}: class accuracy of decodes",
                        "unit": "",
                        "value": round(_class_accuracy(clf, info), 3),
                        "note": f"{ACCURACY[name]}, 1,000 decodes; the SVC scores {real:.3f} on the "
                        "real mnist-5k test digits",
                    }
                )
            result = _record({k: list(v) for k, v in rows.items()}, dict(commands))
    return result


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(prog="python -m bench.recipes", description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", metavar="NAME", help="runs (default: all): " + ", ".join(RUNS))
    p.add_argument(
        "--dataset",
        choices=DATASETS,
        action="append",
        help="repeatable (default: mnist-5k, and mnist where it has been fetched)",
    )
    p.add_argument("--doersch-epochs", type=int, default=None, help="cap Doersch's recipes at N epochs")
    a = p.parse_args()
    if unknown := set(a.names) - set(RUNS):
        p.error(f"unknown run(s) {', '.join(sorted(unknown))}; choose from {', '.join(RUNS)}")
    main(*a.names, datasets=tuple(a.dataset or ()) or None, doersch_epochs=a.doersch_epochs)
