"""Recipes: the settings of the three public VAE implementations this product learns from.

`python -m vae train --recipe NAME` (and the Train page's recipe picker) starts from a recipe's model
and training settings; any option given overrides them. A recipe trains on full MNIST when it has
been fetched (`python -m vae data fetch mnist`) and on mnist-5k otherwise; the model keeps the recipe's
name and the dataset in its training settings, and its card says which data it saw.
All three originals train on grey-level MNIST (pixel intensities in [0, 1] as Bernoulli targets, no
binarization), so their numbers are not comparable with binarized-MNIST results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vae.data import datasets as data

DOERSCH = "https://github.com/cdoersch/vae_tutorial"
TFLEARN = "https://github.com/tflearn/tflearn/blob/master/examples/images/variational_autoencoder.py"
SU = "https://github.com/bojone/vae"
_DOERSCH_NET = dict(hidden=(1000, 500, 250), latent_dim=30, activation="relu", likelihood="bernoulli")
_DOERSCH_SOLVER = dict(optimizer="adam", lr=1e-3, weight_decay=5e-4, batch_size=100, epochs=100)
_DOERSCH_DIFFERS = (
    "PyTorch's default initialisation (Caffe: Gaussian std 0.1 with 15 non-zero inputs per unit); "
    "weight decay also on biases (Caffe: decay_mult 0 on biases); log sigma^2 from the last hidden "
    "layer after its ReLU (the prototxt takes log sigma from it before the ReLU); 100 epochs "
    "(the solver's 60,000 steps of 100 are 100 epochs of full MNIST); 10% of the training split held "
    "out for validation."
)
_SMALL_NET = dict(hidden=(256,), latent_dim=2, activation="relu", likelihood="bernoulli")
_KERAS_RMSPROP = (
    "RMSprop with decay 0.9 and eps 1e-7 added outside the square root (Keras: eps 1e-7; "
    "TensorFlow/tflearn: eps 1e-10 inside it)"
)


EMOJI_NET = dict(
    arch="conv", conv_channels=(32, 64, 128), conv_dense=256, latent_dim=2, activation="relu", likelihood="logistic"
)
EMOJI_SOLVER = dict(optimizer="adam", lr=1e-3, batch_size=64, epochs=60, warmup_epochs=5)


@dataclass(frozen=True)
class Recipe:
    name: str
    title: str  # one line: what it is
    source: str  # where the original lives
    model: dict  # ModelConfig settings (image_shape and num_classes come from the data)
    train: dict  # TrainConfig settings
    differs: str  # what differs from the original, in words
    reported: dict = field(default_factory=dict)  # numbers the original reports ({} if none)
    dataset: str | None = None  # its own dataset; None: full MNIST when fetched, else mnist-5k


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            "doersch-vae",
            "Doersch's tutorial VAE: 784-1000-500-250, latent 30, Adam 1e-3, weight decay 5e-4, batch 100",
            f"{DOERSCH} (mnist_vae.prototxt, mnist_vae_solver_adam.prototxt)",
            _DOERSCH_NET,
            _DOERSCH_SOLVER,
            _DOERSCH_DIFFERS,
        ),
        Recipe(
            "doersch-cvae",
            "Doersch's tutorial CVAE: complete a digit from its stochastically binarised "
            "centre column (column 13) through a 1000-500-250-250 condition network, with the "
            "deterministic regressor baseline",
            f"{DOERSCH} (mnist_cvae.prototxt, mnist_regressor.prototxt)",
            {
                **_DOERSCH_NET,
                "conditional": "completion",
                "visible": "centre-column",
                "condition_hidden": (1000, 500, 250, 250),
                "binarize_condition": True,
            },
            _DOERSCH_SOLVER,
            _DOERSCH_DIFFERS + " The regressor is trained in the same run (its own weights and loss "
            "term; the tutorial trains it in a separate run with the same solver). Test scores sample "
            "the column once with a seeded generator (the tutorial's figure script thresholds it at "
            "uniform(0, 2), i.e. with half the probability).",
        ),
        Recipe(
            "tflearn",
            "tflearn's example VAE: 784-256-2, RMSprop 1e-3, batch 256, 100 epochs",
            TFLEARN,
            _SMALL_NET,
            dict(optimizer="rmsprop", lr=1e-3, batch_size=256, epochs=100),
            f"{_KERAS_RMSPROP}; the Bernoulli likelihood on logits (the original clips log(p + 1e-10)); "
            "validation on 10% of the training split (the original validates on the test set); its "
            "manifold uses the corrected grid norm.ppf(linspace(eps, 1 - eps)) (the original's "
            "norm.ppf(linspace(0, 1)) decodes its outer rows from infinite z).",
        ),
        Recipe(
            "su-vae",
            "Su Jianlin's Keras VAE (vae_keras.py): 784-256-2, RMSprop, batch 100, 50 epochs",
            f"{SU} (vae_keras.py)",
            _SMALL_NET,
            dict(optimizer="rmsprop", lr=1e-3, batch_size=100, epochs=50),
            f"{_KERAS_RMSPROP}; validation on 10% of the training split (the original: the test set).",
        ),
        Recipe(
            "su-cvae",
            "Su Jianlin's Keras CVAE (cvae_keras.py): the su-vae network with a learned prior "
            "mean per class, p(z|y) = N(mu_y, I); no condition in the encoder or decoder; 100 epochs",
            f"{SU} (cvae_keras.py)",
            {**_SMALL_NET, "conditional": "prior"},
            dict(optimizer="rmsprop", lr=1e-3, batch_size=100, epochs=100),
            f"{_KERAS_RMSPROP}; the prior means are a free (classes x latent) parameter with "
            "Glorot-uniform initialisation (the original: Dense(latent)(one-hot y), whose bias only adds "
            "a shared offset); validation on 10% of the training split (the original: the test set).",
        ),
        Recipe(
            "emoji-conv",
            "This project's colour recipe: a conv VAE on 32x32 emoji, stride-2 convolutions "
            "32-64-128, dense 256, a 2-D latent, the discretized logistic likelihood; Adam, KL warm-up",
            "this project (vae/training/recipes.py); the architecture follows the Keras example's conv VAE",
            EMOJI_NET,
            EMOJI_SOLVER,
            "not a published system: chosen here to train in under 15 minutes on 2 CPU cores; no augmentation",
            dataset="emoji",
        ),
    )
}


def get(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}: choose one of {', '.join(RECIPES)}")
    return RECIPES[name]


def dataset(data_dir=None, name: str | None = None) -> str:
    """The recipe's own dataset, else full MNIST when it has been fetched, mnist-5k otherwise."""
    if name is not None and get(name).dataset:
        return get(name).dataset
    return "mnist" if data.is_available("mnist", data_dir) else "mnist-5k"


def settings(name: str) -> tuple[dict, dict]:
    """(ModelConfig settings, TrainConfig settings) of a recipe; num_classes comes from the data
    (vae.models.conditional.with_classes). The recipe's name goes into the training settings' extra notes."""
    r = get(name)
    return dict(r.model), {**r.train, "extra": {"recipe": r.name}}


def describe(r: Recipe) -> str:
    """Several lines for `python -m vae recipes`."""
    reported = ", ".join(f"{k} {v}" for k, v in r.reported.items()) or "no test log-likelihood"
    data_line = f"\n  trains on {r.dataset}" if r.dataset else ""
    return (
        f"{r.name}\n  {r.title}\n  source: {r.source}{data_line}\n  the original reports: {reported}\n"
        f"  differs from the original: {r.differs}"
    )
