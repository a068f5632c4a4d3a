"""The worker's and the server's log: ``logging`` with timestamps, to a rotating file (10 MB, 3 kept).

The worker logs to ``$RECAST_LOG``, else ``<cache>/logs/recast.log``; a server to ``<connection
file>.log``. Each command is logged as it starts and ends (exit code, seconds); an internal error's
traceback goes there too, and the one-line message names the file. Nothing is printed by this module.
"""

from __future__ import annotations

import logging
import logging.handlers
import os

__all__ = ["log_to", "worker_log_path", "LOGGER"]

LOGGER = logging.getLogger("recast")
_FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"


def worker_log_path() -> str:
    """``$RECAST_LOG``, else ``<cache>/logs/recast.log``."""
    if os.environ.get("RECAST_LOG"):
        return os.path.abspath(os.path.expanduser(os.environ["RECAST_LOG"]))
    from ..io.cache import cache_root

    return os.path.join(cache_root(), "logs", "recast.log")


def log_to(path: str) -> str | None:
    """Send the ``recast`` logger to a rotating file at ``path`` (once per path); returns the path, or None
    when it cannot be written (logging must never stop a render)."""
    for handler in LOGGER.handlers:
        if getattr(handler, "baseFilename", None) == os.path.abspath(path):
            return path
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=10 * 2**20, backupCount=3, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter(_FORMAT))
    LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.INFO)
    LOGGER.propagate = False
    return path
