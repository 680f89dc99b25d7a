"""python -m vae ...: the command line (vae/cli/)."""

import sys

from vae.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
