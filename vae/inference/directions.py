"""Directions in latent space: find one, measure how good it is, apply it.

A Direction's `vector` is always a displacement to add to a code, z + amount * vector:
- between two groups of items it carries the source group's mean code to the target's
  (`between`: White 2016's difference of means; the same balanced over a confounder, White's bias
  correction; or a logistic-regression probe's normal, with its intercept, InterFaceGAN-style,
  optionally made orthogonal to other directions and scaled to carry the means);
- along a measured property (`along`: a ridge regression of the property on the codes) it points
  where the property grows and changes it by one standard deviation of the data;
- a principal direction (`principal`, GANSpace) or a latent axis (`axes`, ordered by KL) is one
  standard deviation of the codes along it.

Quality (`Quality`), on held-out codes: the ROC AUC of z . vector as a classifier of the two groups
(an intercept does not change a ranking, so none is needed for the AUC); the R^2 of a property's
regression; `consistency` of matched pairs (Liu et al. 2019: the mean cosine among the pairs'
differences against random pairs', with Cohen's d); `transfer` (held-out source items moved by the
vector, decoded and read by an independent pixel classifier, beside a random direction of the same
length) and how far the moved pictures drift from the originals. `analogy` and `j_diagram` (White's
J-diagram: corners A, B, C and D = C + (B - A), lerp or slerp inside).

Numpy in and out; nothing here imports streamlit or the store.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from vae.inference import latent

METHODS = ("mean", "balanced", "probe")
RANDOM_PAIRS = 2000  # Liu et al.'s random pairs for the consistency baseline
MAX_PAIRS = 2000  # matched pairs' differences compared (a sample when there are more)
READER_ITERATIONS = 200  # lbfgs steps of the pixel classifier: emoji's 3,072 inputs would take minutes to converge


class DirectionError(ValueError):
    """Bad input for a direction: a group spec, a column, an empty group. The message says what exists."""


@dataclass
class Direction:
    vector: np.ndarray  # (D,) the displacement z + amount * vector applies
    method: str  # mean | balanced | probe | ridge | pca | axis
    source: str  # what it was made from, e.g. "label=3 -> label=8", "brightness", "PC1"
    quality: dict = field(default_factory=dict)  # the figures measured with it (see the module doc)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["vector"] = [float(v) for v in self.vector]
        return out

    def summary(self) -> str:
        """Its length and quality figures in one line (what the CLI prints and the pages show)."""
        q, parts = self.quality, [f"length {np.linalg.norm(self.vector):.3f}"]
        if "auc" in q:
            parts.append(f"held-out AUC {q['auc']:.3f}")
        if "r2" in q:
            parts.append(f"held-out R² {q['r2']:.3f}")
        if "transfer" in q:
            t = q["transfer"]
            parts.append(
                f"{t['read_as_target']:.0%} of {t['items']} moved held-out items read as the target (a random "
                f"direction: {t['random_read_as_target']:.0%}; drift {t['drift_grey_levels']:.1f} grey levels)"
            )
        if "consistency" in q:
            c = q["consistency"]
            cosines = f"{c['mean_cosine']:.2f} vs {c['random_cosine']:.2f} at random"
            parts.append(f"pair consistency {cosines} (d = {c['cohens_d']:.2f})")
        if "variance_share" in q:
            parts.append(f"{q['variance_share']:.1%} of the variance")
        if "kl" in q:
            parts.append(f"KL {q['kl']:.2f} nats" + ("" if q.get("active") else " (inactive)"))
        return "; ".join(parts)

    @classmethod
    def from_dict(cls, d: dict) -> Direction:
        vector = np.asarray(d["vector"], dtype=np.float32)
        if vector.ndim != 1 or not np.isfinite(vector).all():
            raise DirectionError("a direction's vector must be a list of finite numbers")
        return cls(vector, str(d.get("method", "?")), str(d.get("source", "")), dict(d.get("quality") or {}))


# --- groups -------------------------------------------------------------------------------------

_SPEC = re.compile(r"^\s*([\w-]+)\s*=\s*(.+?)\s*$")


def group(spec: str, columns: dict[str, np.ndarray], n: int) -> np.ndarray:
    """A group of items as a boolean mask (n,): "label=3", "COLUMN=value" (a metadata column the
    dataset has; class names are accepted for the label), "ids=4,17,230" (item indices)."""
    m = _SPEC.match(spec or "")
    if not m:
        raise DirectionError(f"a group is NAME=VALUE (label=3, ids=1,2,3, or a column), got {spec!r}")
    name, value = m.group(1), m.group(2)
    if name == "ids":
        try:
            ids = np.array([int(v) for v in value.split(",")])
        except ValueError:
            raise DirectionError(f"ids must be item numbers separated by commas, got {value!r}") from None
        if ids.min() < 0 or ids.max() >= n:
            raise DirectionError(f"ids must be between 0 and {n - 1}, got {value!r}")
        mask = np.zeros(n, bool)
        mask[ids] = True
        return mask
    if name not in columns:
        known = ", ".join(["ids", *(c for c in columns if ":" not in c)])
        raise DirectionError(f"this dataset has no column {name!r}; it has: {known}")
    column = np.asarray(columns[name])
    names = columns.get(f"{name}:names")
    mask = column.astype(str) == value
    if not mask.any() and names is not None and value in list(names):
        mask = column == list(names).index(value)
    if not mask.any():
        shown = list(names) if names is not None else sorted({str(v) for v in column})[:20]
        raise DirectionError(f"no item has {name}={value}; {name} takes: {', '.join(map(str, shown))}")
    return mask


def columns_of(labels, class_names=None, extra: dict | None = None) -> dict[str, np.ndarray]:
    """The columns a group spec may name: "label" (with its class names under "label:names") and a
    dataset's metadata columns (emoji: vendor, skin tone), each an array with one value per item."""
    out: dict[str, np.ndarray] = {}
    if labels is not None:
        out["label"] = np.asarray(labels)
        if class_names is not None:
            out["label:names"] = np.asarray([str(c) for c in class_names])
    out.update(extra or {})
    return out


# --- finding a direction ------------------------------------------------------------------------


def between(
    mu, source, target, method: str = "mean", *, confounder=None, orthogonal_to=(), seed: int = 0
) -> np.ndarray:
    """The displacement from the source group's codes to the target's (masks over mu (N, D)).
    mean: difference of the groups' mean codes (White). balanced: the same with every combination of
    (group, confounder value) replicated cyclically up to the largest, so a confounder the groups
    differ in does not leak into the vector (White's bias correction); values missing from either
    group are left out. probe: a logistic regression's normal (with an intercept), optionally made
    orthogonal to `orthogonal_to` (InterFaceGAN's conditioning), scaled to carry the mean codes."""
    mu = np.asarray(mu, np.float64)
    source, target = np.asarray(source, bool), np.asarray(target, bool)
    for what, mask in (("source", source), ("target", target)):
        if not mask.any():
            raise DirectionError(f"the {what} group is empty")
    if (source & target).any():
        raise DirectionError("an item is in both groups: make the source and target groups disjoint")
    if method == "mean":
        return (mu[target].mean(0) - mu[source].mean(0)).astype(np.float32)
    if method == "balanced":
        if confounder is None:
            raise DirectionError("balanced needs a column to balance over (--balance COLUMN)")
        return _balanced(mu, source, target, np.asarray(confounder))
    if method == "probe":
        return _probe(mu, source, target, orthogonal_to, seed)
    raise DirectionError(f"method must be one of {', '.join(METHODS)}, got {method!r}")


def _balanced(mu, source, target, confounder) -> np.ndarray:
    values = sorted(set(confounder[source]) & set(confounder[target]), key=str)
    if not values:
        raise DirectionError("the two groups share no value of the balancing column: nothing to balance")
    cells = [mu[g & (confounder == v)] for g in (source, target) for v in values]
    size = max(len(c) for c in cells)
    grown = [np.resize(c, (size, mu.shape[1])) for c in cells]  # cyclic replication (White)
    k = len(values)
    return (np.concatenate(grown[k:]).mean(0) - np.concatenate(grown[:k]).mean(0)).astype(np.float32)


def _probe(mu, source, target, orthogonal_to, seed: int) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    keep = source | target
    clf = LogisticRegression(max_iter=2000, random_state=seed).fit(mu[keep], target[keep].astype(int))
    normal = clf.coef_[0].astype(np.float64)
    for other in orthogonal_to:  # InterFaceGAN: n' = n - (n.c) c, then renormalised
        c = np.asarray(other, np.float64)
        c = c / (np.linalg.norm(c) or 1.0)
        normal = normal - (normal @ c) * c
    norm = np.linalg.norm(normal)
    if norm < 1e-12:
        raise DirectionError("the probe's normal vanished after conditioning: the groups differ only there")
    normal /= norm
    carry = (mu[target].mean(0) - mu[source].mean(0)) @ normal  # the means' separation along it
    return (normal * carry).astype(np.float32)


def along(mu, values, *, alpha: float = 1.0) -> tuple[np.ndarray, object]:
    """A property (N,) regressed on the codes (ridge): the displacement that raises the predicted
    property by one standard deviation of `values`, and the fitted regression (for R^2)."""
    from sklearn.linear_model import Ridge

    mu, values = np.asarray(mu, np.float64), np.asarray(values, np.float64)
    reg = Ridge(alpha=alpha).fit(mu, values)
    w = reg.coef_
    if np.linalg.norm(w) < 1e-12:
        raise DirectionError("the property does not vary with the codes: no direction to follow")
    return (w * values.std() / (w @ w)).astype(np.float32), reg


def principal(mu, k: int = 5) -> list[tuple[np.ndarray, float]]:
    """The first k principal directions of the codes (GANSpace), each one standard deviation long,
    with the share of the variance it explains."""
    mu = np.asarray(mu, np.float64)
    centred = mu - mu.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    var = s**2 / max(len(mu) - 1, 1)
    share = var / var.sum() if var.sum() > 0 else var
    return [((vt[i] * np.sqrt(var[i])).astype(np.float32), float(share[i])) for i in range(min(k, len(s)))]


def axes(mu, kl_per_dim) -> list[tuple[int, np.ndarray, float]]:
    """The latent axes by decreasing KL: (dimension, one standard deviation of the codes along it, KL)."""
    mu = np.asarray(mu, np.float64)
    out = []
    for i in np.argsort(-np.asarray(kl_per_dim)):
        v = np.zeros(mu.shape[1], np.float32)
        v[i] = mu[:, i].std()
        out.append((int(i), v, float(kl_per_dim[i])))
    return out


# --- properties of images -----------------------------------------------------------------------

PROPERTIES = ("brightness", "saturation", "hue")


def measure(images, name: str) -> np.ndarray:
    """A property of each image (N, C, H, W) in [0, 1]: brightness (mean pixel value: for light-on-dark
    digits, the ink), saturation (mean HSV saturation) or hue (the circular mean hue of the coloured
    pixels, in turns of [0, 1)); the last two need colour images."""
    x = np.asarray(images, np.float64)
    if name == "brightness":
        return x.reshape(len(x), -1).mean(1)
    if name not in PROPERTIES:
        raise DirectionError(f"unknown property {name!r}; known: {', '.join(PROPERTIES)}")
    if x.shape[1] != 3:
        raise DirectionError(f"{name} needs colour images; these have {x.shape[1]} channel(s): use brightness")
    hi, lo = x.max(1), x.min(1)
    sat = np.where(hi > 0, (hi - lo) / np.maximum(hi, 1e-12), 0.0)
    if name == "saturation":
        return sat.reshape(len(x), -1).mean(1)
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    angle = np.arctan2(np.sqrt(3) * (g - b), 2 * r - g - b)  # the hue angle of each pixel
    weight = hi - lo  # grey pixels have no hue
    c = (weight * np.cos(angle)).reshape(len(x), -1).sum(1)
    s = (weight * np.sin(angle)).reshape(len(x), -1).sum(1)
    return (np.arctan2(s, c) / (2 * np.pi)) % 1.0


# --- quality ------------------------------------------------------------------------------------


def auc(vector, mu, source, target) -> float:
    """ROC AUC of z . vector telling the target group from the source group (held-out codes)."""
    from sklearn.metrics import roc_auc_score

    source, target = np.asarray(source, bool), np.asarray(target, bool)
    keep = source | target
    if not source.any() or not target.any():
        return float("nan")
    score = np.asarray(mu, np.float64)[keep] @ np.asarray(vector, np.float64)
    return float(roc_auc_score(target[keep].astype(int), score))


def consistency(diffs, mu, *, seed: int = 0) -> dict:
    """Liu et al.'s consistency: the mean cosine among matched pairs' differences (N, D) against the
    cosine among the differences of RANDOM_PAIRS random pairs of codes, with Cohen's d."""
    rng = np.random.default_rng(seed)
    diffs = np.asarray(diffs, np.float64)
    if len(diffs) > MAX_PAIRS:
        diffs = diffs[rng.choice(len(diffs), MAX_PAIRS, replace=False)]
    mu = np.asarray(mu, np.float64)
    i, j = rng.integers(0, len(mu), (2, RANDOM_PAIRS))
    pairs, random = _cosines(diffs), _cosines(mu[i] - mu[j])
    pooled = np.sqrt((pairs.var(ddof=1) + random.var(ddof=1)) / 2) if len(pairs) > 1 else float("nan")
    return {
        "pairs": int(len(diffs)),
        "mean_cosine": float(pairs.mean()),
        "random_cosine": float(random.mean()),
        "cohens_d": float((pairs.mean() - random.mean()) / pooled) if pooled else float("nan"),
    }


def _cosines(v: np.ndarray) -> np.ndarray:
    """The cosine of every pair of rows (upper triangle), rows of zero length left out."""
    norms = np.linalg.norm(v, axis=1)
    v = v[norms > 1e-12] / norms[norms > 1e-12, None]
    c = v @ v.T
    return c[np.triu_indices(len(v), k=1)]


def transfer(model, vector, mu_source, images_source, read, target_class: int, *, seed: int = 0) -> dict:
    """Move held-out source codes by the vector, decode, and ask `read` (pictures (N, C, H, W) ->
    classes) how many it reads as the target; the same for a random direction of the same length.
    Drift: mean absolute pixel difference between each moved picture and its original, in grey
    levels of 255."""
    mu_source = np.asarray(mu_source, np.float32)
    vector = np.asarray(vector, np.float32)
    moved = latent.decode(model, mu_source + vector)
    rng = np.random.default_rng(seed)
    random = rng.standard_normal(vector.shape).astype(np.float32)
    random *= np.linalg.norm(vector) / (np.linalg.norm(random) or 1.0)
    moved_random = latent.decode(model, mu_source + random)
    originals = np.asarray(images_source, np.float64).reshape(len(moved), -1)
    drift = np.abs(moved.reshape(len(moved), -1) - originals).mean(1) * 255
    return {
        "items": int(len(moved)),
        "read_as_target": float(np.mean(read(moved) == target_class)),
        "random_read_as_target": float(np.mean(read(moved_random) == target_class)),
        "drift_grey_levels": float(drift.mean()),
    }


def pixel_classifier(images, labels, *, seed: int = 0, max_items: int = 6000):
    """An independent reader of decoded pictures: a multinomial logistic regression on raw pixels,
    fitted on (at most max_items of) a dataset's training split. Returns (coef, intercept)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(images, np.float32).reshape(len(images), -1)
    y = np.asarray(labels)
    if len(x) > max_items:
        keep = np.random.default_rng(seed).choice(len(x), max_items, replace=False)
        x, y = x[keep], y[keep]
    with warnings.catch_warnings():  # a reader stopped at READER_ITERATIONS: judged by its accuracy, not convergence
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LogisticRegression(max_iter=READER_ITERATIONS, C=0.05, random_state=seed).fit(x, y)
    return clf.coef_.astype(np.float32), clf.intercept_.astype(np.float32), clf.classes_


def reader(coef, intercept, classes):
    """A pixel classifier's (coef, intercept, classes) -> read(pictures) -> classes."""

    def read(pictures) -> np.ndarray:
        x = np.asarray(pictures, np.float32).reshape(len(pictures), -1)
        scores = x @ np.asarray(coef).T + intercept  # (N, K), or (N, 1) for two classes
        picked = np.argmax(scores, axis=1) if scores.shape[1] > 1 else (scores[:, 0] > 0).astype(int)
        return np.asarray(classes)[picked]

    return read


# --- a map with directions for axes -------------------------------------------------------------


@dataclass
class CustomAxes:
    """The Embedding Projector's custom projection, as Liu et al. do it: x along a chosen direction,
    y along a second one (made orthogonal to x) or the first principal direction of what is left
    once x is taken out of the centred codes."""

    coords: np.ndarray  # (N, 2) each code's position: (z - mean) . x_unit, (z - mean) . y_unit
    mean: np.ndarray  # (D,) the codes' mean, the map's origin
    units: np.ndarray  # (2, D) the two unit vectors

    def codes(self, axis: int, values) -> np.ndarray:
        """Codes along one axis through the mean, at these positions -> (len(values), D): a ruler."""
        return (self.mean + np.asarray(values, np.float64)[:, None] * self.units[axis]).astype(np.float32)


def custom_axes(mu, x, y=None) -> CustomAxes:
    mu = np.asarray(mu, np.float64)
    mean = mu.mean(0)
    centred = mu - mean
    xu = _unit(x)
    rest = centred - np.outer(centred @ xu, xu)
    if y is None:
        _, _, vt = np.linalg.svd(rest, full_matrices=False)
        yu = vt[0]
    else:
        yv = np.asarray(y, np.float64)
        yu = _unit(yv - (yv @ xu) * xu)
    units = np.stack([xu, yu])
    return CustomAxes(centred @ units.T, mean, units)


def _unit(v) -> np.ndarray:
    v = np.asarray(v, np.float64)
    n = np.linalg.norm(v)
    if n < 1e-12:
        raise DirectionError("a direction of length zero cannot be an axis")
    return v / n


# --- applying -----------------------------------------------------------------------------------


def edit(z, vector, amounts) -> np.ndarray:
    """z (D,) moved by each amount times the vector -> (len(amounts), D)."""
    z, vector = np.asarray(z, np.float32), np.asarray(vector, np.float32)
    return np.stack([z + float(a) * vector for a in amounts]).astype(np.float32)


def analogy(a, b, c) -> np.ndarray:
    """D = C + (B - A): what C becomes when it changes as A changed into B."""
    a, b, c = (np.asarray(v, np.float64) for v in (a, b, c))
    return (c + (b - a)).astype(np.float32)


def j_diagram(a, b, c, n: int = 5, method: str = "linear") -> np.ndarray:
    """White's J-diagram: an (n, n, D) grid of codes with A top left, B top right, C bottom left and
    D = C + (B - A) bottom right; rows and columns interpolated (linear or spherical)."""
    if n < 2:
        raise DirectionError("a J-diagram needs at least 2 x 2 cells")
    d = analogy(a, b, c)
    top, bottom = latent.interpolate(a, b, n, method), latent.interpolate(c, d, n, method)
    return np.stack([latent.interpolate(top[j], bottom[j], n, method) for j in range(n)], axis=1)
