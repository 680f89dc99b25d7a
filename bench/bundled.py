"""The two bundled models, each on the test digits of the data it was trained on: test ELBO and
log p(x) >= IW(1000) (objectives.evaluate, seed 0, nats per digit summed over pixels), and the 5-NN
accuracy of latent means (each test digit's posterior mean classified by the majority label of its
5 nearest training-digit means, Euclidean, scikit-learn's KNeighborsClassifier).
`default` (784-512-512-2 tanh, trained on MNIST's 60,000 training digits, dynamically binarized):
MNIST's official 10,000 test digits, binarized once with the fixed seed its card uses
(objectives.binarized_test) for ELBO and IW; the 5-NN uses the grey-level digits, as the app encodes
them, against all 60,000 training digits. `mnist-5k-2d` (784-512-2, grey levels): mnist-5k's 1,000
held-out test digits against its 4,000 training digits. Needs full MNIST for the default's rows
(`python -m vae data fetch mnist`); without it they are left out. The K=1000 bound on 10,000 digits
is nearly all of the time: 40 minutes on one thread of this 2-core machine under load 10-17.
"""

from __future__ import annotations

import sys
import time

import torch
from sklearn.neighbors import KNeighborsClassifier

from vae.data import datasets as data
from vae.inference import latent
from vae.models import objectives
from vae.store import catalog as store

from .common import record

MODELS = {"default": ("mnist", True), "mnist-5k-2d": ("mnist-5k", False)}  # name -> (dataset, binarized)


def knn_accuracy(model, train: data.Dataset, test: data.Dataset, k: int = 5) -> float:
    """Share of test digits whose latent mean's k nearest training means mostly carry its label."""
    mu_train, mu_test = latent.encode_dataset(model, train.images)[0], latent.encode_dataset(model, test.images)[0]
    return float(KNeighborsClassifier(k).fit(mu_train, train.labels).score(mu_test, test.labels))


def measure(name: str, iw_samples: int = 1000) -> list[dict]:
    dataset, binarized = MODELS[name]
    model, info = store.load(name)
    train, test = data.load_splits(dataset)
    x = torch.from_numpy(test.images)
    t = time.perf_counter()
    ev = objectives.evaluate(model, objectives.binarized_test(x) if binarized else x, iw_samples=iw_samples)
    seconds = time.perf_counter() - t
    accuracy = knn_accuracy(model, train, test)
    card = info.metrics
    on = f"{len(test):,} {dataset} test digits{', binarized' if binarized else ', grey levels'}"
    what = f"{name} ({info.config.describe()}; {dataset} training split, {len(train):,} digits)"
    return [
        {
            "what": f"{what}: test ELBO",
            "value": round(ev["elbo"], 2),
            "unit": "nats",
            "note": f"{on}; KL {ev['kl']:.2f}; card {card.get('elbo', float('nan')):.2f}",
        },
        {
            "what": f"{what}: log p(x) >= IW({iw_samples})",
            "value": round(ev["iw_log_likelihood"], 2),
            "unit": "nats",
            "note": f"{on}; {seconds:.0f} s; card {card.get('iw_log_likelihood', float('nan')):.2f} "
            f"(K={card.get('iw_samples')})",
        },
        {
            "what": f"{what}: 5-NN accuracy of latent means",
            "value": round(100 * accuracy, 1),
            "unit": "%",
            "note": f"{len(test):,} test digits against {len(train):,} training digits, grey levels",
        },
    ]


def main(iw_samples: int = 1000) -> dict:
    rows = []
    for name, (dataset, _) in MODELS.items():
        if not data.is_available(dataset):
            print(f"  {name}: {dataset} is not downloaded (python -m vae data fetch {dataset}); left out")
            continue
        rows += measure(name, iw_samples)
    return record("bundled", rows, __doc__.strip().replace("\n", " "), iw_samples=iw_samples)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
