"""Render stage 1, ``check_inputs``: everything that can be wrong with a job's inputs, found before
any pixel is read or any model loaded (diffusers' ``check_inputs``)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SequenceError
from ..io.colour import plate_colorspace
from ..io.frames import FrameRange
from ..shot.matte import Matte
from ..shot.layers import find_channel
from ..shot.plate import Plate, prepare_output, scan_plate
from ..shot.protect import check_outputs_spare_inputs

__all__ = ["Checked", "check_inputs"]


@dataclass(frozen=True)
class Checked:
    """The inputs of one render, checked."""

    plate: Plate  #: the frames rendered
    shot: Plate  #: the job's whole range (depth is normalised over it, so sub-ranges and chunks agree)
    colorspace: str  #: the plate's colour space (OCIO name)
    output_folder: str  #: exists and is writable
    matte: Matte  #: the edit's weight per frame (disabled when the job has no mask)


def check_inputs(job, frames: FrameRange | None = None, with_matte: bool = True) -> Checked:
    """The plate's frames, layout, colour space, depth and mask channels, matte and output folder of
    ``job`` (or of its sub-range ``frames``); ``with_matte=False`` leaves the matte out (depth needs none, and
    on the farm it runs beside the step that makes it)."""
    job_range = job.frame_range
    if frames is not None and job_range is not None and not (frames.first in job_range and frames.last in job_range):
        raise SequenceError(f"frames {frames} are outside the job's range {job_range}")
    part, views = job.input.part, job.input.views
    plate = scan_plate(job.input_sequence, frames or job_range, part, views)
    shot = plate if frames is None or frames == (job_range or plate.frames) else scan_plate(job.input_sequence,
                                                                                              job_range, part, views)
    for layer in plate.layers:
        if job.input.depth_channel:
            find_channel(plate.parts, layer, job.input.depth_channel)
        if with_matte and job.input.mask_channel and not job.mask_sequence:
            if job.input.mask_channel not in plate.parts[layer.part].channels and \
                    layer.prefix + job.input.mask_channel not in plate.parts[layer.part].channels:
                plate.parts[layer.part].index(job.input.mask_channel)  # the one-line error naming the channels
    matte = Matte(job, plate) if with_matte else Matte.off(plate)
    space = plate_colorspace(job.input.colorspace, plate.header.colorspace)
    check_outputs_spare_inputs(job, shot.frames)  # before the output folder (or its cache) is created
    folder = prepare_output(job.output_sequence)
    return Checked(plate, shot, space, folder, matte)
