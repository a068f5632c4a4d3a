"""Masked editing: where the edit applies (1) and where the plate is kept (0).

The weight comes from a channel of the plate (``input.mask_channel``, e.g. its alpha) or from
a matte sequence (``input.mask_pattern``, or the one the job's ``matte`` section makes; its
``mask_channel``, else its alpha, else its only channel). ``input.mask_invert`` turns it round:
the edit goes where the matte is 0 and the plate is kept where it is 1 (keep the actor, replace
the world) — outside the matte's data window, then, is edited. A matte's data window may differ from the plate's (Nuke writes a matte's bounding
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
from ..io.layout import place
from ..io.frames import compress_frames

__all__ = ["Matte", "composite"]


class Matte:
    """The edit weight of each frame of ``plate`` for ``job``; ``enabled`` is False without a mask."""

    def __init__(self, job, plate):
        self.plate = plate
        self.sequence = job.mask_sequence
        self.channel = job.input.mask_channel
        self.invert = job.input.mask_invert
        self.enabled = bool(self.sequence or self.channel)
        if self.sequence:
            self._check_sequence()

    @classmethod
    def off(cls, plate) -> "Matte":
        """No matte: what needs the plate alone (``recast depth``) does not read or check one."""
        matte = cls.__new__(cls)
        matte.plate, matte.sequence, matte.channel, matte.invert, matte.enabled = plate, None, None, False, False
        return matte

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

    def weight(self, f: int, source=None, window: Window | None = None, layer=None) -> np.ndarray | None:
        """Edit weight of frame ``f`` (H×W×1 over ``window``: by default the data window of the edited part
        in that frame), or None: edit everything. ``source`` is that part of the plate frame when the caller
        has read it already; ``layer`` picks a view's own mask channel ('right.A') where the part has one."""
        if not self.enabled:
            return None
        layer = layer or self.plate.layers[0]
        window = window or self.plate.window(f, layer.part)
        if self.sequence is None:  # a channel of the plate itself
            frame = source or read_frame(self.plate.path(f), layer.part)
            name = layer.prefix + self.channel if layer.prefix + self.channel in frame.header.channels else self.channel
            values = place(frame.channel(name), frame.header.data_window, window)
        else:  # a matte sequence: its own (possibly moving) bounding boxes, placed by coordinates
            matte = read_frame(self.sequence.path(f))
            values = place(matte.channel(self.channel), matte.header.data_window, window)
        values = np.clip(np.nan_to_num(values, nan=0.0), 0.0, 1.0).astype(np.float32)
        return (1.0 - values if self.invert else values)[:, :, None]


def composite(plate_rgb: np.ndarray, new_rgb: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The edit over the plate: plate pixels bit-exact where weight is 0, the edit where it is 1,
    a linear blend between (NaN/Inf plate values count as 0 there, so they never leak in)."""
    soft = np.nan_to_num(plate_rgb, nan=0.0, posinf=0.0, neginf=0.0) * (1.0 - weight) + new_rgb * weight
    return np.where(weight >= 1.0, new_rgb, np.where(weight > 0.0, soft, plate_rgb)).astype(np.float32)
