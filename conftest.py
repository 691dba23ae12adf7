"""Root pytest configuration: notebooks run at their small CI size.

``python -m pytest`` executes ``notebooks/*.ipynb`` through nbmake (see ``[tool.pytest.ini_options]``
in pyproject.toml). Their kernels inherit this process's environment, so setting
``RMT_ALPHA_CI=1`` here -- before any kernel starts -- makes every notebook take its CI branch.
Run ``RMT_ALPHA_CI=0 python -m pytest notebooks`` for the full-size notebooks.
"""

import os

os.environ.setdefault("RMT_ALPHA_CI", "1")
