"""The command line (python -m vae ...): one module per command group, assembled by main.py."""
