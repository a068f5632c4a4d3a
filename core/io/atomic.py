"""Atomic file writes: write to a hidden temporary name in the same folder, then rename into place.

A process killed mid-write leaves at most a ``.NAME.PID.recast-tmp`` file, never a truncated
file under the real name (``os.replace`` is atomic within one filesystem).
"""

from __future__ import annotations

import glob
import os
from contextlib import contextmanager

from ..errors import OutputError

__all__ = ["atomic_path", "TEMP_SUFFIX"]

TEMP_SUFFIX = ".recast-tmp"


def _temp_name(path: str) -> str:
    folder, base = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{base}.{os.getpid()}{TEMP_SUFFIX}")


@contextmanager
def atomic_path(path: str, error=OutputError):
    """Yield a temporary path to write; on success it becomes ``path``. Leftovers of dead writers of
    the same file are removed first. ``OSError`` becomes ``error`` with one line naming the file."""
    folder, base = os.path.split(os.path.abspath(path))
    for stale in glob.glob(os.path.join(folder, f".{glob.escape(base)}.*{TEMP_SUFFIX}")):
        try:
            os.unlink(stale)
        except OSError:
            pass
    tmp = _temp_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise error(f"{path}: cannot be written ({exc.strerror})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
