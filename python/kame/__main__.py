"""``python -m kame``: the ``kame`` command (:mod:`kame.cli.main`)."""

from kame.cli.main import script

if __name__ == "__main__":
    script()
