"""What a trained model tells: encodings, grids, paths and projections, scores, the true
posterior and the inference gaps, model comparison, conditional views.
"""
