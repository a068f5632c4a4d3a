"""Masked editing: where the edit applies (1) and where the plate is kept (0).

The weight comes from a channel of the plate (``input.mask_channel``, e.g. its alpha) or from
a matte sequence (``input.mask_pattern``; its ``mask_channel``, else its alpha, else its only
channel). A matte's data window may differ from the plate's (Nuke writes a matte's bounding
box): it is placed by pixel coordinates, and pixels outside it are 0 (keep the plate). NaN
counts as 0; values are clipped to 0..1.

Use in the render: the diffusion keeps the plate's own (noised) latents outside a slightly
grown latent mask at every step, so the edit meets the plate without a seam; the written
frame is composited over the plate's original pixels with the weight — bit-exact where it is 0.
"""

from __future__ import annotations

import numpy as np

from ..errors import SequenceError
from ..io.exrio import Window, read_frame, read_header
from ..io.frames import compress_frames

__all__ = ["Matte", "composite"]


class Matte:
    """The edit weight of each frame of ``plate`` for ``job``; ``enabled`` is False without a mask."""

    def __init__(self, job, plate):
        self.plate = plate
        self.sequence = job.mask_sequence
        self.channel = job.input.mask_channel
        self.enabled = bool(self.sequence or self.channel)
        if self.sequence:
            self._check_sequence()

    def _check_sequence(self) -> None:
        seq = self.sequence
        _, missing = seq.existing(self.plate.frames)
        if missing:
            raise SequenceError(f"matte {seq.pattern}: {len(missing)} frame(s) missing: {compress_frames(missing)}")
        header = read_header(seq.path(self.plate.frames.first))
        if self.channel is None:
            if "A" in header.channels:
                self.channel = "A"
            elif len(header.channels) == 1:
                self.channel = header.channels[0]
            else:
                raise SequenceError(f"matte {seq.pattern} has no alpha and {len(header.channels)} channels "
                                    f"({', '.join(header.channels)}); name one with input.mask_channel")
        header.index(self.channel)  # a clear error when the channel is not there

    def stamp_path(self, f: int) -> str | None:
        """The matte file whose changes must re-render frame ``f`` (None: the plate's own channel)."""
        return self.sequence.path(f) if self.sequence else None

    def weight(self, f: int, source=None) -> np.ndarray | None:
        """Edit weight of frame ``f`` (H×W×1 over the plate's data window), or None: edit everything.
        ``source`` is the plate frame when the caller has read it already (else it is read when needed:
        only for a channel of the plate itself)."""
        if not self.enabled:
            return None
        if self.sequence is None:
            values = (source or read_frame(self.plate.path(f))).channel(self.channel)
        else:  # every plate frame has one data window (checked by scan_plate)
            matte = read_frame(self.sequence.path(f))
            values = _place(matte.channel(self.channel), matte.header.data_window, self.plate.header.data_window)
        return np.clip(np.nan_to_num(values, nan=0.0), 0.0, 1.0).astype(np.float32)[:, :, None]


def _place(values: np.ndarray, src: Window, dst: Window) -> np.ndarray:
    """``values`` over window ``src`` placed onto window ``dst`` by pixel coordinates; 0 elsewhere."""
    if src == dst:
        return values
    out = np.zeros((dst.height, dst.width), np.float32)
    x0, y0 = max(src.x, dst.x), max(src.y, dst.y)
    x1, y1 = min(src.x + src.width, dst.x + dst.width), min(src.y + src.height, dst.y + dst.height)
    if x1 > x0 and y1 > y0:
        out[y0 - dst.y:y1 - dst.y, x0 - dst.x:x1 - dst.x] = values[y0 - src.y:y1 - src.y, x0 - src.x:x1 - src.x]
    return out


def composite(plate_rgb: np.ndarray, new_rgb: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The edit over the plate: plate pixels bit-exact where weight is 0, the edit where it is 1,
    a linear blend between (NaN/Inf plate values count as 0 there, so they never leak in)."""
    soft = np.nan_to_num(plate_rgb, nan=0.0, posinf=0.0, neginf=0.0) * (1.0 - weight) + new_rgb * weight
    return np.where(weight >= 1.0, new_rgb, np.where(weight > 0.0, soft, plate_rgb)).astype(np.float32)
