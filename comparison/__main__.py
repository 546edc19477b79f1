"""``python -m comparison``: see :mod:`comparison.cli`."""

import sys

from comparison.cli import main

sys.exit(main(prog="python -m comparison"))
