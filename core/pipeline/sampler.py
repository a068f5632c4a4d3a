"""The temporal sampler: every frame of a range denoised together, one context window at a time.

Per step, each window gets the backend's guided prediction (:meth:`.Backend.predict`: Gen-1's
guidance for the AnimateDiff backend); where windows overlap the predictions are averaged with
:func:`.sampling.window_weights` (high in a window's middle, low at its ends), then one
scheduler step (:meth:`.Backend.step`) moves every frame. Only one window's activations exist
at a time, so device memory does not grow with the shot; what is kept for the whole range is
its latents, the conditioning (depth at the model's size) and, with a mask or strength below 1,
the plate's latents.

* strength 1.0 starts from the frames' noise alone (structure from depth only, as in Gen-1);
  below 1.0 from the plate's latents noised to the matching step (SDEdit), both by the backend;
* with a mask, after every step the latents outside the (grown) latent mask are replaced by
  the plate's latents noised to the next step, so the edit grows from the kept plate;
* a scheduler that draws fresh noise every step (LCM) gets it from (seed, frame, step): the same for a
  frame in any range, chunk or resumed run;
* cancel is checked before every window; the state is saved after every whole step.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass

__all__ = ["ShotInputs", "denoise"]


@dataclass
class ShotInputs:
    """Everything the sampler needs of a range, indexed by position in ``frames``."""

    frames: list[int]  #: the positions denoised: frame numbers, or latent frames on the shot's grid
    conditions: object  #: the backend's conditioning of the shot (:meth:`.Backend.conditions`)
    noise: object  #: (N, *latent shape) float32: each frame's noise, drawn from (seed, frame)
    seed: int = 0  #: the job's seed (a stochastic scheduler's per-step noise is drawn from it)
    plate_latents: object | None = None  #: (N, *latent shape) on the device, when strength < 1 or masked
    mask: object | None = None  #: (N, 1, h, w) on the device: 1 = edit, 0 = keep the plate
    shared: int = 0  #: leading latent frames every window sees (a reference image's): not in ``frames``


def denoise(backend, inputs: ShotInputs, latents, timesteps, windows, *, start_step=0, reporter, cancel,
            save_state=None, previews=None, pool=None):
    """Run steps ``start_step..`` over ``windows`` (inclusive absolute frame ranges); returns the latents.
    ``save_state(steps_done, latents)`` is called after every whole step; ``previews`` (a
    :class:`.previews.PreviewWriter`) shows every window's frames after each of its steps; ``pool`` (a
    :class:`.devices.DevicePool`) predicts the windows on several devices, fused here in the same order."""
    import torch

    from .sampling import frame_noise, window_weights

    first = inputs.frames[0]
    total = len(timesteps) * len(windows)
    s = inputs.shared
    n = latents.shape[0] - s
    def window_of(a, b):
        i, j = a - first, b - first + 1
        return (torch.cat([latents[:s], latents[s + i:s + j]]) if s else latents[i:j]), slice(i, j)

    if pool is not None:
        pool.begin(inputs.conditions)
    with (backend.stage("denoise") if pool is None else nullcontext()), torch.inference_mode():
        for step in range(start_step, len(timesteps)):
            t = timesteps[step]
            fused = torch.zeros_like(latents[s:])
            weight = torch.zeros(n, device=latents.device)
            shared = torch.zeros_like(latents[:s])
            remote = None
            if pool is not None:  # every window goes out at once; the predictions come back in window order
                cancel.check(f"while denoising (step {step + 1} of {len(timesteps)}); no frame was written by "
                             "this run yet, and a rerun resumes from the last whole step")
                remote = pool.predictions([window_of(a, b) for a, b in windows], t)
            for k, (a, b) in enumerate(windows):
                cancel.check(f"while denoising (step {step + 1} of {len(timesteps)}); no frame was written by "
                             "this run yet, and a rerun resumes from the last whole step")
                window, where = window_of(a, b)
                i, j = where.start, where.stop
                if remote is not None:  # the time waiting for the workers counts as the network's
                    began = time.perf_counter()
                    eps = next(remote).to(latents.device)
                    backend.timing["unet"] = backend.timing.get("unet", 0.0) + time.perf_counter() - began
                else:
                    eps = backend.predict(window, t, inputs.conditions, where)
                shared += eps[:s]  # the shared frames: the windows' mean
                eps = eps[s:]
                w = window_weights(j - i).to(latents.device)
                fused[i:j] += eps * w.view(-1, *[1] * (eps.dim() - 1))
                weight[i:j] += w
                if previews is not None:
                    previews.window(backend, window[s:], eps, t, range(i, j), step + 1, len(timesteps))
                reporter.progress("denoise", step * len(windows) + k + 1, total, step=step + 1, steps=len(timesteps))
            eps = fused / weight.view(-1, *[1] * (fused.dim() - 1))
            if s:
                eps = torch.cat([shared / len(windows), eps])
            fresh = None
            if backend.stochastic_steps and step + 1 < len(timesteps):
                fresh = frame_noise(inputs.frames, inputs.seed, tuple(latents.shape[1:]), salt=f"step{step}")
                fresh = fresh.to(latents.device)
            latents = backend.step(eps, t, latents, fresh) if fresh is not None else backend.step(eps, t, latents)
            if inputs.mask is not None:
                body = _keep_plate(backend, inputs, latents[s:], timesteps, step)
                latents = torch.cat([latents[:s], body]) if s else body
            if save_state is not None:
                save_state(step + 1, latents)
    if pool is not None:
        pool.end()
    return latents


def _keep_plate(backend, inputs: ShotInputs, latents, timesteps, step):
    """Outside the mask, the plate's latents at the noise level the next step expects."""
    if step + 1 < len(timesteps):
        kept = backend.add_noise(inputs.plate_latents, inputs.noise[inputs.shared:], timesteps[step + 1:step + 2])
    else:
        kept = inputs.plate_latents
    return inputs.mask * latents + (1.0 - inputs.mask) * kept
