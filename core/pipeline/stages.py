"""Render stages 4 and 5, each a function of the plan and the backend.

4. ``sample`` — for one layer (one view): structure (:mod:`.shot_depth`: shot-normalised depth at
   the job's structure level) and content (the backend's conditioning, cached), then the sampler
   (:mod:`.sampler`) from per-frame noise, or from the plate (strength < 1, masks), or from a saved
   step. Every layer gets the same per-frame noise, so the views of a stereo plate get one look;
5. ``write_frames`` — every layer decoded a fixed chunk at a time (or, for the null render, the
   plate's own model-space frames at full size), resized to the canvas, cut to each frame's own
   data window, model space → the plate's colour space (inverting ``model_view``), composited over
   the plate through the mask; every other channel, part, window and header attribute kept;
   atomic per frame. The device decodes the next chunk while a writer thread does that work for the
   frames already decoded (:class:`recast.core.io.background.Writer`, a bounded queue: memory stays flat);
   a frame is announced once it is on disk, in order. Plate frames for the encoder are read ahead.
"""

from __future__ import annotations

import os
import time
from contextlib import nullcontext

import numpy as np

from .. import __version__
from ..errors import Cancelled
from ..io.background import Writer, read_ahead
from ..io.colour import from_model
from ..io.exrio import read_parts, write_parts
from ..io.layout import place
from ..io.resolution import resize
from ..io.cache import cache_folder
from ..job.speed import speed_notes
from ..shot.display import display_rgb
from ..shot.matte import composite
from ..shot.model_frames import ModelFrames

__all__ = ["sample", "write_frames", "header_attributes", "NULL_RENDERER"]

NULL_RENDERER = "recast null render (strength 0: the plate to model space and back, no model)"


def _chunks(frames: list[int], size: int):
    """Fixed chunks from the range's first frame: a resumed render decodes the very same batches."""
    return [frames[i:i + size] for i in range(0, len(frames), size)]


def model_frames(plan, layer, reporter, warnings, shot=False) -> ModelFrames:
    """The plate (or the whole shot) of ``layer`` as the model sees it."""
    checked = plan.checked
    return ModelFrames(checked.shot if shot else checked.plate, checked.colorspace, plan.size, reporter, warnings,
                       layer, plan.job.model_view, plan.canvas)


def sample(plan, backend, layer, state, saved, loader_factory, reporter, cancel, warnings, previews=False, pool=None):
    """Conditions, then the sampler from noise (or from a saved step) for ``layer``; returns the latents."""
    import torch

    from . import sampler
    from .depth import apply_structure_level
    from .shot_depth import shot_depth

    job, checked, size = plan.job, plan.checked, plan.size
    frames = plan.model_frames  # the range, and its last frame repeated where a latent grid needs more
    began = time.perf_counter()
    layer_frames = model_frames(plan, layer, reporter, warnings)
    shot_frames = layer_frames if checked.shot is checked.plate else model_frames(plan, layer, reporter, [], True)
    depth = shot_depth(job, checked.shot, shot_frames, size, loader_factory, reporter, cancel)
    if not job.input.depth_channel:  # freed before the UNet loads (a stereo render loads it again for the next
        loader_factory().release("depth")  # view: peak memory matters more than one more load)
    depth_t = torch.stack([torch.from_numpy(apply_structure_level(depth.frames[f], job.structure_level))
                           for f in frames])[:, None].half()
    del depth
    pixel_masks = _pixel_masks(plan, layer, frames) if checked.matte.enabled else None
    conditions = backend.conditions(job, cache_folder(job), depth_t, masks=pixel_masks)
    for message in backend.warnings:
        if message not in warnings:
            warnings.append(message)
            reporter.warning(message)
    backend.timing["conditions"] = backend.timing.get("conditions", 0.0) + time.perf_counter() - began

    shared = backend.shared_positions
    inputs = sampler.ShotInputs(frames=plan.positions, conditions=conditions, seed=job.seed, shared=shared,
                                noise=_noise(plan, job.seed, backend.latent_shape(size), shared))
    if job.strength < 1.0 or checked.matte.enabled:
        inputs.plate_latents = _encode_plate(backend, layer_frames, frames, reporter, cancel)
    if checked.matte.enabled:
        factor = size[0] // backend.latent_shape(size)[-1]
        inputs.mask = _latent_masks(pixel_masks, factor, plan.compression).to(backend.device)

    timesteps = backend.timesteps(job.steps, job.strength)
    if saved is not None and saved[1] == len(timesteps):
        start, latents = saved[0], saved[2].to(backend.device)
    else:
        start, latents = 0, backend.initial_latents(inputs.noise, inputs.plate_latents, timesteps, job.strength)
    from .previews import preview_writer

    writer = preview_writer(plan, backend, layer, reporter, cache_folder(job)) if previews else None
    return sampler.denoise(backend, inputs, latents, timesteps, plan.windows, start_step=start, reporter=reporter,
                           cancel=cancel, save_state=lambda k, lat: state.save(k, len(timesteps), lat), previews=writer,
                           pool=pool)


def _noise(plan, seed, shape, shared):
    """Each position's starting noise, drawn from the seed and what it holds (:meth:`.plan.RenderPlan.noise_keys`);
    shared positions (a reference slot) first."""
    import torch

    from .sampling import frame_noise

    parts = [frame_noise([0] * shared, seed, shape, salt="shared")] if shared else []
    for f, salt in plan.noise_keys():
        parts.append(frame_noise([f], seed, shape, salt=salt))
    return torch.cat(parts)


class _Lazy:
    """Frames read when sliced (a backend that encodes a whole range at once takes them group by group)."""

    def __init__(self, get, frames):
        self.get, self.frames = get, frames

    def __len__(self):
        return len(self.frames)

    def __getitem__(self, index):
        return [self.get(f) for f in self.frames[index]] if isinstance(index, slice) else self.get(self.frames[index])


def _encode_plate(backend, frames_in, frames, reporter, cancel):
    import contextlib

    import torch

    if backend.video_vae:  # a causal video VAE: the whole range, one frame group after another
        with backend.stage("vae"):
            latents = backend.encode(_Lazy(frames_in.get, frames))
        reporter.progress("encode", len(frames), len(frames))
        return latents
    out = []
    with backend.stage("vae"), contextlib.closing(read_ahead(frames_in.get, frames, backend.decode_chunk)) as ahead:
        for chunk in _chunks(frames, backend.decode_chunk):
            cancel.check("while encoding the plate")
            out.append(backend.encode([next(ahead)[1] for _ in chunk]))
            reporter.progress("encode", sum(len(o) for o in out), len(frames))
    return torch.cat(out)


def _pixel_masks(plan, layer, frames):
    """Edit weight of each of ``frames`` at the model's size: (F, 1, H, W) float32, 1 = edit."""
    import torch

    width, height = plan.size
    return torch.from_numpy(np.stack([resize(plan.checked.matte.weight(f, window=plan.canvas, layer=layer)[:, :, 0],
                                             width, height) for f in frames]))[:, None].clamp(0, 1)


def _latent_masks(pixel_masks, factor, compression=1):
    """Edit weight per latent frame at latent size, grown: a latent pixel is edited when any pixel under it is (in
    any frame it holds), and one latent pixel around that too, so the soft edge of the matte falls inside what is
    generated."""
    import torch

    masks = []
    for small in pixel_masks[:, 0].numpy():
        height, width = small.shape
        blocks = small.reshape(height // factor, factor, width // factor, factor).max(axis=(1, 3)) > 1e-3
        grown = np.pad(blocks, 1)
        grown = np.max([grown[1 + dy:grown.shape[0] - 1 + dy, 1 + dx:grown.shape[1] - 1 + dx]
                        for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0)
        masks.append(grown.astype(np.float32))
    m = torch.from_numpy(np.stack(masks))
    if compression > 1:  # a latent frame holds the first frame alone, then groups: edited where any of them is
        m = torch.cat([m[:1], m[1:].reshape(-1, compression, *m.shape[1:]).amax(1)])
    return m[:, None]


def header_attributes(plan, renderer: str) -> dict[str, str]:
    """What every written frame records of the render (the job itself among them)."""
    return {
        "recast/job": plan.job.absolute().to_json(indent=None),
        "recast/fingerprint": plan.fingerprint,
        "recast/version": __version__,
        "recast/renderer": renderer,
        "recast/range": str(plan.frames),
        "recast/model_size": f"{plan.size[0]}x{plan.size[1]}",
        "recast/layers": ", ".join(layer.describe() for layer in plan.layers),
        "oiio:ColorSpace": plan.checked.colorspace,
        # each when set: a null render (strength 0) runs no model and leaves what the job leaves unset unset
        **({"recast/steps": str(plan.job.steps)} if plan.job.steps is not None else {}),
        **({"recast/guidance_scale": f"{plan.job.guidance_scale:g}"} if plan.job.guidance_scale is not None else {}),
        **({"recast/loras": _loras_note(plan.job)} if plan.job.lora_files else {}), **speed_notes(plan.job),
    }


def _loras_note(job) -> str:
    """Each LoRA by file name, weight and content hash: what a reviewer needs to find the exact file again."""
    from ..models.lora import lora_digest

    return ", ".join(f"{os.path.basename(p)}@{w:g} sha256:{lora_digest(p)[:16]}" for p, w in job.lora_files)


def _edited(plan, layer, model_img, part_frame, f):
    """One layer of one frame: the model-space image (any size, on the canvas) → the layer's channels over
    the part's own data window, composited over the plate through the mask."""
    checked, canvas = plan.checked, plan.canvas
    dw = part_frame.header.data_window
    on_canvas = resize(model_img, canvas.width, canvas.height) if model_img.shape[:2] != (canvas.height,
                                                                                          canvas.width) else model_img
    rgb = from_model(np.clip(place(on_canvas, canvas, dw), 0.0, 1.0), checked.colorspace, plan.job.model_view)
    new = layer.from_rgb(part_frame, rgb)
    weight = checked.matte.weight(f, part_frame, dw, layer)
    return composite(layer.channels(part_frame), new, weight) if weight is not None else new


def _decoded(plan, backend, latents, frames, wanted, decode_chunk, check):
    """(frame, {layer: model-space image} — None for the null render) in order: the chunks holding frames still to
    write (a resumed render decodes only those), or, for a causal video VAE (:attr:`.Backend.video_vae`), the whole range streamed a latent
    frame at a time (the range's padding repeats never come out). ``check()`` is called before each decode."""
    if latents is None:
        yield from ((f, None) for f in frames)
        return
    if backend.video_vae:
        s = backend.shared_positions
        streams = {layer: backend.decode_stream(latents[layer][s:]) for layer in plan.layers}
        i = 0
        while True:
            check()
            groups = {layer: next(stream, None) for layer, stream in streams.items()}
            if any(g is None for g in groups.values()):
                return
            for k in range(len(next(iter(groups.values())))):
                if i < len(frames):
                    yield frames[i], {layer: g[k] for layer, g in groups.items()}
                i += 1
    index = {f: i for i, f in enumerate(frames)}
    for chunk in _chunks(frames, decode_chunk):
        if not wanted.intersection(chunk):
            continue
        check()
        decoded = {layer: backend.decode(latents[layer][index[chunk[0]]:index[chunk[-1]] + 1]) for layer in plan.layers}
        for k, f in enumerate(chunk):
            yield f, {layer: decoded[layer][k] for layer in plan.layers}


def write_frames(plan, backend, latents, header, reporter, cancel, result, write_behind: bool = True):
    """Decode the chunks holding unwritten frames (``latents``: layer → latents; None for the null render);
    write each frame, every part of it, atomically — on a writer thread while the next chunk decodes
    (``write_behind``; off: in turn, what the benchmark compares)."""
    plate = plan.checked.plate
    frames = list(plate.frames)
    wanted = set(plan.todo)
    null_frames = {layer: model_frames(plan, layer, reporter, []) for layer in plan.layers} if latents is None else {}
    decode_chunk = backend.decode_chunk if backend is not None else 1

    def write_one(item):
        f, images = item
        if cancel.is_set:  # cancelled while queued: the frame being written was the last
            return
        began = time.perf_counter()
        parts = read_parts(plate.path(f))
        for layer in plan.layers:
            if images is None:
                src = null_frames[layer]
                img = display_rgb(src.canvas_rgb(f), src.space, src.view)
            else:
                img = images[layer]
            parts[layer.part] = layer.with_channels(parts[layer.part], _edited(plan, layer, img, parts[layer.part], f))
        seam = plan.route[f] is plan.seams
        path = plan.route[f].path(f)
        if seam:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        write_parts(path, parts, {**header, "recast/frame": str(f), "recast/plate": plan.stamps[f]})
        if backend is not None:
            backend.timing["write"] = backend.timing.get("write", 0.0) + time.perf_counter() - began
        result.frames.append(f)
        result.paths.append(path)
        reporter.frame(f, os.path.abspath(path), **({"seam": True} if seam else {}))
        reporter.progress("write", len(result.frames), len(plan.todo))

    writer = Writer(write_one, depth=max(2, decode_chunk)) if write_behind else None
    stage = backend.stage("vae") if backend is not None else nullcontext()
    said = lambda: f"after {len(result.frames)} of {len(plan.todo)} frames were written"  # noqa: E731
    try:
        with stage:
            for f, images in _decoded(plan, backend, latents, frames, wanted, decode_chunk, lambda: cancel.check(said())):
                if f not in wanted:
                    continue
                cancel.check(said())
                writer.put((f, images)) if writer is not None else write_one((f, images))
    except BaseException as exc:
        if writer is not None:  # the frame being written is finished; queued ones are dropped
            writer.close(discard=True)
        if isinstance(exc, Cancelled):  # said again with the count of frames now on disk
            cancel.check(f"after {len(result.frames)} of {len(plan.todo)} frames were written")
        raise
    if writer is not None:
        writer.close()
        if len(result.frames) < len(plan.todo):  # a cancel that came while the last chunk was being written
            cancel.check(f"after {len(result.frames)} of {len(plan.todo)} frames were written")
