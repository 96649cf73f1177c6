"""``python -m calibkit``: the command line (see :mod:`calibkit.cli`)."""

import sys

from calibkit.cli import main

if __name__ == "__main__":
    sys.exit(main())
