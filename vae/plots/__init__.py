"""Plotly figures, one module per page family: explore.py (latent map, manifold, images, curves),
posterior.py (the true posterior beside q), compare.py (models side by side). Only reads the core:
nothing in vae imports a plot.
"""
