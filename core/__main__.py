"""``python -m recast.core`` is the ``recast`` command."""

import sys

from .cli import main

sys.exit(main())
