"""Progress and cancellation: the JSON-lines protocol every host reads.

One JSON object per line on stdout, flushed at once, each with an ``event`` key:

* ``start``: ``job``, ``frames`` ("A-B"), ``total`` (frame count), ``output``, ``renderer``
  (render: also ``rendered`` — the range denoised, handles included —, ``model_size``,
  ``windows``, ``steps``, ``skipped``)
* ``progress``: ``stage`` (depth / encode / denoise / write; assemble; read / measure in eval), ``done``,
  ``total``; denoise also
  ``step`` and ``steps`` (one event per window per step)
* ``frame``: ``frame`` (number), ``path`` (the finished file; it is complete when announced),
  ``skipped: true`` when an earlier run of the same job wrote it, ``seam: true`` when a farm
  chunk wrote it to its chunk folder for ``recast assemble``
* ``warning``: ``message`` (something the artist should know; the render goes on)
* ``done``: ``frames`` (count written), ``output``, ``seconds`` (render: also ``skipped``,
  ``resumed_from_step``, ``timing``)
* ``error``: ``message`` (one line), ``kind`` (the error class), and ``cancelled: true`` on a cancel

Hosts ignore events and keys they do not know. A human-readable bar goes to stderr when it
is a terminal. Cancellation is :mod:`.cancel`.
"""

from __future__ import annotations

import json
import sys
import threading

__all__ = ["Reporter"]


class Reporter:
    """Writes protocol events to ``stream`` (stdout by default) and, on a terminal, a tqdm bar to stderr."""

    def __init__(self, stream=None, bar: bool | None = None):
        self.stream = stream if stream is not None else sys.stdout
        self._bar_wanted = sys.stderr.isatty() if bar is None else bar
        self._bar = None
        self._lock = threading.Lock()

    def emit(self, event: str, **fields) -> None:
        line = json.dumps({"event": event, **fields}, ensure_ascii=False, allow_nan=False)
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()

    def start(self, **fields) -> None:
        self.emit("start", **fields)

    def progress(self, stage: str, done: int, total: int, **fields) -> None:
        self.emit("progress", stage=stage, done=done, total=total, **fields)
        if self._bar_wanted:
            self._update_bar(stage, done, total)

    def frame(self, frame: int, path: str, **fields) -> None:
        self.emit("frame", frame=frame, path=path, **fields)

    def warning(self, message: str) -> None:
        self.emit("warning", message=message)
        if self._bar_wanted:
            print(f"recast: warning: {message}", file=sys.stderr)

    def done(self, **fields) -> None:
        self._close_bar()
        self.emit("done", **fields)

    def error(self, message: str, **fields) -> None:
        self._close_bar()
        self.emit("error", message=message, **fields)

    def _update_bar(self, stage, done, total):
        from tqdm import tqdm

        if self._bar is None or self._bar.desc != stage or self._bar.total != total:
            self._close_bar()
            self._bar = tqdm(total=total, desc=stage, file=sys.stderr, leave=False)
        self._bar.n = done
        self._bar.refresh()

    def _close_bar(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
