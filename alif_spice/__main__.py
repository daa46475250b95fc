"""``python -m alif_spice``: the same as the ``alif-spice`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
