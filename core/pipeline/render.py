"""Rendering a job: a readable sequence of named stages (diffusers' ``__call__`` as a numbered script).

1. check    — :func:`.inputs.check_inputs`: the plate's frames, layout, colour space, mask and
              output folder, before any pixel is read or any model loaded;
2. plan     — :func:`.plan.plan_render`: the range (handles, farm chunk), where each frame
              goes, the model's size, the context windows, and what this job already wrote;
3. engine   — the preset's backend (:mod:`recast.core.backends`), its job fields and model parts
              checked, and the memory preflight (:mod:`.preflight`); nothing loads until a stage needs it;
4. sample   — :func:`.stages.sample`: structure and content, then the temporal sampler, the
              state saved after each step so a killed render resumes;
5. write    — :func:`.stages.write_frames`: decode, back to the plate's colour space and data
              window, composite through the mask, every other channel kept; atomic per frame.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from ..io.colour import colorspace_warning
from ..io.frames import FrameRange
from ..job import Job
from ..progress import CancelFlag, Reporter
from .inputs import check_inputs
from .plan import plan_render
from .stages import NULL_RENDERER
from ..shot.plate import tidy_output

__all__ = ["RenderResult", "check_inputs", "check_render", "render"]


@dataclass
class RenderResult:
    """What a render wrote."""

    frames: list[int] = field(default_factory=list)  #: frame numbers written, in order
    paths: list[str] = field(default_factory=list)  #: their files
    skipped: list[int] = field(default_factory=list)  #: frames this job had already written
    resumed_from_step: int | None = None  #: denoising step a saved state was resumed from
    seconds: float = 0.0  #: wall time
    timing: dict = field(default_factory=dict)  #: seconds: conditions (content, depth), load (models onto the
    #: device), unet, controlnet, vae (encode + decode), write (read plate, resize, colour, composite, EXR)
    warnings: list[str] = field(default_factory=list)  #: what the artist was warned about


def render(job: Job, frames: FrameRange | None = None, reporter: Reporter | None = None,
           cancel: CancelFlag | None = None, loader=None, chunk: FrameRange | None = None,
           chunk_set: str = "default", context: bool = False, backend=None,
           write_behind: bool = True, previews: bool = False) -> RenderResult:
    """Render ``job`` (or the sub-range ``frames`` of it); returns what was written.

    With ``context`` (what ``recast render --frames`` does) a sub-range is rendered with the
    job's handles around it, clipped to the shot, so its first and last windows see the motion
    across its edges; only ``frames`` are written. With ``chunk`` it renders a farm chunk
    (:mod:`.chunks`): the frames only it renders go to the output, the rest to
    its seam folder of set ``chunk_set``. ``loader`` (a :class:`~recast.core.models.Loader`) may
    be given to reuse loaded models between renders (the farm server); ``backend`` replaces the
    preset's backend (tests drive the render through a fake one); ``write_behind=False`` writes frames in
    turn instead of on the writer thread (what ``bench/io_overlap`` compares); ``previews`` writes live previews
    while denoising (:mod:`.previews`: ``preview`` events)."""
    reporter = reporter or Reporter()
    cancel = cancel or CancelFlag()
    started = time.monotonic()
    result = RenderResult()

    # 1-3b. check the inputs, plan the render, the engine, will it fit (refused when far too big, before any model
    # loads); an error here leaves no output folder behind that was not there before
    with tidy_output(job.output_sequence):
        job, plan, loader, backend = _plan_and_engine(job, frames, loader, chunk, chunk_set, context, backend)
        result.skipped = plan.skipped
        # the stack the frames record: the backend's; the preset's backend class's when nothing is left to render
        renderer = NULL_RENDERER if plan.null else backend.description if backend is not None else plan.renderer
        _announce(plan, renderer, reporter)
        tag_warning = colorspace_warning(job.input.colorspace, plan.checked.plate.header.colorspace)
        if tag_warning:
            result.warnings.append(tag_warning)
            reporter.warning(tag_warning)
        if plan.todo and not plan.null:
            from .preflight import preflight

            preflight(plan, backend, reporter, result.warnings)

    if plan.todo:
        latents, states = None, []
        if not plan.null:
            reporter.progress("load", 0, 1)  # models load as the stages first need them: say so
            # 4. structure, content and the sampler, a layer (view) at a time (or a finished saved state)
            latents = {}
            pool = None  # job 'devices': a worker process per device, started when a layer is first denoised
            try:
                for layer in plan.layers:
                    state = plan.state(layer)
                    states.append(state)
                    saved = state.load()
                    if saved is not None and saved[0] < saved[1] and job.cache:
                        # a cache hook's state (the features of earlier steps) is not saved with the latents: a
                        # cached render killed while denoising denoises again, so its frames are an uninterrupted
                        # render's
                        saved = None
                    if saved is not None:
                        result.resumed_from_step = saved[0]
                    if saved is not None and saved[0] == saved[1]:
                        latents[layer] = saved[2].to(backend.device)
                        continue
                    from .stages import sample

                    if pool is None and job.devices:
                        from .devices import open_pool

                        pool = open_pool(job, backend, len(plan.windows), reporter, cancel)
                    latents[layer] = sample(plan, backend, layer, state, saved, lambda: _need_loader(job, loader),
                                            reporter, cancel, result.warnings, previews, pool).to(backend.device)
            finally:
                if pool is not None:
                    pool.close()
        # 5. decode and write
        from .stages import header_attributes, write_frames

        write_frames(plan, backend, latents, header_attributes(plan, renderer), reporter, cancel, result, write_behind)
        for state in states:
            state.remove()
        result.timing = {k: round(v, 3) for k, v in backend.timing.items()} if backend is not None else {}

    result.seconds = time.monotonic() - started
    reporter.done(frames=len(result.frames), skipped=len(result.skipped), output=plan.output.pattern,
                  seconds=round(result.seconds, 3), resumed_from_step=result.resumed_from_step, timing=result.timing)
    return result


def _plan_and_engine(job, frames, loader, chunk, chunk_set, context, backend):
    """Steps 1-3 of a render (nothing loads, nothing is written but the output folder): the job resolved, its
    plan, the loader and the backend (None for the null render, or when nothing is left to render)."""
    if job.strength > 0.0 and backend is None:  # what the preset's backend cannot honour, before what a job makes
        from ..backends import check_job  # first (a 'customize' section Wan cannot apply is not "to be trained")

        check_job(job)
    job.require_trained_lora()  # a job that trains a LoRA first renders only once it is there
    job.require_matte()  # a job that makes its matte from clicks first, likewise
    if job.strength > 0.0:  # a LoRA of NaNs renders every frame NaN: refused before anything runs
        from ..models.lora import check_lora_values

        for path, weight in job.lora_files:
            if weight != 0:
                check_lora_values(path)
    # steps and guidance left unset come from the model preset (what the frames record)
    job = job.with_preset_defaults(loader.preset) if loader is not None and job.strength > 0.0 else job.resolved()
    plan = plan_render(job, frames, chunk, chunk_set, context)
    # the engine (nothing loads yet); the null render (strength 0) needs none
    if plan.todo and backend is None and not plan.null:
        from ..backends import backend_for
        from ..models.loader import loader_for

        loader = loader or loader_for(job)
        backend = backend_for(job, loader)
    if plan.todo and not plan.null and not job.input.depth_channel:
        from ..models.parts import locate

        locate(_need_loader(job, loader).preset, "depth")
    return job, plan, loader, backend


def check_render(job: Job, frames: FrameRange | None = None, chunk: FrameRange | None = None,
                 chunk_set: str = "default", context: bool = False, reporter: Reporter | None = None) -> dict:
    """Everything :func:`render` checks before its first frame (``recast render --dry-run``): the plate's frames on
    disk, the range, the matte, the reference image, the preset and its parts, the memory preflight — one error
    for the first problem; writes nothing (an output folder made to prove it writable is removed). Returns what
    would be rendered: frames, sizes, renderer, windows, output folder, warnings."""
    reporter = reporter or Reporter()
    warnings: list[str] = []
    with tidy_output(job.output_sequence, always=True):
        job, plan, loader, backend = _plan_and_engine(job, frames, None, chunk, chunk_set, context, None)
        tag_warning = colorspace_warning(job.input.colorspace, plan.checked.plate.header.colorspace)
        if tag_warning:
            warnings.append(tag_warning)
            reporter.warning(tag_warning)
        estimate = None
        if plan.todo and not plan.null:
            from .preflight import preflight

            estimate = preflight(plan, backend, reporter, warnings)
    delivered = plan.delivered
    renderer = NULL_RENDERER if plan.null else backend.description if backend is not None else plan.renderer
    return {"frames": str(FrameRange(delivered[0], delivered[-1])), "total": len(delivered), "rendered": str(plan.frames),
            "todo": len(plan.todo), "skipped": len(plan.skipped),
            "plate_size": [plan.canvas.width, plan.canvas.height], "model_size": list(plan.size),
            "model": job.model, "backend": plan.engine.name if plan.engine is not None else None,
            "renderer": renderer, "steps": job.steps, "guidance_scale": job.guidance_scale,
            "windows": len(plan.windows), "chunk": str(chunk) if chunk is not None else None,
            "output": os.path.abspath(plan.output.pattern), "output_folder": plan.checked.output_folder,
            "memory_gb": round(sum(estimate.values()) / 2**30, 2) if estimate else None, "warnings": warnings}


def _need_loader(job, loader):
    if loader is None:
        from ..errors import ModelError

        raise ModelError("this render needs the preset's depth estimator but was given no model loader")
    return loader


def _announce(plan, renderer: str, reporter) -> None:
    """The start event, then a frame event for every frame an earlier run already wrote."""
    delivered = plan.delivered
    reporter.start(job=plan.job.root, frames=str(FrameRange(delivered[0], delivered[-1])), total=len(delivered),
                   rendered=str(plan.frames), output=plan.output.pattern, renderer=renderer,
                   colorspace=plan.checked.colorspace, model_size=list(plan.size), windows=len(plan.windows),
                   steps=plan.job.steps, skipped=len(plan.skipped))
    for f in plan.skipped:
        seam = plan.route[f] is plan.seams
        reporter.frame(f, os.path.abspath(plan.route[f].path(f)), skipped=True, **({"seam": True} if seam else {}))
