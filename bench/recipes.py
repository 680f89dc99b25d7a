"""The reference systems' recipes on mnist-5k: test ELBO and IW(1000) of each, the completion CVAE
against its regressor baseline, and how often decodes of random z show the class they were asked for.

Each recipe runs as the CLI command `python -m vae train --recipe NAME --dataset mnist-5k
--eval-iw-samples 1000` in a subprocess (3,600 training and 400 validation digits, grey levels as in
the originals; the recipe's own epochs, except Doersch's two, run for DOERSCH_EPOCHS = 20 of their 100
unless `--all-epochs` is given: their 784-1000-500-250 networks cost about 10x the others' per step),
and its saved test metrics (the 1,000 mnist-5k test digits,
conditional models with their condition given) are read back. A label-conditional VAE with the su-vae
network and settings (`--recipe su-vae --conditional label`) is trained the same way. Class accuracy:
an RBF support-vector classifier (scikit-learn SVC, default settings) trained on the 4,000 real
mnist-5k training digits' pixels labels 1,000 decodes per model: for the label CVAE z ~ N(0, I) decoded
under each class (100 each), for su-cvae z ~ N(mu_y, I) around each class's learned prior mean. The
classifier's own accuracy on the real test digits is reported beside them. None of the originals
publishes a test log-likelihood; they all train on full MNIST.
`python -m bench.recipes [NAME ...] [--all-epochs]` runs only the runs named and keeps the other runs'
rows already recorded; the result file is rewritten after every run.
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

from vae import data, recipes, store

from .common import RESULTS, record

DOERSCH_EPOCHS = 20
RUNS = {"tflearn": "--recipe tflearn", "su-vae": "--recipe su-vae", "su-cvae": "--recipe su-cvae",
        "label-cvae": "--recipe su-vae --conditional label",
        "doersch-vae": f"--recipe doersch-vae --epochs {DOERSCH_EPOCHS}",
        "doersch-cvae": f"--recipe doersch-cvae --epochs {DOERSCH_EPOCHS}"}
COMMAND = "python -m vae train {options} --dataset mnist-5k --eval-iw-samples 1000 --name {name} --quiet"


def _command(name: str, all_epochs: bool) -> str:
    options = RUNS[name].replace(f" --epochs {DOERSCH_EPOCHS}", "") if all_epochs else RUNS[name]
    return COMMAND.format(options=options, name=name)


def _train(name: str, models: str, all_epochs: bool) -> tuple[store.ModelInfo, float]:
    argv = [sys.executable, *shlex.split(_command(name, all_epochs))[1:]]
    t = time.perf_counter()
    subprocess.run(argv, check=True, env={**os.environ, "VAE_MODELS_DIR": models})
    return store.find(name, models), time.perf_counter() - t


def _classifier():
    from sklearn.svm import SVC
    train, test = data.load_splits("mnist-5k")
    clf = SVC().fit(train.images.reshape(len(train.images), -1), train.labels)
    return clf, float((clf.predict(test.images.reshape(len(test.images), -1)) == test.labels).mean())


@torch.inference_mode()
def _class_accuracy(clf, name: str, models: str) -> float:
    model, _ = store.load(name, models)
    y = torch.arange(10).repeat_interleave(100)
    z = torch.randn(len(y), model.latent_dim, generator=torch.Generator().manual_seed(0))
    images = model.decode(z, y) if model.config.conditional == "label" else model.decode(z + model.prior_mean(y))
    return float((clf.predict(images.flatten(1).numpy()) == y.numpy()).mean())


def _row(name: str, info: store.ModelInfo, seconds: float) -> dict:
    m, r = info.metrics, recipes.RECIPES.get(name)
    bound = {"label": "log p(x|y)", "prior": "log p(x|y)", "completion": "log p(rest|column)"}.get(
        info.config.conditional, "log p(x)")
    epochs = len(info.meta["history"])
    of = f" of the recipe's {r.train['epochs']}" if r and epochs != r.train["epochs"] else ""
    note = (f"{info.config.describe()}; ELBO {m['elbo']:.2f}, KL {m['kl']:.2f}, active units "
            f"{m['active_units']}/{info.config.latent_dim}; {epochs}{of} epochs, "
            f"{seconds / 60:.1f} min with the evaluation")
    note += "; the original reports no test log-likelihood" if r else "; no original (su-vae settings)"
    if "regressor_log_likelihood" in m:
        note += f"; the regressor baseline (no z): {bound} = {m['regressor_log_likelihood']:.2f}"
    return {"what": f"{name}: test {bound} >= IW(1000)", "value": round(m["iw_log_likelihood"], 2),
            "unit": "nats", "note": note}


ACCURACY = {"label-cvae": "z ~ N(0, I) decoded under each class",
            "su-cvae": "z ~ N(mu_y, I) around each class's prior mean"}


def _record(rows: dict[str, list], commands: dict[str, str]) -> dict:
    """Merge this run's rows into those already recorded for the other runs, in RUNS order."""
    path = RESULTS / "recipes.json"
    old = json.loads(path.read_text()) if path.is_file() else {"rows": [], "command": ""}
    mine = set(rows)
    for row in old["rows"]:
        run = row["what"].split(":")[0]
        if run not in mine:
            rows.setdefault(run, []).append(row)
    for line in old.get("command", "").splitlines():
        commands.setdefault(line.split("--name ")[-1].split()[0], line)
    order = [n for n in RUNS if n in rows]
    return record("recipes", [r for n in order for r in rows[n]], __doc__.strip().replace("\n", " "),
                  command="\n".join(commands[n] for n in RUNS if n in commands))


def main(*names: str, all_epochs: bool = False) -> dict:
    names = names or tuple(RUNS)
    rows, commands, scorer = {}, {}, None
    with tempfile.TemporaryDirectory() as models:
        for name in names:
            info, seconds = _train(name, models, all_epochs)
            commands[name] = _command(name, all_epochs)
            rows[name] = [_row(name, info, seconds)]
            if name in ACCURACY:
                scorer = scorer or _classifier()  # (the SVC, its accuracy on real test digits)
                clf, real = scorer
                rows[name].append({"what": f"{name}: class accuracy of decodes", "unit": "",
                             "value": round(_class_accuracy(clf, name, models), 3),
                             "note": f"{ACCURACY[name]}, 1,000 decodes; the SVC scores {real:.3f} on the real "
                             "test digits"})
            result = _record({k: list(v) for k, v in rows.items()}, dict(commands))
    return result


if __name__ == "__main__":
    main(*[a for a in sys.argv[1:] if a != "--all-epochs"], all_epochs="--all-epochs" in sys.argv)
