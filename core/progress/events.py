"""Progress and cancellation: the JSON-lines protocol every host reads.

One JSON object per line on stdout, flushed at once, each with an ``event`` key:

* ``start``: ``job``, ``frames`` ("A-B"), ``total`` (frame count), ``output``, ``renderer``
  (render: also ``rendered`` — the range denoised, handles included —, ``model_size``,
  ``windows``, ``steps``, ``skipped``)
* ``progress``: ``stage`` (load / depth / encode / denoise / write; assemble; read / measure in eval; fetch in
  ``models pull``, with ``part``; train in ``customize``, with ``resumed_from`` (the checkpoint's step) on the
  first event of a run that resumed; track in ``matte``, with ``direction``: prompt,
  forward or backward), ``done``,
  ``total``; denoise also
  ``step`` and ``steps`` (one event per window per step)
* ``frame``: ``frame`` (number), ``path`` (the finished file; it is complete when announced),
  ``skipped: true`` when an earlier run of the same job wrote it, ``seam: true`` when a farm
  chunk wrote it to its chunk folder for ``recast assemble``
* ``warning``: ``message`` (something the artist should know; the render goes on)
* ``done``: ``frames`` (count written), ``output``, ``seconds`` (render: also ``skipped``,
  ``resumed_from_step``, ``timing``)
* ``error``: ``message`` (one line), ``kind`` (the error class), and ``cancelled: true`` on a cancel

Hosts ignore events and keys they do not know. A person at a terminal gets :mod:`.display`
instead (no JSON on that screen). Cancellation is :mod:`.cancel`.
"""

from __future__ import annotations

import json
import sys
import threading

__all__ = ["Reporter", "STAGE_SHARES", "STAGE_WORDS", "overall"]

#: share of a render's whole progress each stage fills (depth and content are quick, denoising is most of it)
STAGE_SHARES = {"load": (0.0, 0.01), "depth": (0.01, 0.1), "encode": (0.1, 0.15), "denoise": (0.15, 0.9), "write": (0.9, 1.0),
                "assemble": (0.0, 1.0), "read": (0.0, 0.3), "measure": (0.3, 1.0),
                "fetch": (0.0, 1.0), "train": (0.02, 1.0), "track": (0.02, 1.0), "proxies": (0.0, 1.0)}


#: what a person reads for each stage
STAGE_WORDS = {"load": "loading models", "depth": "depth", "encode": "encoding the plate", "denoise": "denoising",
               "write": "writing frames", "assemble": "assembling seams", "read": "reading frames",
               "measure": "measuring", "fetch": "fetching model parts", "train": "training",
                "track": "tracking", "proxies": "writing review proxies"}


def overall(stage: str, done: int, total: int) -> float | None:
    """0..1 through the whole command from one ``progress`` event (None for a stage without a share)."""
    if stage not in STAGE_SHARES or not total:
        return None
    lo, hi = STAGE_SHARES[stage]
    return lo + (hi - lo) * min(done, total) / total


class Reporter:
    """Writes protocol events, one JSON object a line, to ``stream`` (stdout by default)."""

    def __init__(self, stream=None):
        self.stream = stream if stream is not None else sys.stdout
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

    def frame(self, frame: int, path: str, **fields) -> None:
        self.emit("frame", frame=frame, path=path, **fields)

    def warning(self, message: str) -> None:
        self.emit("warning", message=message)

    def done(self, **fields) -> None:
        self.emit("done", **fields)

    def error(self, message: str, **fields) -> None:
        self.emit("error", message=message, **fields)

    def finish(self) -> None:
        """The command is about to print its own output: JSON lines need nothing (a terminal display does)."""
