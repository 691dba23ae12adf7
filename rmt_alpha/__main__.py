"""``python -m rmt_alpha``: the ``rmt-alpha`` command line (see :mod:`rmt_alpha.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":  # importing the module (as documentation tools do) runs nothing
    sys.exit(main())
