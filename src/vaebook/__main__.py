"""``python -m vaebook``: see :mod:`vaebook.cli`."""

import sys

from vaebook.cli import main

sys.exit(main())
