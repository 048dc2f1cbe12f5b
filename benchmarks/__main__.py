"""``python -m benchmarks`` (what ``make bench`` runs); see ``python -m benchmarks --help``."""

import sys

from ._cli import main

sys.exit(main())
