"""Rendering a job: a readable sequence of named stages.

1. check    — the plate's frames, layout, colour space, mask and output folder, before any
              pixel is read or any model loaded;
2. plan     — the model's size (:mod:`.resolution`), the context windows, and which frames
              this job already wrote (:mod:`.resume`): those are skipped;
3. condition — content (:mod:`.content`: CLIP text / IP-Adapter embeddings) and structure
              (:mod:`.depth`: shot-normalised depth at the job's structure level), cached;
4. denoise  — every frame of the range together, window by window (:mod:`.denoise`), the
              state saved after each step so a killed render resumes;
5. write    — decoded a chunk at a time, resized to the plate's data window, model space →
              the plate's colour space, composited over the plate through the mask; every
              other channel, window and header attribute kept; atomic per frame.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np

from . import __version__
from .cache import cache_folder
from .chunks import ChunkPlan, chunk_handles, chunk_sequence
from .colour import from_model, plate_colorspace
from .errors import SequenceError
from .exrio import read_frame, write_frame
from .frames import FrameRange
from .job import Job
from .matte import Matte, composite
from .progress import CancelFlag, Reporter
from .resolution import model_size, resize
from .resume import RenderState, file_stamp, finished_frames
from .sampling import context_windows
from .shot import Plate, prepare_output, scan_plate

__all__ = ["RENDERER", "RenderResult", "check_inputs", "render"]

RENDERER = "recast temporal diffusion (depth ControlNet + AnimateDiff + IP-Adapter)"


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


@dataclass(frozen=True)
class _Checked:
    plate: Plate  #: the frames rendered
    shot: Plate  #: the job's whole range (depth is normalised over it, so sub-ranges and chunks agree)
    colorspace: str
    output_folder: str
    matte: Matte


def check_inputs(job: Job, frames: FrameRange | None = None) -> _Checked:
    """Stage 1: everything that can be wrong with the inputs, before any pixel is touched."""
    job_range = FrameRange.parse(job.input.frames) if job.input.frames else None
    if frames is not None and job_range is not None and not (frames.first in job_range and frames.last in job_range):
        raise SequenceError(f"frames {frames} are outside the job's range {job_range}")
    plate = scan_plate(job.input_sequence, frames or job_range)
    shot = plate if frames is None or frames == (job_range or plate.frames) else scan_plate(job.input_sequence,
                                                                                              job_range)
    if job.input.depth_channel:
        plate.header.index(job.input.depth_channel)
    if job.input.mask_channel and not job.input.mask_pattern:
        plate.header.index(job.input.mask_channel)
    matte = Matte(job, plate)
    space = plate_colorspace(job.input.colorspace, plate.header.colorspace)
    folder = prepare_output(job.output_sequence)
    return _Checked(plate, shot, space, folder, matte)


def _stamps(checked: _Checked) -> dict[int, str]:
    out = {}
    for f in checked.plate.frames:
        matte = checked.matte.stamp_path(f)
        out[f] = file_stamp(checked.plate.path(f)) + (f"|{file_stamp(matte)}" if matte else "")
    return out


def render(job: Job, frames: FrameRange | None = None, reporter: Reporter | None = None,
           cancel: CancelFlag | None = None, loader=None, chunk: FrameRange | None = None,
           chunk_set: str = "default", context: bool = False) -> RenderResult:
    """Render ``job`` (or the sub-range ``frames`` of it); returns what was written.

    With ``context`` (what ``recast render --frames`` does) a sub-range is rendered with the
    job's handles around it, clipped to the shot, so its first and last windows see the motion
    across its edges; only ``frames`` are written.

    With ``chunk`` it renders a farm chunk (:mod:`.chunks`): the chunk with its handles, the
    frames only it renders to the output, the rest to its folder of set ``chunk_set`` for
    :func:`.chunks.assemble`. ``loader`` (a :class:`.models.Loader`) may be given to reuse
    loaded models between renders (a farm worker that stays up between tasks)."""
    reporter = reporter or Reporter()
    cancel = cancel or CancelFlag()
    started = time.monotonic()
    result = RenderResult()

    # 1. check
    plan = None
    if chunk is not None:
        if frames is not None:
            raise SequenceError("give a chunk or a sub-range of frames, not both")
        shot_range = FrameRange.parse(job.input.frames) if job.input.frames else None
        if shot_range is None:
            raise SequenceError("a chunked render needs the job's 'input.frames' (the shot's whole range)")
        plan = ChunkPlan(shot_range, chunk, chunk_handles(job))
        frames = plan.rendered
    keep = None
    if context and frames is not None and plan is None:
        from .shot import frames_on_disk

        shot_range = FrameRange.parse(job.input.frames) if job.input.frames else frames_on_disk(job.input_sequence)
        if not (frames.first in shot_range and frames.last in shot_range):
            raise SequenceError(f"frames {frames} are outside the job's range {shot_range}")
        h = chunk_handles(job)
        keep = set(frames)
        frames = FrameRange(max(shot_range.first, frames.first - h), min(shot_range.last, frames.last + h))
    checked = check_inputs(job, frames)
    plate, space = checked.plate, checked.colorspace
    out_seq = job.output_sequence
    seam_seq = chunk_sequence(job, chunk_set, plan.chunk) if plan else None
    route = {f: (seam_seq if plan and plan.is_seam(f) else None if keep is not None and f not in keep else out_seq)
             for f in plate.frames}

    # 2. plan
    dw = plate.header.data_window
    size = model_size(dw.width, dw.height, job.resolution)
    rng = plate.frames
    anchor = FrameRange.parse(job.input.frames).first if job.input.frames else rng.first
    windows = context_windows(rng.first, rng.last, job.window.length, job.window.overlap, anchor)
    fingerprint = job.fingerprint()
    stamps = _stamps(checked)
    result.skipped = sorted(f for seq in [q for q in (out_seq, seam_seq) if q is not None]
                            for f in finished_frames(seq, [f for f in rng if route[f] is seq], fingerprint,
                                                     __version__, stamps))
    todo = [f for f in rng if route[f] is not None and f not in set(result.skipped)]
    delivered = [f for f in rng if route[f] is not None]  # handle frames rendered for context only are not
    if todo:
        loader = loader or _loader(job)
        _require_parts(job, loader.preset)
    reporter.start(job=job.root, frames=str(FrameRange(delivered[0], delivered[-1])), total=len(delivered),
                   rendered=str(rng), output=out_seq.pattern, renderer=RENDERER,
                   colorspace=space, model_size=list(size), windows=len(windows), steps=job.steps,
                   skipped=len(result.skipped))
    for f in result.skipped:
        reporter.frame(f, os.path.abspath(route[f].path(f)), skipped=True, **({"seam": True} if route[f] is seam_seq
                                                                                else {}))

    if todo:
        from .engine import Engine

        state = RenderState(cache_folder(job), fingerprint, __version__, rng, anchor, size, [stamps[f] for f in rng])
        saved = state.load()
        if saved is not None and saved[0] == saved[1]:  # denoising had finished: decode and write only
            latents, engine = saved[2], Engine(loader, job, reference=False)
            result.resumed_from_step = saved[0]
        else:
            if saved is not None:
                result.resumed_from_step = saved[0]
            latents, engine = _sample(job, checked, size, windows, loader, state, saved, reporter, cancel,
                                      result.warnings)
        header_extra = {
            "recast/job": job.absolute().to_json(indent=None),
            "recast/fingerprint": fingerprint,
            "recast/version": __version__,
            "recast/renderer": RENDERER,
            "recast/range": str(rng),
            "recast/model_size": f"{size[0]}x{size[1]}",
            "oiio:ColorSpace": space,
        }
        _write(checked, engine, latents.to(engine.device), todo, route, stamps, header_extra, reporter, cancel,
               result, seam_seq)
        state.remove()
        result.timing = {k: round(v, 3) for k, v in engine.timing.items()}

    result.seconds = time.monotonic() - started
    reporter.done(frames=len(result.frames), skipped=len(result.skipped), output=out_seq.pattern,
                  seconds=round(result.seconds, 3), resumed_from_step=result.resumed_from_step, timing=result.timing)
    return result


def _loader(job: Job):
    from .models import Loader
    from .presets import load_preset

    return Loader(load_preset(job.model, job.root), job.device, job.precision)


def _require_parts(job: Job, preset) -> None:
    """Every model part this job needs is there (one clear error before anything runs)."""
    from .models import locate

    roles = ["base", "controlnet", "motion_adapter"]
    roles += [] if job.input.depth_channel else ["depth"]
    roles += ["ip_adapter", "image_encoder"] if job.reference_image else []
    for role in roles:
        locate(preset, role)


def _sample(job, checked, size, windows, loader, state, saved, reporter, cancel, warnings):
    """Stages 3 and 4: conditions, then the sampler from noise (or from a saved step)."""
    import torch

    from .content import encode_content
    from .denoise import ShotInputs, denoise, initial_latents, timesteps_for
    from .depth import apply_structure_level, shot_depth
    from .engine import Engine
    from .modelframes import ModelFrames
    from .sampling import frame_noise

    plate = checked.plate
    frames = list(plate.frames)
    began = time.perf_counter()
    model_frames = ModelFrames(plate, checked.colorspace, size, reporter, warnings)
    content = encode_content(job, loader, cache_folder(job))
    loader.release("base:text", "image_encoder")
    shot = checked.shot
    shot_frames = model_frames if shot is plate else ModelFrames(shot, checked.colorspace, size, reporter, [])
    depth = shot_depth(job, shot, shot_frames, size, lambda: loader, reporter, cancel)
    loader.release("depth")
    depth_t = torch.stack([torch.from_numpy(apply_structure_level(depth.frames[f], job.structure_level))
                           for f in frames])[:, None].half()
    del depth
    conditions = time.perf_counter() - began

    engine = Engine(loader, job, reference=content.image_embeds is not None)
    engine.timing["conditions"] += conditions
    factor = engine.latent_factor
    lat_shape = (engine.vae.config.latent_channels, size[1] // factor, size[0] // factor)
    image = None
    if content.image_embeds is not None:
        image = torch.cat([content.negative_image_embeds, content.image_embeds])[:, None]
    inputs = ShotInputs(frames=frames, text=torch.cat([content.negative_embeds, content.prompt_embeds]), image=image,
                        depth=depth_t, noise=frame_noise(frames, job.seed, lat_shape))
    if job.strength < 1.0 or checked.matte.enabled:
        inputs.plate_latents = _encode_plate(engine, model_frames, frames, reporter, cancel)
    if checked.matte.enabled:
        inputs.mask = _latent_masks(checked, size, factor).to(engine.device)

    timesteps = timesteps_for(engine.scheduler, job.steps, job.strength, engine.device)
    if saved is not None and saved[1] == len(timesteps):
        start, latents = saved[0], saved[2].to(engine.device)
    else:
        start, latents = 0, initial_latents(engine.scheduler, inputs, timesteps, job.strength, engine.device)
    latents = denoise(engine, inputs, latents, timesteps, windows, start_step=start, reporter=reporter, cancel=cancel,
                      save_state=lambda k, lat: state.save(k, len(timesteps), lat))
    return latents, engine


def _chunks(frames: list[int], size: int):
    """Fixed chunks from the range's first frame: a resumed render decodes the very same batches."""
    return [frames[i:i + size] for i in range(0, len(frames), size)]


def _encode_plate(engine, model_frames, frames, reporter, cancel):
    import torch

    out = []
    with engine.stage("vae"):
        for chunk in _chunks(frames, engine.plan.decode_chunk):
            cancel.check("while encoding the plate")
            out.append(engine.encode([model_frames.get(f) for f in chunk]))
            reporter.progress("encode", len(out[-1]) + sum(len(o) for o in out[:-1]), len(frames))
    return torch.cat(out)


def _latent_masks(checked, size, factor):
    """Edit weight per frame at latent size, grown: a latent pixel is edited when any pixel under it is,
    and one latent pixel around that too, so the soft edge of the matte falls inside what is generated."""
    import torch

    width, height = size
    masks = []
    for f in checked.plate.frames:
        weight = checked.matte.weight(f)[:, :, 0]
        small = resize(weight, width, height)
        blocks = small.reshape(height // factor, factor, width // factor, factor).max(axis=(1, 3)) > 1e-3
        grown = np.pad(blocks, 1)
        grown = np.max([grown[1 + dy:grown.shape[0] - 1 + dy, 1 + dx:grown.shape[1] - 1 + dx]
                        for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0)
        masks.append(grown.astype(np.float32))
    return torch.from_numpy(np.stack(masks))[:, None]


def _write(checked, engine, latents, todo, route, stamps, header_extra, reporter, cancel, result, seam_seq=None):
    """Stage 5: decode the chunks holding unwritten frames; write each frame atomically."""
    plate, space, matte = checked.plate, checked.colorspace, checked.matte
    dw = plate.header.data_window
    frames = list(plate.frames)
    wanted = set(todo)
    index = {f: i for i, f in enumerate(frames)}
    with engine.stage("vae"):
        for chunk in _chunks(frames, engine.plan.decode_chunk):
            if not wanted.intersection(chunk):
                continue
            cancel.check(f"after {len(result.frames)} of {len(todo)} frames were written")
            decoded = engine.decode(latents[index[chunk[0]]:index[chunk[-1]] + 1])
            for f, img in zip(chunk, decoded):
                if f not in wanted:
                    continue
                cancel.check(f"after {len(result.frames)} of {len(todo)} frames were written")
                began = time.perf_counter()
                source = read_frame(plate.path(f))
                new_rgb = from_model(np.clip(resize(img, dw.width, dw.height), 0.0, 1.0), space)
                weight = matte.weight(f, source)
                if weight is not None:
                    new_rgb = composite(source.rgb(), new_rgb, weight)
                path = route[f].path(f)
                if route[f] is seam_seq:
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                write_frame(path, source.with_rgb(new_rgb),
                            {**header_extra, "recast/frame": str(f), "recast/plate": stamps[f]})
                engine.timing["write"] += time.perf_counter() - began
                result.frames.append(f)
                result.paths.append(path)
                reporter.frame(f, os.path.abspath(path), **({"seam": True} if route[f] is seam_seq else {}))
                reporter.progress("write", len(result.frames), len(todo))

