"""``python -m seasight``: the ``seasight`` command."""

from seasight.cli import main

main()
