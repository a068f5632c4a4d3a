"""Plate frames as the model sees them, read one at a time (nothing of the plate is held for the shot).

RGB → model space (:func:`.display.display_rgb`: NaN → 0, ±Inf clipped, then [0, 1]) → resized to the model's
size. NaN/Inf pixels are reported once per frame, however often a frame is read.
"""

from __future__ import annotations

import numpy as np

from ..io.exrio import read_frame
from ..io.resolution import resize
from .display import display_rgb

__all__ = ["ModelFrames"]


class ModelFrames:
    """``get(f)`` → H×W×3 float32 in [0, 1] at ``size`` (width, height), from the plate on disk."""

    def __init__(self, plate, space: str, size: tuple[int, int], reporter, warnings: list[str]):
        self.plate, self.space, self.size = plate, space, size
        self._reporter, self._warnings = reporter, warnings
        self._warned: set[int] = set()

    def get(self, f: int) -> np.ndarray:
        rgb = read_frame(self.plate.path(f)).rgb()
        self._check_finite(f, rgb)
        small = resize(display_rgb(rgb, self.space), *self.size)
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
