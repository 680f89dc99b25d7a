"""What a model card's headline numbers mean, in one plain sentence each, for people who do not
read nats: what the number measures, which way is better, and a reference value where one is fair.

`explain(info)` -> {"elbo", "iw", "kl", "active", "gap"} -> sentence, for the model's stored test
metrics (empty when it has none). The published references are the binarized-MNIST figures of
Davidson et al. 2018 (2-D, Table 1) and Burda et al. 2016 (50-D), given only where they are
comparable: a Bernoulli model measured on binarized 28x28 grey images. Grey-level Bernoulli scores
are not, and say so; colour models are read in bits per dimension, where 8 bits is a model that
knows nothing about 8-bit pixels (uniform over 256 levels).
"""

from __future__ import annotations

import math

from vae.store.catalog import ModelInfo

PUBLISHED_2D = -135.7  # nats, 2-D Gaussian VAE, binarized MNIST, IW(500) (Davidson et al. 2018, Table 1)
PUBLISHED_50D = -86.8  # nats, 50-D VAE, binarized MNIST (Burda et al. 2016)


def _reference(info: ModelInfo) -> str:
    m, cfg = info.metrics, info.config
    if "iw_log_likelihood_bits_per_dim" in m:
        return (
            f" In bits per dimension: {m['iw_log_likelihood_bits_per_dim']:.3f} (lower is better; 8 would "
            "be a model that knows nothing about 8-bit pixels)."
        )
    if cfg.likelihood != "bernoulli" or tuple(cfg.image_shape) != (1, 28, 28):
        return ""
    if m.get("binarized"):
        ours = (
            f" This 2-D model: {m['iw_log_likelihood']:.1f}, {m['iw_log_likelihood'] - PUBLISHED_2D:+.1f} "
            "nats from the published 2-D figure."
            if cfg.latent_dim == 2
            else ""
        )
        return f" Published on binarized MNIST: about {PUBLISHED_2D} for a 2-D latent, {PUBLISHED_50D} for 50-D.{ours}"
    return (
        " Measured on grey levels, so not comparable with the published binarized-MNIST figures "
        f"({PUBLISHED_2D} for 2-D, {PUBLISHED_50D} for 50-D)."
    )


def explain(info: ModelInfo) -> dict[str, str]:
    """One sentence per headline number of the model's stored test metrics ({} without metrics)."""
    m, cfg = info.metrics, info.config
    if not m:
        return {}
    values = math.prod(cfg.image_shape)
    out = {
        "elbo": (
            f"How well the model explains a test image: log-likelihood of its {values:,} pixel values "
            "given the code, minus the KL; in nats (natural-log units) per image. Higher (nearer 0) is "
            "better; it is a lower bound on log p(x)."
        ),
        "iw": (
            f"The model's log-likelihood log p(x) of a test image, estimated with {m.get('iw_samples')} "
            "importance samples: the fairest single number to compare models by. Higher is better." + _reference(info)
        ),
        "kl": (
            f"How much the code says about each image: {m['kl']:.1f} nats = {m['kl'] / math.log(2):.1f} bits. "
            "Near 0 means the decoder ignores the code (posterior collapse); more is not better by itself."
        ),
        "active": (
            "Latent dimensions the encoder uses (their codes vary across images); an inactive one "
            "decodes the same for every image."
        ),
    }
    if "iw_log_likelihood" in m and "elbo" in m:
        gap = m["iw_log_likelihood"] - m["elbo"]
        out["gap"] = (
            f"The ELBO sits at least {gap:.1f} nats below log p(x) (the estimate above is itself a lower "
            "bound): how far the encoder's q(z|x) is from the true posterior on average (the "
            "inference gap)."
        )
    return out


def surgery_sentences(s: dict) -> dict[str, str]:
    """ELBO surgery's two terms (vae.inference.aggregate.surgery) in one plain sentence each."""
    sub = f" (on {s['n']:,} of its {s['of']:,} images)" if s["n"] < s["of"] else ""
    return {
        "mutual_information": (
            f"Of the average KL, {s['mutual_information']:.2f} nats tell the images apart (the mutual information "
            f"between an image and its code; at most log N = {s['log_n']:.2f} for these {s['n']:,} images{sub})."
        ),
        "marginal_kl": (
            f"{s['marginal_kl']:.2f} nats measure how far the codes' mixture q(z) is from the prior N(0, I): the "
            "larger, the more of the prior lies in holes between the codes, where samples decode to blurs."
        ),
    }
