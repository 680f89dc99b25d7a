"""The app's shared UI: the page shell, cached resources, picture inputs, the conditional
Playground, latent sliders, and the custom components (components/, their JS beside them)."""
