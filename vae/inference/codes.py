"""The latent codes out of the app: one row per item (index, label, class name, mu and sigma of every
dimension, reconstruction error, ELBO, KL, and optionally the map's 2-D coordinates), written as
.npz, .csv or .parquet, and an Embedding Projector bundle (tensors.tsv, metadata.tsv, a sprite image
and projector_config.pbtxt, as the standalone Projector's "Load" and TensorBoard's plugin read it).

Items are scored in chunks of CHUNK, so a large split (70,000 MNIST digits) never holds more than a
chunk's activations; every file is written beside its target and renamed into place, so a failure
leaves no partial file.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

import numpy as np

from vae.data import images as pictures
from vae.inference import latent, scoring, views

CHUNK = 5000
TABLE_SAMPLES = 1  # z draws per item for the ELBO column: one, as the card's ELBO is (8 took 48 s for 70,000 items)
FORMATS = (".npz", ".csv", ".parquet")
SPRITE_MAX = 8192  # the Projector's sprite limit, pixels per side


def table(model, ds, *, coords=None) -> dict[str, np.ndarray]:
    """The rows of a dataset's items as named columns (each (N,))."""
    n, cols = len(ds), {}
    mu, sigma = latent.encode_dataset(model, ds.images)
    error, elbo, kl = (np.zeros(n, np.float32) for _ in range(3))
    for s in range(0, n, CHUNK):
        part = ds.images[s : s + CHUNK]
        error[s : s + CHUNK] = scoring.reconstruction_error(part, latent.decode(model, mu[s : s + CHUNK]))
        scores = views.point_scores(model, part, samples=TABLE_SAMPLES)
        elbo[s : s + CHUNK], kl[s : s + CHUNK] = scores["elbo"], scores["kl"]
    cols["index"] = np.arange(n)
    if ds.labels is not None:
        cols["label"] = np.asarray(ds.labels)
        cols["class_name"] = np.array([ds.label_name(i) for i in range(n)])
    for d in range(mu.shape[1]):
        cols[f"mu_{d + 1}"] = mu[:, d]
    for d in range(mu.shape[1]):
        cols[f"sigma_{d + 1}"] = sigma[:, d]
    cols["reconstruction_error"], cols["elbo"], cols["kl"] = error, elbo, kl
    if coords is not None:
        cols["map_x"], cols["map_y"] = np.asarray(coords)[:, 0], np.asarray(coords)[:, 1]
    return cols


def write(cols: dict[str, np.ndarray], path: str | Path) -> Path:
    """The table to .npz, .csv or .parquet by the file's suffix, atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"write codes to a {', '.join(FORMATS)} file, not {path.name!r}")
    if not path.parent.is_dir():
        raise ValueError(f"{path.parent} is not a folder")
    with _atomic(path) as tmp:
        if suffix == ".npz":
            np.savez_compressed(tmp, **cols)
        elif suffix == ".csv":
            with open(tmp, "w", newline="", encoding="utf-8") as f:
                f.write(csv_text(cols))
        else:
            import pyarrow as pa  # a dependency already (Streamlit's)
            import pyarrow.parquet as pq

            pq.write_table(pa.table({k: np.asarray(v) for k, v in cols.items()}), tmp)
    return path


def csv_text(cols: dict[str, np.ndarray], rows=None) -> str:
    """The table (or some of its rows) as CSV text, a header first."""
    keep = np.arange(len(next(iter(cols.values())))) if rows is None else np.asarray(rows)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(cols)
    for i in keep:
        w.writerow([_cell(v[i]) for v in cols.values()])
    return buf.getvalue()


def _cell(v) -> str:
    return f"{float(v):.6g}" if isinstance(v, (float, np.floating)) else str(v)


def projector(model, ds, folder: str | Path, *, max_items: int | None = None, seed: int = 0) -> dict:
    """An Embedding Projector bundle in `folder`: the items (a seeded subsample when the sprite would
    pass SPRITE_MAX, said in the result) -> {"items", "of", "files"}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    c, h, w = ds.images.shape[1:]
    fit = (SPRITE_MAX // max(h, w)) ** 2
    cap = min(fit, max_items or fit)
    keep = (
        np.arange(len(ds))
        if len(ds) <= cap
        else np.sort(np.random.default_rng(seed).choice(len(ds), cap, replace=False))
    )
    sub = type(ds)(ds.images[keep], None if ds.labels is None else ds.labels[keep], ds.class_names, ds.name)
    cols = table(model, sub)
    mu = np.stack([cols[k] for k in cols if k.startswith("mu_")], 1)
    files = {
        "tensors.tsv": "\n".join("\t".join(f"{v:.6g}" for v in row) for row in mu) + "\n",
        "metadata.tsv": _metadata(cols, keep),
        "projector_config.pbtxt": (
            "embeddings {\n"
            f'  tensor_name: "{ds.name} codes (mu)"\n'
            '  tensor_path: "tensors.tsv"\n'
            '  metadata_path: "metadata.tsv"\n'
            "  sprite {\n"
            '    image_path: "sprite.png"\n'
            f"    single_image_dim: {w}\n"
            f"    single_image_dim: {h}\n"
            "  }\n"
            "}\n"
        ),
    }
    for name, text in files.items():
        with _atomic(folder / name) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
    side = int(np.ceil(np.sqrt(len(keep))))
    sprite = pictures.tile(sub.images, ncols=side, pad=0)
    with _atomic(folder / "sprite.png") as tmp:
        Path(tmp).write_bytes(pictures.to_png(sprite))
    return {"items": int(len(keep)), "of": int(len(ds)), "files": sorted([*files, "sprite.png"])}


def _metadata(cols: dict, keep) -> str:
    header = ["index"] + (["label", "class_name"] if "label" in cols else []) + ["reconstruction_error"]
    lines = ["\t".join(header)]
    for r, i in enumerate(keep):
        row = [str(int(i))] + ([str(cols["label"][r]), str(cols["class_name"][r])] if "label" in cols else [])
        lines.append("\t".join(row + [f"{cols['reconstruction_error'][r]:.3f}"]))
    return "\n".join(lines) + "\n"


class _atomic:
    """A temporary path beside `path`, renamed over it on success and removed on failure."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __enter__(self) -> str:
        fd, self.tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=self.path.suffix)
        os.close(fd)
        return self.tmp

    def __exit__(self, kind, value, tb) -> None:
        if kind is None:
            os.chmod(self.tmp, 0o644)  # mkstemp makes it private; the files are for sharing
            os.replace(self.tmp, self.path)
        elif os.path.exists(self.tmp):
            os.remove(self.tmp)
