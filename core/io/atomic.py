"""Atomic file writes: write to a hidden temporary name in the same folder, then rename into place.

A process killed mid-write leaves at most a ``.NAME.HOST-PID.recast-tmp`` file, never a truncated
file under the real name (``os.replace`` is atomic within one filesystem). Several writers of the
same file (two renders of one job, farm tasks on shared storage) each write their own temporary
and the last rename wins — they write the same bytes. A leftover is removed only when its writer
is gone: a process of this host that no longer runs, or a file untouched for a day (another host's).
"""

from __future__ import annotations

import glob
import os
import socket
import time
from contextlib import contextmanager

from ..errors import OutputError

__all__ = ["atomic_path", "write_failure", "TEMP_SUFFIX", "shared_mode"]

TEMP_SUFFIX = ".recast-tmp"


_HOST = "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname()) or "host"
_ABANDONED = 24 * 3600.0  #: seconds after which another host's leftover is taken as abandoned


def _temp_name(path: str) -> str:
    folder, base = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{base}.{_HOST}-{os.getpid()}{TEMP_SUFFIX}")


def _writer_gone(temp: str) -> bool:
    """True when the process that writes ``temp`` no longer runs (this host), or it is a day old."""
    owner = os.path.basename(temp)[:-len(TEMP_SUFFIX)].rpartition(".")[2]
    host, _, pid = owner.rpartition("-")
    if host == _HOST and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False  # alive, owned by another user
        return False
    try:
        return time.time() - os.path.getmtime(temp) > _ABANDONED
    except OSError:
        return False


@contextmanager
def atomic_path(path: str, error=OutputError):
    """Yield a temporary path to write; on success it becomes ``path``. Leftovers of dead writers of
    the same file are removed first. ``OSError`` becomes ``error`` with one line naming the file."""
    folder, base = os.path.split(os.path.abspath(path))
    tmp = _temp_name(path)
    for stale in glob.glob(os.path.join(folder, f".{glob.escape(base)}.*{TEMP_SUFFIX}")):
        if stale != tmp and _writer_gone(stale):
            try:
                os.unlink(stale)
            except OSError:
                pass
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise error(f"{path}: cannot be written ({write_failure(folder, exc.strerror)})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_failure(folder: str, reason: str | None) -> str:
    """The reason a write failed, saying so when the disk is full (libraries often do not)."""
    import errno
    import shutil

    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    if free is not None and free < 1 << 20 or reason == os.strerror(errno.ENOSPC):
        shown = f"{free / 2**20:.1f} MB free" if free is not None else "no space"
        return f"no space left on device ({shown} in {folder}); free some space or choose another output folder"
    return reason or "unknown error"


def shared_mode(directory: bool = False) -> int:
    """The mode a plain file (0666) or folder (0777) gets under this process's umask: what a file written through a
    temporary name or a folder made with mkdtemp (0600 / 0700) is set to, so farm accounts and the team read it."""
    mask = os.umask(0o022)
    os.umask(mask)
    return (0o777 if directory else 0o666) & ~mask
