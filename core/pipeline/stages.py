"""Render stages 4 and 5, each a function of the plan and the backend.

4. ``sample`` — structure (:mod:`.shot_depth`: shot-normalised depth at the job's structure
   level) and content (the backend's conditioning, cached), then the sampler (:mod:`.sampler`)
   from per-frame noise, or from the plate (strength < 1, masks), or from a saved step;
5. ``write_frames`` — decoded a fixed chunk at a time, resized to the plate's data window,
   model space → the plate's colour space, composited over the plate through the mask; every
   other channel, window and header attribute kept; atomic per frame.
"""

from __future__ import annotations

import os
import time

import numpy as np

from .. import __version__
from ..io.colour import from_model
from ..io.exrio import read_frame, write_frame
from ..io.resolution import resize
from ..models.cache import cache_folder
from ..shot.matte import composite
from ..shot.model_frames import ModelFrames

__all__ = ["sample", "write_frames", "header_attributes"]


def _chunks(frames: list[int], size: int):
    """Fixed chunks from the range's first frame: a resumed render decodes the very same batches."""
    return [frames[i:i + size] for i in range(0, len(frames), size)]


def sample(plan, backend, state, saved, loader_factory, reporter, cancel, warnings):
    """Conditions, then the sampler from noise (or from a saved step); returns the latents."""
    import torch

    from . import sampler
    from .sampling import frame_noise
    from .depth import apply_structure_level
    from .shot_depth import shot_depth

    job, checked, size = plan.job, plan.checked, plan.size
    frames = list(plan.frames)
    began = time.perf_counter()
    model_frames = ModelFrames(checked.plate, checked.colorspace, size, reporter, warnings)
    shot = checked.shot
    shot_frames = model_frames if shot is checked.plate else ModelFrames(shot, checked.colorspace, size, reporter, [])
    depth = shot_depth(job, shot, shot_frames, size, loader_factory, reporter, cancel)
    if not job.input.depth_channel:
        loader_factory().release("depth")
    depth_t = torch.stack([torch.from_numpy(apply_structure_level(depth.frames[f], job.structure_level))
                           for f in frames])[:, None].half()
    del depth
    conditions = backend.conditions(job, cache_folder(job), depth_t)
    for message in getattr(backend, "warnings", []):
        warnings.append(message)
        reporter.warning(message)
    backend.timing["conditions"] = backend.timing.get("conditions", 0.0) + time.perf_counter() - began

    inputs = sampler.ShotInputs(frames=frames, conditions=conditions,
                                noise=frame_noise(frames, job.seed, backend.latent_shape(size)))
    if job.strength < 1.0 or checked.matte.enabled:
        inputs.plate_latents = _encode_plate(backend, model_frames, frames, reporter, cancel)
    if checked.matte.enabled:
        inputs.mask = _latent_masks(checked, size, size[0] // backend.latent_shape(size)[-1]).to(backend.device)

    timesteps = backend.timesteps(job.steps, job.strength)
    if saved is not None and saved[1] == len(timesteps):
        start, latents = saved[0], saved[2].to(backend.device)
    else:
        start, latents = 0, backend.initial_latents(inputs.noise, inputs.plate_latents, timesteps, job.strength)
    return sampler.denoise(backend, inputs, latents, timesteps, plan.windows, start_step=start, reporter=reporter,
                           cancel=cancel, save_state=lambda k, lat: state.save(k, len(timesteps), lat))


def _encode_plate(backend, model_frames, frames, reporter, cancel):
    import torch

    out = []
    with backend.stage("vae"):
        for chunk in _chunks(frames, backend.decode_chunk):
            cancel.check("while encoding the plate")
            out.append(backend.encode([model_frames.get(f) for f in chunk]))
            reporter.progress("encode", sum(len(o) for o in out), len(frames))
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


def header_attributes(plan, renderer: str) -> dict[str, str]:
    """What every written frame records of the render (the job itself among them)."""
    return {
        "recast/job": plan.job.absolute().to_json(indent=None),
        "recast/fingerprint": plan.fingerprint,
        "recast/version": __version__,
        "recast/renderer": renderer,
        "recast/range": str(plan.frames),
        "recast/model_size": f"{plan.size[0]}x{plan.size[1]}",
        "oiio:ColorSpace": plan.checked.colorspace,
    }


def write_frames(plan, backend, latents, header, reporter, cancel, result):
    """Decode the chunks holding unwritten frames; write each frame atomically."""
    checked = plan.checked
    plate, space, matte = checked.plate, checked.colorspace, checked.matte
    dw = plate.header.data_window
    frames = list(plate.frames)
    wanted = set(plan.todo)
    index = {f: i for i, f in enumerate(frames)}
    with backend.stage("vae"):
        for chunk in _chunks(frames, backend.decode_chunk):
            if not wanted.intersection(chunk):
                continue
            cancel.check(f"after {len(result.frames)} of {len(plan.todo)} frames were written")
            decoded = backend.decode(latents[index[chunk[0]]:index[chunk[-1]] + 1])
            for f, img in zip(chunk, decoded):
                if f not in wanted:
                    continue
                cancel.check(f"after {len(result.frames)} of {len(plan.todo)} frames were written")
                began = time.perf_counter()
                source = read_frame(plate.path(f))
                new_rgb = from_model(np.clip(resize(img, dw.width, dw.height), 0.0, 1.0), space)
                weight = matte.weight(f, source)
                if weight is not None:
                    new_rgb = composite(source.rgb(), new_rgb, weight)
                seam = plan.route[f] is plan.seams
                path = plan.route[f].path(f)
                if seam:
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                write_frame(path, source.with_rgb(new_rgb),
                            {**header, "recast/frame": str(f), "recast/plate": plan.stamps[f]})
                backend.timing["write"] = backend.timing.get("write", 0.0) + time.perf_counter() - began
                result.frames.append(f)
                result.paths.append(path)
                reporter.frame(f, os.path.abspath(path), **({"seam": True} if seam else {}))
                reporter.progress("write", len(result.frames), len(plan.todo))
