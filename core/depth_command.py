"""``recast depth --job FILE``: compute (or find in the cache) the shot's depth and write it as EXRs."""

from __future__ import annotations

import os
import time

from .depth import shot_depth
from .frames import FrameRange
from .job import Job
from .progress import CancelFlag, Reporter
from .modelframes import ModelFrames
from .render import check_inputs
from .resolution import model_size

__all__ = ["run_depth"]


def loader_for(job: Job):
    """A factory that loads the job's model preset on its device only when first called."""
    def make():
        from .models import Loader
        from .presets import load_preset

        return Loader(load_preset(job.model, job.root), job.device, job.precision)
    return make


def run_depth(job: Job, frames: FrameRange | None, reporter: Reporter, cancel: CancelFlag):
    """Depth of every frame of the job, cached; emits the progress protocol; returns the ShotDepth."""
    started = time.monotonic()
    checked = check_inputs(job, frames)
    plate = checked.plate
    reporter.start(job=job.root, frames=str(plate.frames), total=len(plate.frames), stage="depth",
                   source=f"aov:{job.input.depth_channel}" if job.input.depth_channel else "estimator")
    dw = plate.header.data_window
    size = model_size(dw.width, dw.height, job.resolution)
    frames_in = ModelFrames(plate, checked.colorspace, size, reporter, [])
    depth = shot_depth(job, plate, frames_in, size, loader_for(job), reporter, cancel)
    for f in plate.frames:
        reporter.frame(f, os.path.abspath(depth.sequence.path(f)))
    reporter.done(frames=len(plate.frames), output=depth.sequence.pattern, computed=depth.computed,
                  seconds=round(time.monotonic() - started, 3))
    return depth
