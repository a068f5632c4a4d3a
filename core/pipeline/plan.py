"""Render stage 2, the plan: which frames are denoised, where each one is written, and what an
earlier run of the same job already wrote.

* the **range** denoised: the job's (or a sub-range, with the job's handles around it for
  context when ``context`` is set — what ``recast render --frames`` does), or a farm chunk with
  its handles (:class:`recast.core.farm.chunks.ChunkPlan`);
* the **route** of each frame: the output, a chunk's seam folder (frames another chunk also
  renders; ``recast assemble`` cross-fades them) or nowhere (context only);
* the **windows**, on a grid anchored at the shot's first frame, so every range agrees;
* **resume**: frames already on disk with this job's fingerprint and the same plate/matte
  stamps are skipped (:mod:`.resume`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import __version__
from ..errors import SequenceError
from ..farm.chunks import ChunkPlan, chunk_handles, chunk_sequence
from ..io.frames import FrameRange, SequencePattern
from ..io.resolution import model_size
from ..models.cache import cache_folder
from ..shot.plate import shot_range
from .inputs import Checked, check_inputs
from .resume import RenderState, file_stamp, finished_frames
from .sampling import context_windows

__all__ = ["RenderPlan", "plan_render"]


@dataclass
class RenderPlan:
    """One render, decided before anything heavy runs."""

    job: object  #: the :class:`~recast.core.job.Job`
    checked: Checked  #: its inputs (``checked.plate.frames`` is the range denoised)
    size: tuple[int, int]  #: the model's (width, height)
    anchor: int  #: first frame of the shot: the window grid starts here
    windows: list[tuple[int, int]]  #: inclusive context windows over the range
    route: dict  #: frame → SequencePattern it is written to, or None (rendered for context only)
    output: SequencePattern  #: the job's output
    seams: SequencePattern | None  #: a farm chunk's seam folder
    fingerprint: str  #: hash of every parameter that shapes the pixels
    stamps: dict[int, str]  #: frame → plate (and matte) file stamp
    skipped: list[int]  #: frames an earlier run of this job already wrote
    todo: list[int]  #: frames this run writes

    @property
    def frames(self) -> FrameRange:
        """The range denoised (handles included)."""
        return self.checked.plate.frames

    @property
    def delivered(self) -> list[int]:
        """Frames this render is for (written now or before), without context-only handles."""
        return [f for f in self.frames if self.route[f] is not None]

    @property
    def canvas(self):
        """What the model sees of every frame (display window ∪ the shot's data windows)."""
        return self.checked.shot.canvas

    @property
    def layers(self):
        """What is edited: one layer a view (:mod:`recast.core.shot.layers`)."""
        return self.checked.plate.layers

    @property
    def null(self) -> bool:
        """strength 0: no model, the plate to model space and back (a colour-path check)."""
        return self.job.strength == 0.0

    def state(self, layer) -> RenderState:
        """The per-step denoising state of one layer of this plan (resume after a kill)."""
        return RenderState(cache_folder(self.job), self.fingerprint, __version__, self.frames, self.anchor,
                           self.size, [self.stamps[f] for f in self.frames], layer.key)


def _rendered_range(job, frames, chunk, context):
    """(range to denoise or None for the job's, frames to keep or None for all, chunk plan or None)."""
    if chunk is not None:
        if frames is not None:
            raise SequenceError("give a chunk or a sub-range of frames, not both")
        if job.frame_range is None:
            raise SequenceError("a chunked render needs the job's 'input.frames' (the shot's whole range)")
        plan = ChunkPlan(job.frame_range, chunk, chunk_handles(job))
        return plan.rendered, None, plan
    if context and frames is not None:
        shot = shot_range(job)
        if not (frames.first in shot and frames.last in shot):
            raise SequenceError(f"frames {frames} are outside the job's range {shot}")
        h = chunk_handles(job)
        return FrameRange(max(shot.first, frames.first - h), min(shot.last, frames.last + h)), set(frames), None
    return frames, None, None


def plan_render(job, frames: FrameRange | None = None, chunk: FrameRange | None = None, chunk_set: str = "default",
                context: bool = False) -> RenderPlan:
    """Check the inputs and decide the render (see the module's description)."""
    rendered, keep, chunk_plan = _rendered_range(job, frames, chunk, context)
    checked = check_inputs(job, rendered)
    rng = checked.plate.frames
    out_seq = job.output_sequence
    seam_seq = chunk_sequence(job, chunk_set, chunk_plan.chunk) if chunk_plan else None
    route = {f: (seam_seq if chunk_plan and chunk_plan.is_seam(f) else None if keep is not None and f not in keep
                 else out_seq) for f in rng}
    canvas = checked.shot.canvas  # the whole shot's, so every sub-range and chunk runs at one size
    anchor = job.frame_range.first if job.frame_range else rng.first
    stamps = {}
    for f in rng:
        matte = checked.matte.stamp_path(f)
        stamps[f] = file_stamp(checked.plate.path(f)) + (f"|{file_stamp(matte)}" if matte else "")
    fingerprint = job.fingerprint()
    skipped = sorted(f for seq in [q for q in (out_seq, seam_seq) if q is not None]
                     for f in finished_frames(seq, [f for f in rng if route[f] is seq], fingerprint, __version__,
                                              stamps))
    done = set(skipped)
    return RenderPlan(job=job, checked=checked, size=model_size(canvas.width, canvas.height, job.resolution), anchor=anchor,
                      windows=context_windows(rng.first, rng.last, job.window.length, job.window.overlap, anchor),
                      route=route, output=out_seq, seams=seam_seq, fingerprint=fingerprint, stamps=stamps,
                      skipped=skipped, todo=[f for f in rng if route[f] is not None and f not in done])
