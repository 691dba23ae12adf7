"""Root pytest configuration: notebooks run at their small CI size.

``python -m pytest`` executes every ``notebooks/*.ipynb`` once (tests/test_docs.py, which then
builds the documentation site from the executed copies). Their kernels inherit this process's
environment, so setting ``RMT_ALPHA_CI=1`` here -- before any kernel starts -- makes every
notebook take its CI branch. Run ``RMT_ALPHA_CI=0 python -m pytest tests/test_docs.py -k notebook``
for the full-size notebooks.
"""

import os

os.environ.setdefault("RMT_ALPHA_CI", "1")
