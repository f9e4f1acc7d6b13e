"""``python -m nn``: the ``chainrule`` command line (see :mod:`nn.cli`)."""

from .cli import main

raise SystemExit(main())
