"""A shot on disk: the plate sequence of a job, checked before anything is rendered.

:func:`scan_plate` reads every frame's header (not its pixels) and fails early, with one
line, on missing frames, unreadable or damaged files and mixed resolutions, so a render
never starts on a plate it cannot finish. :func:`prepare_output` makes sure the output
folder can be written before the first frame is.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

from ..errors import OutputError, SequenceError
from ..io.exrio import Header, read_header
from ..io.frames import FrameRange, SequencePattern, compress_frames

__all__ = ["Plate", "scan_plate", "prepare_output", "frames_on_disk", "shot_range"]


@dataclass(frozen=True)
class Plate:
    """The plate of one render: its pattern, frames and (shared) layout."""

    sequence: SequencePattern  #: resolved pattern of the plate files
    frames: FrameRange  #: frames to render
    header: Header  #: header of the first frame; every frame shares its windows and channels

    def path(self, frame: int) -> str:
        return self.sequence.path(frame)


def frames_on_disk(sequence: SequencePattern) -> FrameRange:
    """The contiguous range of frames on disk; SequenceError when there are none or gaps."""
    found = sequence.scan()
    if not found:
        raise SequenceError(f"no frames match {sequence.pattern!r}; check the path and the '####' padding")
    span = FrameRange(min(found), max(found))
    missing = [f for f in span if f not in found]
    if missing:
        raise SequenceError(f"{sequence.pattern}: frames {compress_frames(missing)} are missing "
                            f"between {span.first} and {span.last}")
    return span


def shot_range(job) -> FrameRange:
    """The shot's whole range: the job's ``input.frames``, else the contiguous frames on disk."""
    return job.frame_range or frames_on_disk(job.input_sequence)


def scan_plate(sequence: SequencePattern, frames: FrameRange | None) -> Plate:
    """Check every frame of ``frames`` (or of the whole sequence when None) without reading pixels."""
    if frames is None:
        frames = frames_on_disk(sequence)
    present, missing = sequence.existing(frames)
    if missing:
        raise SequenceError(f"{sequence.pattern}: {len(missing)} of {len(frames)} frames are missing: "
                            f"{compress_frames(missing)}")
    first = read_header(sequence.path(frames.first))
    first.rgb_indices()
    for f in present[1:]:
        h = read_header(sequence.path(f))
        if h.data_window != first.data_window or h.display_window != first.display_window:
            raise SequenceError(
                f"{h.path}: resolution {h.display_window} (data {h.data_window}) differs from frame "
                f"{frames.first}'s {first.display_window} (data {first.data_window}); a shot must have one resolution")
        if h.channels != first.channels:
            raise SequenceError(f"{h.path}: channels {', '.join(h.channels)} differ from frame {frames.first}'s "
                                f"{', '.join(first.channels)}")
    return Plate(sequence, frames, first)


def prepare_output(sequence: SequencePattern) -> str:
    """Create the output folder if needed and prove it writable; returns the folder."""
    folder = os.path.dirname(os.path.abspath(sequence.path(0)))
    try:
        os.makedirs(folder, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"output folder {folder!r} cannot be created: a file is in the way") from None
    except OSError as exc:
        raise OutputError(f"output folder {folder!r} cannot be created: {exc.strerror}") from None
    if not os.path.isdir(folder):
        raise OutputError(f"output folder {folder!r} is not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".recast-probe-"):
            pass
    except OSError as exc:
        raise OutputError(f"output folder {folder!r} cannot be written: {exc.strerror}") from None
    return folder
