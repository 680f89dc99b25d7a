"""VAE Latent Explorer core: models, data, training, the model store, inference and plots.

Packages, each importing only those below it (docs/architecture.md is the map):
cli -> training -> {inference, store} -> models -> data; plots only read; limits.py is under all.
This package never imports streamlit or the app's ui package.
    from vae.models import ModelConfig, TrainConfig, build
    from vae.training.loop import fit
    from vae import store            # store.save, store.load, store.list_models
    from vae.inference import latent # encode, grids, paths, projections
"""

__version__ = "0.1.0"
