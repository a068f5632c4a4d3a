"""The temporal sampler: every frame of a range denoised together, one context window at a time.

Per step, each window gets Gen-1's guided prediction (:meth:`.engine.Engine.predict`); where
windows overlap the predictions are averaged with :func:`.sampling.window_weights` (high in a
window's middle, low at its ends), then one scheduler step moves every frame. Only one window's
activations exist at a time, so device memory does not grow with the shot; what is kept for the
whole range is its latents (4 × h/8 × w/8 floats a frame), the depth conditioning (one float16
channel at the model's size) and, with a mask or strength below 1, the plate's latents.

* strength 1.0 starts from the frames' noise alone (structure from depth only, as in Gen-1);
  below 1.0 from the plate's latents noised to the matching step (SDEdit);
* with a mask, after every step the latents outside the (grown) latent mask are replaced by
  the plate's latents noised to the next step, so the edit grows from the kept plate;
* cancel is checked before every window; the state is saved after every whole step.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ShotInputs", "timesteps_for", "initial_latents", "denoise"]


@dataclass
class ShotInputs:
    """Everything the sampler needs of a range, indexed by position in ``frames``."""

    frames: list[int]
    text: object  #: (2, 77, D) [unconditional, conditional] text embeddings
    image: object | None  #: (2, 1, E) IP-Adapter embeddings [zeros, reference] or None
    depth: object  #: (N, 1, H, W) float16, CPU: depth at the structure level, 1 = near
    noise: object  #: (N, 4, h, w) float32: each frame's noise, drawn from (seed, frame)
    plate_latents: object | None = None  #: (N, 4, h, w) on the device, when strength < 1 or masked
    mask: object | None = None  #: (N, 1, h, w) on the device: 1 = edit, 0 = keep the plate


def timesteps_for(scheduler, steps: int, strength: float, device):
    """The scheduler's timesteps for ``steps``, the last ``strength`` share of them (SDEdit), as diffusers'
    img2img pipelines count them."""
    scheduler.set_timesteps(steps, device=device)
    keep = min(int(steps * strength), steps)
    if keep < 1:
        keep = 1  # a very low strength still runs one step
    return scheduler.timesteps[(steps - keep) * scheduler.order:]


def initial_latents(scheduler, inputs: ShotInputs, timesteps, strength: float, device):
    """Pure noise at strength 1; otherwise the plate's latents noised to the first timestep."""
    noise = inputs.noise.to(device)
    if strength >= 1.0 or inputs.plate_latents is None:
        return noise * scheduler.init_noise_sigma
    return scheduler.add_noise(inputs.plate_latents, noise, timesteps[:1])


def denoise(engine, inputs: ShotInputs, latents, timesteps, windows, *, start_step=0, reporter, cancel,
            save_state=None):
    """Run steps ``start_step..`` over ``windows`` (inclusive absolute frame ranges); returns the latents.
    ``save_state(steps_done, latents)`` is called after every whole step."""
    import torch

    from .sampling import window_weights

    first = inputs.frames[0]
    total = len(timesteps) * len(windows)
    scheduler = engine.scheduler
    n = latents.shape[0]
    with engine.stage("unet", "controlnet"), torch.inference_mode():
        for step in range(start_step, len(timesteps)):
            t = timesteps[step]
            fused = torch.zeros_like(latents)
            weight = torch.zeros(n, device=latents.device)
            for k, (a, b) in enumerate(windows):
                cancel.check(f"while denoising (step {step + 1} of {len(timesteps)}); no frame was written by "
                             "this run yet, and a rerun resumes from the last whole step")
                i, j = a - first, b - first + 1
                depth = inputs.depth[i:j].expand(-1, 3, -1, -1)
                eps = engine.predict(latents[i:j], t, inputs.text, inputs.image, depth)
                w = window_weights(j - i).to(latents.device)
                fused[i:j] += eps * w[:, None, None, None]
                weight[i:j] += w
                reporter.progress("denoise", step * len(windows) + k + 1, total, step=step + 1, steps=len(timesteps))
            eps = fused / weight[:, None, None, None]
            latents = scheduler.step(eps, t, latents).prev_sample
            if inputs.mask is not None:
                latents = _keep_plate(scheduler, inputs, latents, timesteps, step)
            if save_state is not None:
                save_state(step + 1, latents)
    return latents


def _keep_plate(scheduler, inputs: ShotInputs, latents, timesteps, step):
    """Outside the mask, the plate's latents at the noise level the next step expects."""
    if step + 1 < len(timesteps):
        kept = scheduler.add_noise(inputs.plate_latents, inputs.noise.to(latents.device), timesteps[step + 1:step + 2])
    else:
        kept = inputs.plate_latents
    return inputs.mask * latents + (1.0 - inputs.mask) * kept
