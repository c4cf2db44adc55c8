"""``python -m fastgd``: the same as the ``fastgd`` command."""

from .cli import main

raise SystemExit(main())
