"""``python -m kame``: the ``kame`` command (:mod:`kame.cli.main`)."""

import sys

from kame.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
