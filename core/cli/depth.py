"""``recast depth --job FILE``: compute (or find in the cache) the shot's depth and write it as EXRs."""

from __future__ import annotations

import functools
import os
import time

from ..io.frames import FrameRange
from .parser import add_job_file, add_job_flags, add_json
from .render import job_from_args

__all__ = ["add_parser", "run", "run_depth"]


def add_parser(sub) -> None:
    p = sub.add_parser("depth", help="compute the shot's depth (cached) and write it as EXRs")
    add_job_file(p)
    add_json(p)
    p.add_argument("--frames", help="only this sub-range of the job, e.g. 1001-1010")
    add_job_flags(p)


def run(args, reporter, cancel) -> int:
    run_depth(job_from_args(args), FrameRange.parse(args.frames) if args.frames else None, reporter, cancel)
    return 0


def run_depth(job, frames: FrameRange | None, reporter, cancel):
    """Depth of every frame of the job, cached; emits the progress protocol; returns the ShotDepth."""
    from ..io.resolution import model_size
    from ..models.loader import loader_for
    from ..pipeline.inputs import check_inputs
    from ..pipeline.shot_depth import shot_depth
    from ..shot.model_frames import ModelFrames

    started = time.monotonic()
    checked = check_inputs(job, frames, with_matte=False)
    plate = checked.plate
    reporter.start(job=job.root, frames=str(plate.frames), total=len(plate.frames), stage="depth",
                   source=f"aov:{job.input.depth_channel}" if job.input.depth_channel else "estimator")
    canvas = checked.shot.canvas
    size = model_size(canvas.width, canvas.height, job.resolution)
    frames_in = ModelFrames(plate, checked.colorspace, size, reporter, [], plate.layers[0], job.model_view, canvas)
    depth = shot_depth(job, plate, frames_in, size, functools.cache(lambda: loader_for(job)), reporter, cancel)
    for f in plate.frames:
        reporter.frame(f, os.path.abspath(depth.sequence.path(f)))
    reporter.done(frames=len(plate.frames), output=depth.sequence.pattern, computed=depth.computed,
                  seconds=round(time.monotonic() - started, 3))
    return depth
