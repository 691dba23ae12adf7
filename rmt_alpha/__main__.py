"""``python -m rmt_alpha``: the ``rmt-alpha`` command line (see :mod:`rmt_alpha.cli`)."""

import sys

from .cli import main

sys.exit(main())
