"""Render stage 2, the plan: which frames are denoised, where each one is written, and what an
earlier run of the same job already wrote.

* the **range** denoised: the job's (or a sub-range, with the job's handles around it for
  context when ``context`` is set — what ``recast render --frames`` does), or a farm chunk with
  its handles (:class:`.chunks.ChunkPlan`);
* the **route** of each frame: the output, a chunk's seam folder (frames another chunk also
  renders; ``recast assemble`` cross-fades them) or nowhere (context only);
* the **windows**, on a grid anchored at the shot's first frame, so every range agrees;
* a backend that compresses time (Wan: 1 + 4k frames in k + 1 latent frames) gets the range laid on that
  grid too: it starts on the grid (earlier frames rendered for context), and is filled to 1 + 4k frames by
  the shot's next frames or, past the shot's end, by repeating its last; windows and positions are then in
  latent frames;
* **resume**: frames already on disk with this job's fingerprint and the same plate/matte
  stamps are skipped (:mod:`.resume`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import __version__
from ..errors import SequenceError
from ..io.cache import cache_folder
from ..io.frames import FrameRange, SequencePattern
from ..io.resolution import model_size
from ..io.stamps import file_stamp
from ..shot.plate import shot_range
from .chunks import ChunkPlan, chunk_handles, chunk_sequence
from .inputs import Checked, check_inputs
from .resume import RenderState, finished_frames
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
    compression: int = 1  #: frames per latent frame of the preset's backend (Wan: 4)
    engine: type | None = None  #: the preset's Backend class (None for the null render: no model)
    renderer: str = ""  #: its stack, as the start event and frame headers record it (:meth:`.Backend.describe`)
    pad: int = 0  #: the range's last frame repeated this many times to fill the latent grid

    @property
    def model_frames(self) -> list[int]:
        """The frames the model sees, in order: the range, then its last frame ``pad`` times."""
        frames = list(self.frames)
        return frames + [frames[-1]] * self.pad

    @property
    def positions(self) -> list[int]:
        """The sampler's positions: the frames (no temporal compression), else the latent frames on the shot's grid
        (latent g holds frames anchor + 4g − 3 .. anchor + 4g; a range starting at anchor + 4m has first a latent
        frame of that one frame, at position m)."""
        if self.compression == 1:
            return list(self.frames)
        first = (self.frames.first - self.anchor) // self.compression
        return list(range(first, first + (len(self.model_frames) - 1) // self.compression + 1))

    def noise_keys(self) -> list[tuple[int, str]]:
        """(frame, salt) whose noise each position starts from: its frame; for latent frames, the first (one
        frame) by that frame, the others by the last frame they hold — the same latent in any range."""
        if self.compression == 1:
            return [(f, "") for f in self.frames]
        frames, c = self.model_frames, self.compression
        # a group's last frame number (past the shot's end for padded groups: the same in every range that pads)
        return [(frames[0], "latent-first")] + [(frames[0] + i + c - 1, "latent") for i in range(1, len(frames), c)]

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


def _engine(job):
    """The Backend class of the job's preset (:func:`recast.core.backends.backend_class`; None for a null render:
    no model) and the preset."""
    if job.strength == 0.0:
        return None, None
    from ..backends import backend_class
    from ..models.presets import load_preset

    preset = load_preset(job.model, job.root)
    return backend_class(preset.backend), preset


def _on_the_grid(rng: FrameRange, shot: FrameRange, c: int) -> tuple[FrameRange, int]:
    """``rng`` grown to start on the latent grid anchored at the shot's first frame and to hold 1 + c·k frames:
    the shot's next frames, then (past its end) the count of repeats of its last frame."""
    start = shot.first + (rng.first - shot.first) // c * c
    end = start + -(-(rng.last - start) // c) * c
    return FrameRange(start, min(end, shot.last)), max(0, end - shot.last)


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
    engine, preset = _engine(job)
    c, multiple = (engine.temporal_compression, engine.size_multiple) if engine is not None else (1, 8)
    pad, shot = 0, None
    if c > 1:  # a latent grid: the range starts on it and holds 1 + c·k frames; frames added only give context
        shot = shot_range(job)
        wanted = rendered or shot
        rendered, pad = _on_the_grid(wanted, shot, c)
        if keep is None and chunk_plan is None:
            keep = set(frames) if frames is not None else set(wanted)
    checked = check_inputs(job, rendered)
    rng = checked.plate.frames
    out_seq = job.output_sequence
    seam_seq = chunk_sequence(job, chunk_set, chunk_plan.chunk) if chunk_plan else None
    route = {f: (None if chunk_plan and f not in chunk_plan.rendered else seam_seq if chunk_plan and
                 chunk_plan.is_seam(f) else None if keep is not None and f not in keep else out_seq) for f in rng}
    canvas = checked.shot.canvas  # the whole shot's, so every sub-range and chunk runs at one size
    # the window grid's origin: the shot's first frame (the job's range, or for a latent grid the first frame on disk)
    anchor = job.frame_range.first if job.frame_range else shot.first if shot is not None else rng.first
    stamps = {}
    for f in rng:
        matte = checked.matte.stamp_path(f)
        stamps[f] = file_stamp(checked.plate.path(f)) + (f"|{file_stamp(matte)}" if matte else "")
    fingerprint = job.fingerprint()
    skipped = sorted(f for seq in [q for q in (out_seq, seam_seq) if q is not None]
                     for f in finished_frames(seq, [f for f in rng if route[f] is seq], fingerprint, __version__,
                                              stamps))
    done = set(skipped)
    plan = RenderPlan(job=job, checked=checked, size=model_size(canvas.width, canvas.height, job.resolution, multiple),
                      anchor=anchor, windows=[], route=route, output=out_seq, seams=seam_seq, fingerprint=fingerprint,
                      stamps=stamps, skipped=skipped, todo=[f for f in rng if route[f] is not None and f not in done],
                      compression=c, engine=engine, renderer=engine.describe(preset) if engine is not None else "",
                      pad=pad)
    if c == 1:
        plan.windows = context_windows(rng.first, rng.last, job.window.length, job.window.overlap, anchor)
    else:  # in latent frames: a window of L frames holds (L - 1) / c + 1 of them
        positions = plan.positions
        length = max(2, (job.window.length - 1) // c + 1)
        overlap = min(length - 1, -(-job.window.overlap // c)) if job.window.overlap else 0
        plan.windows = context_windows(positions[0], positions[-1], length, overlap, 0)
    return plan
