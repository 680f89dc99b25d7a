"""VAE Latent Explorer core: models, objectives, data, training, the model store and latent tools.

This package never imports streamlit; the app (app.py, pages/, resources.py) is a thin layer on top.
Modules are imported on use: `from vae import model, objectives, data, training, store, latent`.
"""
__version__ = "0.1.0"
