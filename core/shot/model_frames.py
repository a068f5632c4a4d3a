"""Plate frames as the model sees them, read one at a time (nothing of the plate is held for the shot).

A layer's colour (:mod:`.layers`) → placed on the shot's canvas (0 outside the frame's data window)
→ model space through the job's ``model_view`` (:func:`.display.display_rgb`: NaN → 0, ±Inf clipped,
then [0, 1]) → resized to the model's size. NaN/Inf pixels are reported once per frame.
"""

from __future__ import annotations

import numpy as np

from ..io.exrio import read_frame
from ..io.layout import place
from ..io.resolution import resize
from .display import display_rgb

__all__ = ["ModelFrames"]


class ModelFrames:
    """``get(f)`` → H×W×3 float32 in [0, 1] at ``size`` (width, height), from the plate on disk."""

    def __init__(self, plate, space: str, size: tuple[int, int], reporter, warnings: list[str], layer=None,
                 view: str = "clip", canvas=None):
        self.plate, self.space, self.size = plate, space, size
        self.layer = layer or plate.layers[0]
        self.view, self.canvas = view, canvas or plate.canvas
        self._reporter, self._warnings = reporter, warnings
        self._warned: set[int] = set()

    def canvas_rgb(self, f: int) -> np.ndarray:
        """The layer's scene-linear colour of frame ``f`` on the canvas (0 outside its data window)."""
        frame = read_frame(self.plate.path(f), self.layer.part)
        rgb = self.layer.rgb(frame)
        self._check_finite(f, rgb)
        return place(rgb, frame.header.data_window, self.canvas)

    def get(self, f: int) -> np.ndarray:
        small = resize(display_rgb(self.canvas_rgb(f), self.space, self.view), *self.size)
        return np.clip(small, 0.0, 1.0)  # filters overshoot a little at hard edges

    def _check_finite(self, f: int, rgb: np.ndarray) -> None:
        if f in self._warned:
            return
        self._warned.add(f)
        bad = int(np.count_nonzero(~np.isfinite(rgb).all(axis=2)))
        if bad:
            msg = (f"frame {f}: {bad} pixels hold NaN or Inf; the model sees NaN as 0 and Inf clipped, "
                   "and outside the edit they are written back unchanged")
            self._warnings.append(msg)
            self._reporter.warning(msg)
