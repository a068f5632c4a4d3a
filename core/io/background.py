"""Work off the main thread, so the device never waits on disk: frames read ahead and frames written behind.

* :func:`read_ahead` — ``load(key)`` for the next keys runs on a worker thread while the caller uses the
  current one (plate frames for depth and for encoding the plate);
* :class:`Writer` — a bounded queue and one worker thread that does ``write(item)`` in order (decoded frames:
  back to the plate's colour space and size, composited, EXR-encoded, written atomically, then announced).
  The caller blocks when it is ``depth`` items ahead, so memory stays flat; an error in the worker is raised in
  the caller at its next call; :meth:`Writer.close` waits for what is queued, or — after a cancel — for the
  item being written only.

Written by hand: the standard library's executors have no bounded queue (a fast producer would hold every
decoded frame of a shot) and cannot drop queued work on a cancel.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["read_ahead", "Writer"]


def read_ahead(load, keys, ahead: int = 2):
    """Yield ``(key, load(key))`` for ``keys`` in order, loading up to ``ahead`` keys before they are asked for."""
    keys = list(keys)
    if not keys:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="recast-read-ahead") as pool:
        pending = [pool.submit(load, k) for k in keys[:ahead + 1]]
        for i, key in enumerate(keys):
            value = pending[i].result()
            pending[i] = None  # let the value go once used
            nxt = i + ahead + 1
            if nxt < len(keys):
                pending.append(pool.submit(load, keys[nxt]))
            yield key, value


class Writer:
    """``write(item)`` for each :meth:`put` item, in order, on one worker thread; at most ``depth`` waiting."""

    _STOP = object()

    def __init__(self, write, depth: int = 4, name: str = "recast-writer"):
        self._write = write
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._error: BaseException | None = None
        self._discard = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is self._STOP:
                return
            if self._error is not None or self._discard.is_set():
                continue  # after an error or a cancel: what is queued is dropped, not written
            try:
                self._write(item)
            except BaseException as exc:  # raised again in the caller's thread
                self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            self._discard.set()
            raise error

    def put(self, item) -> None:
        """Queue ``item`` (blocks while ``depth`` items wait); raises an error the worker met."""
        self._raise()
        while True:
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                self._raise()

    def close(self, discard: bool = False) -> None:
        """Wait until everything queued is written (``discard``: only the item being written), then stop; raises
        an error the worker met."""
        if discard:
            self._discard.set()
        self._queue.put(self._STOP)
        self._thread.join()
        if not discard:
            self._raise()
