"""A shot on disk: the plate sequence of a job, checked before anything is rendered.

:func:`scan_plate` reads every frame's headers (not its pixels) and fails early, with one
line, on missing frames, unreadable or damaged files, and frames whose display window, parts
or channels differ from the first's, so a render never starts on a plate it cannot finish.
**Data windows may move** from frame to frame (animated bounding boxes, auto-cropped CG): the
shot's **canvas** is its display window, grown to hold every frame's data window where data
lies outside it (overscan); the model sees each frame placed on the canvas (0 outside its data
window, as in Nuke) and each output frame keeps its own data window. :func:`prepare_output`
makes sure the output folder can be written before the first frame is.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass

from ..errors import OutputError, SequenceError
from ..io.exrio import Header, Window, read_headers
from ..io.frames import FrameRange, SequencePattern, compress_frames, gaps
from ..io.layout import union
from .layers import Layer, edit_layers

__all__ = ["Plate", "scan_plate", "prepare_output", "frames_on_disk", "shot_range", "tidy_output"]


@dataclass(frozen=True)
class Plate:
    """The plate of one render: its pattern, frames, layout and what is edited."""

    sequence: SequencePattern  #: resolved pattern of the plate files
    frames: FrameRange  #: frames to render
    header: Header  #: the first frame's header of the (first) edited part; parts, channels and display
    #: window are the same in every frame, data windows may differ
    layers: tuple[Layer, ...] = ()  #: what is edited (one layer a view)
    canvas: Window | None = None  #: display window ∪ every frame's data windows: what the model sees
    windows: dict | None = None  #: frame → data window of each part (tuple indexed by part)
    parts: tuple = ()  #: the first frame's header of every part

    def path(self, frame: int) -> str:
        return self.sequence.path(frame)

    def window(self, frame: int, part: int = 0) -> Window:
        """The data window of ``part`` in ``frame``."""
        return self.windows[frame][part]

    @property
    def moving(self) -> bool:
        """True when data windows differ between frames."""
        return len({w for w in self.windows.values()}) > 1


def frames_on_disk(sequence: SequencePattern) -> FrameRange:
    """The contiguous range of frames on disk; SequenceError when there are none or gaps."""
    found = sequence.scan()
    if not found:
        raise SequenceError(f"no frames match {sequence.pattern!r}; check the path and the '####' padding")
    span = FrameRange(min(found), max(found))
    missing = gaps(span, found)  # linear in the files found: two frames 10⁹ apart are one quick line
    if missing:
        raise SequenceError(f"{sequence.pattern}: frames {compress_frames(missing)} are missing "
                            f"between {span.first} and {span.last}")
    return span


def shot_range(job) -> FrameRange:
    """The shot's whole range: the job's ``input.frames``, else the contiguous frames on disk."""
    return job.frame_range or frames_on_disk(job.input_sequence)


def scan_plate(sequence: SequencePattern, frames: FrameRange | None, part: str | None = None,
               views=None) -> Plate:
    """Check every frame of ``frames`` (or of the whole sequence when None) without reading pixels;
    ``part`` and ``views`` choose what is edited (the job's ``input.part`` and ``input.views``)."""
    if frames is None:
        frames = frames_on_disk(sequence)
    present, missing = sequence.existing(frames)
    if missing:
        raise SequenceError(f"{sequence.pattern}: {len(missing)} of {len(frames)} frames are missing: "
                            f"{compress_frames(missing)}")
    first = read_headers(sequence.path(frames.first))
    layers = tuple(edit_layers(first, part, views))
    windows = {frames.first: tuple(h.data_window for h in first)}
    for f in present[1:]:
        headers = read_headers(sequence.path(f))
        h = headers[0]
        if h.display_window != first[0].display_window:
            raise SequenceError(f"{h.path}: display window {h.display_window} differs from frame {frames.first}'s "
                                f"{first[0].display_window}; a shot has one format (data windows may move)")
        if [x.channels for x in headers] != [x.channels for x in first]:
            what = (f"{len(headers)} part(s)" if len(headers) != len(first) else
                    "; ".join(", ".join(x.channels) for x in headers))
            raise SequenceError(f"{h.path}: channels ({what}) differ from frame {frames.first}'s "
                                f"({'; '.join(', '.join(x.channels) for x in first)})")
        windows[f] = tuple(x.data_window for x in headers)
    edited = {layer.part for layer in layers}
    canvas = union([first[0].display_window] + [w[p] for w in windows.values() for p in edited])
    return Plate(sequence, frames, first[layers[0].part], layers, canvas, windows, tuple(first))


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


@contextmanager
def tidy_output(sequence: SequencePattern, always: bool = False):
    """The output folder of ``sequence`` and the folders above it that do not exist yet are removed again, if
    still empty, when the block fails (or, with ``always``, when it ends: a dry run): an error before the first
    frame leaves nothing behind."""
    made, folder = [], os.path.dirname(os.path.abspath(sequence.path(0)))
    while folder and not os.path.lexists(folder):
        made.append(folder)
        parent = os.path.dirname(folder)
        folder = parent if parent != folder else ""
    try:
        yield
    except BaseException:
        _remove_empty(made)
        raise
    if always:
        _remove_empty(made)


def _remove_empty(folders) -> None:
    for folder in folders:  # deepest first
        try:
            os.rmdir(folder)
        except OSError:  # not empty (something was written there after all), or gone: leave it
            return
