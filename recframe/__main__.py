"""``python -m recframe``: the command line (:mod:`recframe.cli`)."""

import sys

from recframe.cli import main

if __name__ == "__main__":
    sys.exit(main())
