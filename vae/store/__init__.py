"""The model store: save, load, list, rename and delete models, atomically.

catalog.py (the public operations), storage.py (atomic folder operations), modelfiles.py (the
file format and its checks), bundle.py (a model packed for the browser decoder).
"""

from vae.store.catalog import StoreError, delete, find, list_models, load, rename, save

__all__ = ["StoreError", "delete", "find", "list_models", "load", "rename", "save"]
