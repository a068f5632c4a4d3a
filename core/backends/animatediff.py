"""The first backend: SD 1.5 + AnimateDiff motion adapter + depth ControlNet + IP-Adapter, DDIM.

The network stack and its guided prediction are :class:`.animatediff_net.Engine`; this module
maps the :class:`.base.Backend` interface onto it: CLIP text / IP-Adapter content
(:mod:`.clip_content`, cached), depth as the ControlNet's conditioning image, the DDIM
scheduler's timesteps, noising and steps (SDEdit for strength < 1, as diffusers' img2img
pipelines count it). No temporal compression: one latent frame per frame.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

from .base import Backend, Capabilities
from .latent_rgb import SD15_LATENT_RGB

__all__ = ["AnimateDiffBackend", "AnimateDiffConditions"]


@dataclass
class AnimateDiffConditions:
    """What every window's prediction takes from the shot."""

    text: object  #: (2, 77, D) [unconditional, conditional] CLIP text embeddings
    image: object | None  #: (2, 1, E) IP-Adapter embeddings [zeros, reference] or None
    depth: object  #: (N, 1, H, W) float16 on the CPU: depth at the structure level, 1 = near


class AnimateDiffBackend(Backend):
    name = "animatediff"
    description = "recast temporal diffusion (depth ControlNet + AnimateDiff + IP-Adapter)"
    latent_preview = SD15_LATENT_RGB
    capabilities = Capabilities(strength=True, temporal_guidance=True, reference_image=True, masks=True,
                                loras=True)
    temporal_compression = 1
    size_multiple = 8
    window_limits = (2, 32)

    def __init__(self, loader, job):
        super().__init__()
        from .animatediff_net import Engine

        self.loader, self.job = loader, job
        self.description = self.describe(loader.preset)  # what the frames' headers say made them
        self.engine = Engine(loader, job, reference=bool(job.reference_image))
        self.timing = self.engine.timing
        self.decode_chunk = self.engine.plan.decode_chunk

    @classmethod
    def describe(cls, preset) -> str:
        return cls.description + (" · LCM few-step sampling (fast tier)" if preset.scheduler == "lcm" else "")

    def require_parts(self, job) -> None:
        from ..models.parts import locate

        preset = self.loader.preset
        for role in (["base", "controlnet", "motion_adapter"] + (["lcm_lora"] if "lcm_lora" in preset.parts else [])
                     + (["ip_adapter", "image_encoder"] if job.reference_image else [])):
            locate(preset, role)
        import json
        import os

        from ..errors import JobError

        # the motion adapter's own length (window_limits says 32, what the published adapters hold)
        with open(os.path.join(locate(preset, "motion_adapter"), "config.json"), encoding="utf-8") as fh:
            longest = int(json.load(fh).get("motion_max_seq_length", self.window_limits[1]))
        if job.window.length > longest:
            raise JobError(f"job field 'window.length': {job.window.length} is not allowed for the '{self.name}' "
                           f"backend; expected {self.window_limits[0]}..{longest} (the motion adapter's length)")
        if job.lora_files:  # a LoRA for another base (or one not trained yet) is one line before anything runs
            job.require_trained_lora()
            from ..models.lora import check_loras_fit

            with open(os.path.join(locate(self.loader.preset, "base"), "unet", "config.json"), encoding="utf-8") as fh:
                check_loras_fit(job.lora_files, int(json.load(fh)["cross_attention_dim"]))

    @property
    def device(self):
        return self.engine.device

    #: activation bytes per (latent token · frame · batch entry · UNet base channel · byte of the number
    #: format) of one window through the motion UNet + ControlNet, by device type. CPU calibrated: full-size
    #: SD 1.5 + motion adapter + depth ControlNet, fp32, 8 frames at 192x192, batch 2 peaked at 12.6 GB RSS
    #: (bench/RESULTS.md), about 7.5 GB of it weights. On GPUs PyTorch's fused attention keeps no attention
    #: matrix: about a quarter (AnimateDiff's published ~10-12 GB for 16 frames at 512 px in fp16).
    #: Rough by nature; the preflight refuses only far beyond what is free.
    UNET_ACTIVATION = {"cpu": 425, "cuda": 100, "mps": 100}
    VAE_ACTIVATION = 6  #: the decoder's full-resolution tensors alive at once, per pixel and base channel

    def estimate_memory(self, size, window, frames):
        import json
        import os

        from ..models.parts import locate, parameter_count

        preset, nbytes = self.loader.preset, self.engine.dtype.itemsize
        base = locate(preset, "base")
        with open(os.path.join(base, "unet", "config.json")) as fh:
            unet_c0 = json.load(fh)["block_out_channels"][0]
        with open(os.path.join(base, "vae", "config.json")) as fh:
            vae_c0 = json.load(fh)["block_out_channels"][0]
        roles = ["base", "controlnet", "motion_adapter"] + (["ip_adapter", "image_encoder"]
                                                            if self.job.reference_image else [])
        weights = sum(parameter_count(locate(preset, r)) for r in roles) * nbytes
        width, height = size
        tokens = (width // self.engine.latent_factor) * (height // self.engine.latent_factor)
        batch = 2 + (self.job.temporal_guidance != 1.0)
        per = self.UNET_ACTIVATION.get(self.device.type, 425)
        window_bytes = per * unet_c0 * tokens * window * batch * nbytes
        low = self.engine.plan.mode == "low"
        if low:  # feed-forward chunking and sliced ControlNet attention roughly halve it; weights visit in turn
            window_bytes //= 2
            weights //= 2
        decode = self.VAE_ACTIVATION * vae_c0 * width * height * self.decode_chunk * nbytes
        shot = frames * (tokens * 4 * 4 * 4 + width * height * 2)  # latents, noise, plate latents, fused; depth
        return {"models": weights, "one window": window_bytes, "decode": decode, "shot": shot}

    # --- latent space --------------------------------------------------------------------
    def latent_shape(self, size):
        factor = self.engine.latent_factor
        return (self.engine.vae.config.latent_channels, size[1] // factor, size[0] // factor)

    def encode(self, frames):
        return self.engine.encode(frames)

    def decode(self, latents):
        return self.engine.decode(latents)

    # --- conditioning ----------------------------------------------------------------------
    def conditions(self, job, content_cache, depth, masks=None):  # the matte acts through the latent blending alone
        import torch

        from .clip_content import encode_content

        content = encode_content(job, self.loader, content_cache, self.warnings)
        self.loader.release(*[k for k in self.loader.keys() if k.startswith("base:text")], "image_encoder")
        image = None
        if content.image_embeds is not None:
            image = torch.cat([content.negative_image_embeds, content.image_embeds])[:, None]
        text = torch.cat([content.negative_embeds, content.prompt_embeds])
        return AnimateDiffConditions(text=text, image=image, depth=depth)

    # --- the DDIM scheduler ------------------------------------------------------------------
    @property
    def scheduler(self):
        return self.engine.scheduler

    def timesteps(self, steps, strength):
        """The last ``strength`` share of the scheduler's ``steps`` timesteps (at least one)."""
        scheduler = self.scheduler
        scheduler.set_timesteps(steps, device=self.device)
        keep = max(1, min(int(steps * strength), steps))  # a very low strength still runs one step
        return scheduler.timesteps[(steps - keep) * scheduler.order:]

    def initial_latents(self, noise, plate_latents, timesteps, strength):
        noise = noise.to(self.device)
        if strength >= 1.0 or plate_latents is None:
            return noise * self.scheduler.init_noise_sigma
        return self.scheduler.add_noise(plate_latents, noise, timesteps[:1])

    def add_noise(self, clean, noise, timestep):
        return self.scheduler.add_noise(clean, noise.to(clean.device), timestep)

    @property
    def stochastic_steps(self) -> bool:
        """The LCM scheduler (the fast tier) adds fresh noise between its steps; DDIM (η = 0) does not."""
        return self.loader.preset.scheduler == "lcm"

    def denoised(self, latents, prediction, timestep):
        """ε-prediction: x₀ = (x − √(1 − ᾱ)·ε) / √ᾱ."""
        alpha = self.scheduler.alphas_cumprod[int(timestep)].to(latents.device).float()
        return (latents.float() - (1 - alpha).sqrt() * prediction.to(latents.device).float()) / alpha.sqrt()

    def step(self, prediction, timestep, latents, noise=None):
        if not self.stochastic_steps:
            return self.scheduler.step(prediction, timestep, latents).prev_sample
        # LCM: the scheduler's own denoised sample; the noise it would draw for the whole batch at once is drawn per
        # frame instead (the sampler's ``noise``), with the scheduler's own weights (LCMScheduler.step)
        import torch

        scheduler = self.scheduler
        scratch = torch.Generator(device=prediction.device).manual_seed(0)  # its own draw is discarded: keep the
        denoised = scheduler.step(prediction, timestep, latents, generator=scratch).denoised  # global RNG untouched
        index = scheduler.step_index  # the next step's (the scheduler has moved on)
        if noise is None or index >= len(scheduler.timesteps):
            return denoised
        alpha = scheduler.alphas_cumprod[scheduler.timesteps[index]].to(denoised.device, denoised.dtype)
        return alpha.sqrt() * denoised + (1 - alpha).sqrt() * noise.to(denoised.device, denoised.dtype)

    # --- one window ------------------------------------------------------------------------
    def predict(self, latents, timestep, conditions, window):
        depth = conditions.depth[window].expand(-1, 3, -1, -1)
        return self.engine.predict(latents, timestep, conditions.text, conditions.image, depth)

    @contextmanager
    def stage(self, name):
        parts = {"denoise": ("unet", "controlnet"), "vae": ("vae",)}[name]
        with self.engine.stage(*parts):
            yield
