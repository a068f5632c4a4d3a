"""The second backend: Wan VACE (``WanVACETransformer3DModel``, ``AutoencoderKLWan``, UMT5, flow matching), 2.1 and
2.2.

VACE takes Gen-1's inputs natively — a control video, reference images, a mask of what to generate — so the job
maps onto it directly (:mod:`.wan_vace_net` lays the inputs out as ``WanVACEPipeline`` does):

* **structure**: the shot's depth at the job's ``structure_level`` as the control video, its weight
  ``structure_weight`` as VACE's ``conditioning_scale`` on every VACE layer;
* **content**: the prompt through UMT5 (cached like CLIP's); the ``reference_image`` as a VACE reference image:
  one latent frame ahead of the shot that every context window sees (:attr:`shared_positions`), denoised with
  the average of the windows' predictions for it, and dropped at the end;
* **masks**: VACE's mask (1 = generate) from the job's matte, on top of Recast's own latent blending and the
  composite that keeps the plate bit-exact outside it;
* **strength** below 1: flow-matching SDEdit — the plate's latents and the noise mixed at the first step's sigma.

Time: the VAE holds 1 + 4k frames in k + 1 latent frames; Recast's plan lays the range and the context windows on
that grid, anchored at the shot's first frame, and draws each latent frame's noise from the frames it holds, so
sub-ranges, farm chunks and resumed renders agree. Sizes are multiples of 16. The scheduler is Euler flow matching
(first order: a render resumed at a step continues exactly). Not honoured, one clear error: ``temporal_guidance``
≠ 1 (Wan has no motion modules to switch off).

* **Wan 2.2** (VACE-Fun A14B): two experts; a step at timestep t ≥ ``boundary_ratio`` × the scheduler's training
  timesteps runs ``transformer`` (high noise), a later one ``transformer_2`` (low noise) — ``WanVACEPipeline``'s
  rule, the ratio read from the checkpoint's ``model_index.json``; one guidance scale for both.
* **LoRAs**: the job's ``loras`` (Wan LoRAs in diffusers', the original Wan or kohya's key layout) and a fast preset's
  step-distillation LoRA are fused into every expert through diffusers' Wan LoRA loader; one of another base (an SD
  1.5 LoRA, a 14B LoRA on 1.3B) is one line before anything loads. Training one (``customize``) is SD 1.5 only.
* **The fast tier** (``scheduler = "distilled"``): Euler at the evenly spaced sigmas 1, (n−1)/n … 1/n shifted by the
  preset's ``flow_shift`` — the timesteps the distilled students were trained on (``denoising_step_list``).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .base import Backend, Capabilities
from .latent_rgb import WAN21_LATENT_RGB
from .wan_speed import WanSpeed

__all__ = ["WanVaceBackend", "WanConditions"]


@dataclass
class WanConditions:
    text: object  #: (2, L, D) [negative, prompt] UMT5 embeddings, float32 on the CPU
    control: object  #: (96, K+1, h, w) the shot's VACE conditioning latents (control video halves + folded mask)
    reference: object | None  #: (96, 1, h, w) the reference image's conditioning latent frame, or None
    scale: object  #: conditioning scale per VACE layer


class WanVaceBackend(WanSpeed, Backend):
    name = "wan-vace"
    description = "Wan 2.1 VACE (depth control video, UMT5 prompt, reference image, flow matching)"
    latent_preview = WAN21_LATENT_RGB
    capabilities = Capabilities(strength=True, temporal_guidance=False, reference_image=True, masks=True, loras=True)
    trains_loras = False  #: ``customize`` trains an SD 1.5 LoRA
    temporal_compression = 4
    size_multiple = 16
    window_limits = (5, 81)  #: 1 + 4k frames (Wan was trained on 81)
    video_vae = True  #: a causal video VAE: the whole range encoded at once, decoded as a stream
    cache_hooks = True  #: job ``cache``: diffusers' hooks on the transformer, a cache context per window and branch
    attention_kernels = ("auto", "sdpa", "flash", "sage")  #: the transformer's attention goes through the dispatcher
    context_parallel = True  #: one long window over several devices (:func:`.wan_parallel.parallelize`)

    def __init__(self, loader, job):
        super().__init__()
        from collections import defaultdict

        from .memory import memory_plan

        self.loader, self.job = loader, job
        self.plan = memory_plan(job.memory, loader.device)
        self.decode_chunk = 1 + 4 * 4  # frames decoded between writes (the stream yields them as it goes)
        self.timing = defaultdict(float)
        self.shared_positions = 1 if job.reference_image else 0  # the reference image's latent frame
        self.description = self.describe(loader.preset)
        from ..models.wan_lora import wan_loras
        from .wan_vace_net import WanParts

        self.parts = WanParts(loader, self.plan, self.timing, wan_loras(loader.preset, job))

    @classmethod
    def describe(cls, preset) -> str:
        """Wan 2.1, or 2.2 when the preset's folder holds two experts; the fast tier named."""
        import os

        from ..errors import ModelError
        from ..models.parts import locate

        try:
            two = os.path.isdir(os.path.join(locate(preset, "base"), "transformer_2"))
        except ModelError:  # not fetched yet: said when the render needs it
            two = False
        text = cls.description if not two else cls.description.replace(
            "Wan 2.1 VACE (", "Wan 2.2 VACE (two experts: high noise, then low noise; ")
        if preset.scheduler == "distilled":
            text += " · step-distillation LoRA, distilled schedule (fast tier)"
        return text

    # --- parts (loaded on first use: :class:`.wan_vace_net.WanParts`) --------------------------
    @property
    def transformer(self):
        return self.parts.transformer

    @property
    def vae(self):
        return self.parts.vae

    @property
    def scheduler(self):
        return self.parts.scheduler

    def _folder(self):
        return self.parts.folder()

    def require_parts(self, job) -> None:
        import json
        import os

        from ..models.wan_lora import check_wan_lora_fits
        from ..models.parts import locate

        folder = locate(self.loader.preset, "base")
        if "distill_lora" in self.loader.preset.parts:
            locate(self.loader.preset, "distill_lora")
        if job.lora_files:  # a LoRA for another base is one line before anything loads
            with open(os.path.join(folder, self.parts.expert_names[0], "config.json"), encoding="utf-8") as fh:
                cfg = json.load(fh)
            for path, _ in job.lora_files:
                check_wan_lora_fits(path, cfg["num_attention_heads"] * cfg["attention_head_dim"])

    @property
    def device(self):
        return self.loader.device

    def estimate_memory(self, size, window, frames):
        from .wan_memory import estimate_memory

        out = estimate_memory(self.parts, self.plan, self.loader.dtype.itemsize, self.job.guidance_scale,
                              self.shared_positions, size, window, frames)
        if self.job.cache:
            out["cache"] = self.cache_bytes(size, window, frames)
        return out

    # --- latent space ------------------------------------------------------------------------
    def latent_shape(self, size):
        return (16, size[1] // 8, size[0] // 8)

    def _groups(self, frames, signed: bool = False):
        """Frames (H×W×3 in [0, 1], or in [-1, 1] when ``signed``; 1 + 4k of them) as the VAE's causal groups in
        [-1, 1]."""
        import torch

        def as_video(chunk):
            x = torch.from_numpy(np.stack([np.asarray(f, np.float32) for f in chunk])).permute(3, 0, 1, 2)[None]
            return x if signed else x * 2 - 1

        yield as_video(frames[:1])
        for i in range(1, len(frames), 4):
            yield as_video(frames[i:i + 4])

    def encode(self, frames, signed: bool = False):
        """1 + 4k frames (in [0, 1]; in [-1, 1] when ``signed``) → (k + 1, 16, h, w) normalised latents on the device."""
        from .wan_vace_net import encode_stream

        with self._timed("vae"):
            lat = encode_stream(self.vae, self._groups(frames, signed), tiled=self.plan.mode == "low")
        return lat[0].permute(1, 0, 2, 3)

    def decode(self, latents):
        """(k + 1, 16, h, w) → (1 + 4k, H, W, 3) frames in [0, 1]."""
        return np.concatenate(list(self.decode_stream(latents)))

    def decode_stream(self, latents):
        from .wan_vace_net import decode_stream

        stream = decode_stream(self.vae, latents.permute(1, 0, 2, 3)[None].to(self.device),
                               tiled=self.plan.mode == "low")
        while True:
            with self._timed("vae"):
                frames = next(stream, None)
            if frames is None:
                return
            yield frames

    @contextmanager
    def _timed(self, part):
        import time

        began = time.perf_counter()
        try:
            yield
        finally:
            self.timing[part] += time.perf_counter() - began

    # --- conditioning --------------------------------------------------------------------------
    def conditions(self, job, content_cache, depth, masks=None):
        """``depth`` (F, 1, H, W) with F = 1 + 4k, ``masks`` (F, 1, H, W) 1 = generate (None: everything)."""
        import torch

        from .wan_vace_net import fold_mask, reference_frame

        frames, _, height, width = depth.shape
        text = self.parts.text(job, content_cache)
        m = torch.ones(frames, height, width) if masks is None else (masks[:, 0].float() > 0.5).float()
        video = depth.float().expand(-1, 3, -1, -1) * 2 - 1  # grey control video in [-1, 1], masked there (0: grey)
        inactive = self.encode([(video[i] * (1 - m[i])).permute(1, 2, 0).numpy() for i in range(frames)], signed=True)
        reactive = self.encode([(video[i] * m[i]).permute(1, 2, 0).numpy() for i in range(frames)], signed=True)
        latent_frames = inactive.shape[0]
        control = torch.cat([inactive.permute(1, 0, 2, 3).cpu(), reactive.permute(1, 0, 2, 3).cpu(),
                             fold_mask(m, latent_frames)], dim=0)
        reference = None
        if job.reference_image:
            from .clip_content import load_reference_image
            from .wan_vace_net import encode_stream

            ref = reference_frame(load_reference_image(job.path(job.reference_image), job.model_view), height, width)
            with self._timed("vae"):
                lat = encode_stream(self.vae, iter([ref]))[0].cpu()  # (16, 1, h, w)
            reference = torch.cat([lat, torch.zeros_like(lat), torch.zeros(64, 1, *lat.shape[2:])], dim=0)
        layers = len(self._transformer_config().get("vace_layers") or self.transformer.config.vace_layers)
        return WanConditions(text=text, control=control, reference=reference,
                             scale=torch.full((layers,), float(job.structure_weight)))

    # --- the flow-matching scheduler -------------------------------------------------------------
    def timesteps(self, steps, strength):
        scheduler = self.scheduler
        if self.loader.preset.scheduler == "distilled":  # σ = 1, (n-1)/n … 1/n, shifted: the distilled students' steps
            scheduler.set_timesteps(sigmas=list(np.linspace(1.0, 0.0, steps + 1)[:-1]), device=self.device)
        else:
            scheduler.set_timesteps(steps, device=self.device)
        keep = max(1, min(int(steps * strength), steps))
        return scheduler.timesteps[steps - keep:]

    def initial_latents(self, noise, plate_latents, timesteps, strength):
        """Noise at strength 1; else flow-matching SDEdit: x = (1 − σ)·plate + σ·noise at the first step's σ (the
        reference slot, which has no plate, from noise alone at that σ)."""
        import torch

        noise = noise.to(self.device)
        if strength >= 1.0 or plate_latents is None:
            return noise
        s = self.shared_positions
        body = self.scheduler.scale_noise(plate_latents, timesteps[:1], noise[s:])
        shared = self.scheduler.scale_noise(torch.zeros_like(noise[:s]), timesteps[:1], noise[:s])
        return torch.cat([shared, body])

    def add_noise(self, clean, noise, timestep):
        return self.scheduler.scale_noise(clean, timestep, noise.to(clean.device))

    def denoised(self, latents, prediction, timestep):
        """Flow matching (velocity v = noise − x₀): x₀ = x − σ·v, σ = t / the scheduler's training timesteps."""
        sigma = float(timestep) / self.scheduler.config.num_train_timesteps
        return latents.float() - sigma * prediction.to(latents.device).float()

    def step(self, prediction, timestep, latents, noise=None):
        return self.scheduler.step(prediction, timestep, latents).prev_sample

    # --- one window --------------------------------------------------------------------------------
    def expert_for(self, timestep) -> str:
        """The expert that denoises at ``timestep``: ``transformer`` at or above Wan 2.2's boundary (``boundary_ratio``
        × the scheduler's training timesteps; always, for Wan 2.1), ``transformer_2`` below — ``WanVACEPipeline``'s rule."""
        boundary = self.parts.boundary
        if boundary is None or float(timestep) >= boundary * self.scheduler.config.num_train_timesteps:
            return "transformer"
        return "transformer_2"

    def predict(self, latents, timestep, conditions, window):
        """``latents`` (S + F, 16, h, w): the shared reference slot(s) and the window's latent frames; ``window``
        indexes the shot's latent frames. Classifier-free guidance on the prompt; Wan 2.2's expert by the timestep."""
        import torch

        c = conditions
        control = c.control[:, window]
        if self.shared_positions:
            control = torch.cat([c.reference, control], dim=1)
        name = self.expert_for(timestep)
        model = self.parts.expert(name)
        dtype = model.dtype
        x = latents.permute(1, 0, 2, 3)[None].to(self.device, dtype)
        t = timestep.expand(1).to(self.device)
        common = {"control_hidden_states": control[None].to(self.device, dtype),
                  "control_hidden_states_scale": c.scale.to(self.device, dtype), "return_dict": False}
        guidance = self.job.guidance_scale
        with torch.inference_mode(), self._timed("unet"):
            with self._branch(model, "cond", window):
                cond = model(hidden_states=x, timestep=t, encoder_hidden_states=c.text[1:].to(self.device, dtype),
                             **common)[0]
            if guidance != 1.0:
                with self._branch(model, "uncond", window):
                    uncond = model(hidden_states=x, timestep=t,
                                   encoder_hidden_states=c.text[:1].to(self.device, dtype), **common)[0]
                cond = uncond + guidance * (cond - uncond)
        return cond[0].permute(1, 0, 2, 3).float()
