"""``python -m xsuite`` is the same as the ``xsuite`` command."""

from xsuite.cli import main

main()
