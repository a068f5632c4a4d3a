"""Cancellation: SIGINT/SIGTERM (or a host) set a flag that the render checks before every
context window and every frame, so it stops after the window being denoised or the frame
being written.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

from ..errors import Cancelled

__all__ = ["CancelFlag", "signals_cancel", "cancel_on_stdin"]


class CancelFlag:
    """Set by a signal (or a host); :meth:`check` raises :class:`Cancelled` once it is set."""

    def __init__(self):
        self._event = threading.Event()
        self.signum: int | None = None

    def set(self, signum: int | None = None) -> None:
        self.signum = signum
        self._event.set()

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    def check(self, where: str = "") -> None:
        if self._event.is_set():
            name = signal.Signals(self.signum).name if self.signum else "cancel"
            raise Cancelled(f"cancelled ({name}){' ' + where if where else ''}", self.signum)


@contextmanager
def signals_cancel(flag: CancelFlag):
    """Within the block, SIGINT and SIGTERM set ``flag`` instead of killing the process."""
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = {}

    def handler(signum, _frame):
        flag.set(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def cancel_on_stdin(flag: CancelFlag, stream=None, gone: CancelFlag | None = None) -> threading.Thread:
    """Set ``flag`` when a ``cancel`` line arrives on stdin, or stdin closes (the host is gone): the
    cancel channel that works on every OS. Read on a daemon thread. With ``gone``, stdin closing sets
    ``gone`` instead (a desk render goes on when its host crashes; only ``cancel`` cancels it)."""
    import sys

    stream = stream or sys.stdin

    def watch():
        try:
            for line in stream:
                if line.strip() == "cancel":
                    flag.set(signal.SIGTERM)
                    return
        except (OSError, ValueError):
            pass
        (gone or flag).set(signal.SIGTERM)

    thread = threading.Thread(target=watch, name="recast-stdin-control", daemon=True)
    thread.start()
    return thread
