"""Rendering a job: a readable sequence of named stages.

1. check   — the plate's frames, layout, colour space, mask channel and output folder,
             all before any pixel is read or written;
2. read    — plate RGB → model space ([0, 1] sRGB-encoded, see :mod:`.colour`);
3. edit    — the model-space frames through an editor (the temporal diffusion renderer);
4. write   — model space → plate colour space, composited over the plate through the mask,
             every other channel, window and header attribute kept; atomic per frame.

The diffusion renderer is not built yet (issue #4). Until it is, the only editor is
:class:`IdentityEdit`, which returns the model's input unchanged: the render exercises the
whole I/O and colour path and says so in its ``start`` event, on stderr and in the header.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np

from . import __version__
from .colour import from_model, model_input, plate_colorspace, to_model
from .errors import SequenceError
from .exrio import read_frame, write_frame
from .frames import FrameRange
from .job import Job
from .progress import CancelFlag, Reporter
from .shot import Plate, prepare_output, scan_plate

__all__ = ["IdentityEdit", "RenderResult", "check_inputs", "read_model_frames", "render"]


class IdentityEdit:
    """Returns the model-space frames unchanged (stands in until the diffusion renderer lands)."""

    name = "identity"
    notice = ("the diffusion renderer is not built yet: this render is an identity edit that runs "
              "the EXR I/O and colour path end to end")

    def __call__(self, frames: list[np.ndarray], job: Job, reporter: Reporter, cancel: CancelFlag):
        reporter.progress("edit", len(frames), len(frames))
        return frames


@dataclass
class RenderResult:
    """What a render wrote."""

    frames: list[int] = field(default_factory=list)  #: frame numbers written, in order
    paths: list[str] = field(default_factory=list)  #: their files
    seconds: float = 0.0  #: wall time
    warnings: list[str] = field(default_factory=list)  #: what the artist was warned about


@dataclass(frozen=True)
class _Checked:
    plate: Plate
    colorspace: str
    output_folder: str


def check_inputs(job: Job, frames: FrameRange | None = None) -> _Checked:
    """Stage 1: everything that can be wrong with the inputs, before any pixel is touched."""
    job_range = FrameRange.parse(job.input.frames) if job.input.frames else None
    if frames is not None and job_range is not None and not (frames.first in job_range and frames.last in job_range):
        raise SequenceError(f"frames {frames} are outside the job's range {job_range}")
    plate = scan_plate(job.input_sequence, frames or job_range)
    for name in (job.input.mask_channel, job.input.depth_channel):
        if name:
            plate.header.index(name)
    space = plate_colorspace(job.input.colorspace, plate.header.colorspace)
    folder = prepare_output(job.output_sequence)
    return _Checked(plate, space, folder)


def read_model_frames(plate: Plate, space: str, reporter: Reporter, cancel: CancelFlag,
                      warnings: list[str]) -> dict[int, np.ndarray]:
    """Stage 2: every plate frame's RGB in model space, clipped for the network; NaN/Inf reported."""
    model_frames = {}
    for i, f in enumerate(plate.frames):
        cancel.check(f"while reading frame {f}")
        rgb = read_frame(plate.path(f)).rgb()
        bad = int(np.count_nonzero(~np.isfinite(rgb).all(axis=2)))
        if bad:
            msg = (f"frame {f}: {bad} pixels hold NaN or Inf; the model sees NaN as 0 and Inf clipped, "
                   "and outside the edit they are written back unchanged")
            warnings.append(msg)
            reporter.warning(msg)
        model_frames[f] = model_input(to_model(rgb, space))
        reporter.progress("read", i + 1, len(plate.frames))
    return model_frames


def _mask(frame, job: Job) -> np.ndarray | None:
    """Edit weight per pixel in [0, 1] (H×W×1), or None when the whole frame is edited."""
    if not job.input.mask_channel:
        return None
    m = np.nan_to_num(frame.channel(job.input.mask_channel), nan=0.0)
    return np.clip(m, 0.0, 1.0)[:, :, None]


def _composite(plate_rgb: np.ndarray, new_rgb: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The edit over the plate: plate pixels bit-exact where weight is 0, the edit where it is 1,
    a linear blend between (NaN/Inf plate values count as 0 there, so they never leak in)."""
    soft = np.nan_to_num(plate_rgb, nan=0.0, posinf=0.0, neginf=0.0) * (1.0 - weight) + new_rgb * weight
    return np.where(weight >= 1.0, new_rgb, np.where(weight > 0.0, soft, plate_rgb)).astype(np.float32)


def render(job: Job, frames: FrameRange | None = None, reporter: Reporter | None = None,
           cancel: CancelFlag | None = None, editor=None) -> RenderResult:
    """Render ``job`` (or the sub-range ``frames`` of it); returns what was written."""
    reporter = reporter or Reporter()
    cancel = cancel or CancelFlag()
    editor = editor or IdentityEdit()
    started = time.monotonic()
    result = RenderResult()

    # 1. check
    checked = check_inputs(job, frames)
    plate, space = checked.plate, checked.colorspace
    out_seq = job.output_sequence
    reporter.start(job=job.root, frames=str(plate.frames), total=len(plate.frames),
                   output=out_seq.pattern, renderer=editor.name, colorspace=space)
    if getattr(editor, "notice", None):
        result.warnings.append(editor.notice)
        reporter.warning(editor.notice)

    # 2. read
    model_frames = read_model_frames(plate, space, reporter, cancel, result.warnings)

    # 3. edit
    edited = editor([model_frames[f] for f in plate.frames], job, reporter, cancel)

    # 4. write
    header_extra = {
        "recast/job": job.absolute().to_json(indent=None),
        "recast/fingerprint": job.fingerprint(),
        "recast/version": __version__,
        "recast/renderer": editor.name,
        "oiio:ColorSpace": space,
    }
    for i, f in enumerate(plate.frames):
        cancel.check(f"after {len(result.frames)} of {len(plate.frames)} frames were written")
        source = read_frame(plate.path(f))
        plate_rgb = source.rgb()
        new_rgb = from_model(edited[i], space)
        weight = _mask(source, job)
        if weight is not None:
            new_rgb = _composite(plate_rgb, new_rgb, weight)
        path = out_seq.path(f)
        write_frame(path, source.with_rgb(new_rgb), {**header_extra, "recast/frame": str(f)})
        result.frames.append(f)
        result.paths.append(path)
        reporter.frame(f, os.path.abspath(path))
        reporter.progress("write", i + 1, len(plate.frames))

    result.seconds = time.monotonic() - started
    reporter.done(frames=len(result.frames), output=out_seq.pattern, seconds=round(result.seconds, 3))
    return result
