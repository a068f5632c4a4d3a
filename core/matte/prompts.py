"""The clicks and boxes of a matte: :mod:`recast.core.job.prompts` (a job's ``matte`` section holds them, so they
live with the job). Kept at this path for the hosts (``plugin/matte.py``) and scripts that import it here."""

from ..job.prompts import *  # noqa: F401,F403
from ..job.prompts import __all__  # noqa: F401
