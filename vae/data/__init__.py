"""Data: the named datasets and their download, user uploads, array files, picture preparation.

datasets.py (Dataset, load, load_splits), downloads.py (checksummed fetch, IDX files),
userdata.py and arrayfiles.py (a folder, .zip, .npz or .npy of images), pictures.py (a picture ->
MNIST-style input), images.py (tiles, PNG, GIF), provenance.py (which data a model has seen).
The bottom layer: imports nothing of vae but vae.limits.
"""

from vae.data.datasets import DATASETS, DataError, Dataset, load_dataset, load_splits

__all__ = ["DATASETS", "DataError", "Dataset", "load_dataset", "load_splits"]
