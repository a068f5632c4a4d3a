"""``python -m recast.core`` is the ``recast`` command."""

import sys

from .cli.main import main

sys.exit(main())
