"""The SD 1.5 + AnimateDiff network stack on a device, and one guided noise prediction for a window.

Parts (all diffusers / transformers components, loaded through :class:`.models.Loader`):
the SD 1.5 UNet with the AnimateDiff motion adapter (``UNetMotionModel.from_unet2d``), the
depth ControlNet, the VAE, the DDIM scheduler and, when the job has a reference image, the
IP-Adapter's projection and attention weights loaded into the UNet.

:meth:`Engine.predict` is Gen-1's guided prediction (:mod:`.guidance`) for one window:

* content guidance ω: the video model μ on [unconditional, conditional] content in one batch;
* temporal guidance ω_t ≠ 1: a third pass, the same UNet with its motion modules off (μπ), on
  the unconditional content only. The ControlNet is a per-frame (2-D) model, so its residuals
  for the unconditional content are the same for μ and μπ and are reused, not recomputed;
* ω = ω_t = 1: the conditional pass alone.

``job.compile``: the UNet and the ControlNet go through ``torch.compile`` when first used; their first call
(the compilation) is timed as 'load', not as the part's compute. The image-model pass of ω_t ≠ 1 runs the
UNet uncompiled (its motion modules are switched off by patching, which a compiled graph would not see).

Memory (``job.memory``): 'fast' keeps every model on the device and decodes 8 frames at a time;
'low' keeps models on the CPU until their stage needs them (the depth estimator and the
encoders are released before the UNet loads), chunks the UNet's feed-forward layers, slices the
ControlNet's attention, tiles the VAE and decodes one frame at a time. Attention runs through
PyTorch's scaled-dot-product attention (diffusers' default processors) in both.
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager

import numpy as np

from ..errors import ModelError
from .guidance import gen1_guidance, needs_image_pass
from .memory import memory_plan

__all__ = ["Engine", "motion_modules_off"]


class Engine:
    """Loads the diffusion parts on first use; ``timing`` collects seconds per part (load: building the parts
    on the device; unet, controlnet, vae: their calls)."""

    def __init__(self, loader, job, reference: bool):
        self.loader, self.job, self.reference = loader, job, reference
        self.device, self.dtype = loader.device, loader.dtype
        self.plan = memory_plan(job.memory, self.device)
        self.timing: dict[str, float] = defaultdict(float)
        self.synchronize = False  #: wait for the GPU around each timed call (benchmarks)
        self._parts: dict[str, object] = {}
        self.compile = bool(getattr(job, "compile", False))
        self._warm: set[str] = set()  #: compiled parts whose first call (the compilation) has run
        if self.device.type == "cuda":
            import torch

            torch.backends.cudnn.benchmark = False  # autotuned kernels would make reruns differ
            torch.backends.cudnn.deterministic = True

    # --- parts ---------------------------------------------------------------------
    def _home(self):
        return "cpu" if self.plan.offload else self.device

    def _part(self, name: str, build):
        """A part built on first use, its building timed as 'load'."""
        if name not in self._parts:
            with self._timed("load"):
                self._parts[name] = build()
        return self._parts[name]

    @property
    def loras(self) -> list[tuple[str, float]]:
        """(path, weight) of every LoRA fused into the UNet: the preset's LCM LoRA (the fast tier), then the job's."""
        from ..models.parts import locate

        preset = self.loader.preset
        own = [(locate(preset, "lcm_lora"), 1.0)] if "lcm_lora" in preset.parts else []
        return own + list(self.job.lora_files)

    @property
    def unet(self):
        return self._part("unet", self._motion_unet)

    def _compiled(self, name: str, module):
        """``module`` through torch.compile (job.compile), kept per part; else ``module`` itself."""
        if not self.compile:
            return module
        key = f"{name}:compiled"
        if key not in self._parts:
            import torch

            self._parts[key] = torch.compile(module)
        return self._parts[key]

    def _call(self, name: str, module, *args, **kwargs):
        """A part's forward call, timed as its own compute; a compiled part's first call (the compilation) as 'load'."""
        compiled = self._compiled(name, module)
        part = name if not self.compile or name in self._warm else "load"
        with self._timed(part):
            out = compiled(*args, **kwargs)
        self._warm.add(name)
        return out

    def _motion_unet(self):
        from ..models.lora import loras_signature

        # LoRAs are fused into the weights, so each set of them is its own motion UNet (a server that renders
        # jobs with other LoRAs builds it again, from the files; the one it replaces is let go)
        signature = loras_signature(self.loras)
        key = ("motion_unet+ip" if self.reference else "motion_unet") + (f"+lora:{signature}" if signature else "")
        self.loader.release(*[k for k in self.loader.keys() if k.startswith("motion_unet") and k != key])
        unet = self.loader.built(key, self._build_unet)
        if self.reference:
            from .clip_content import set_reference_weight

            set_reference_weight(unet, self.job.reference_weight)
        return unet

    def _build_unet(self):
        from diffusers import UNetMotionModel

        unet2d, adapter = self.loader.unet(), self.loader.motion_adapter()
        try:
            unet = UNetMotionModel.from_unet2d(unet2d, adapter)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"the motion adapter does not fit the base UNet: {exc}") from None
        self.loader.release("base:unet", "motion_adapter")  # their weights now live in the motion UNet
        if unet.dtype != self.dtype:
            unet = unet.to(dtype=self.dtype)
        unet = unet.to(self._home()).eval()
        if self.loras:
            from ..models.lora import fuse_loras_into_unet

            fuse_loras_into_unet(unet, self.loras)
        if self.reference:
            from .clip_content import load_ip_adapter

            load_ip_adapter(unet, self.loader.ip_adapter_file())
        if self.plan.mode == "low":
            unet.enable_forward_chunking(chunk_size=1, dim=1)
        return unet

    @property
    def controlnet(self):
        def build():
            net = self.loader.controlnet().to(self._home())
            if self.plan.mode == "low":
                net.set_attention_slice("auto")
            return net
        return self._part("controlnet", build)

    @property
    def vae(self):
        def build():
            vae = self.loader.vae().to(self._home())
            if self.plan.mode == "low":
                vae.enable_tiling()
            return vae
        return self._part("vae", build)

    @property
    def scheduler(self):
        return self.loader.scheduler()

    @property
    def latent_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @contextmanager
    def stage(self, *names):
        """With memory 'low' on a GPU: only the named parts on the device within the block."""
        if not self.plan.offload:
            yield
            return
        import torch

        parts = [getattr(self, n) for n in names]
        for p in parts:
            p.to(self.device)
        try:
            yield
        finally:
            for p in parts:
                p.to("cpu")
            torch.cuda.empty_cache()

    @contextmanager
    def _timed(self, part):
        import torch

        if self.synchronize and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        start = time.perf_counter()
        try:
            yield
        finally:
            if self.synchronize and self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            self.timing[part] += time.perf_counter() - start

    # --- VAE -------------------------------------------------------------------------
    def encode(self, frames: list[np.ndarray]):
        """Model-space frames (H×W×3 in [0, 1]) → latents (N, 4, H/8, W/8), float32 on the device (the
        posterior's mean: deterministic)."""
        import torch

        vae = self.vae
        x = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).to(self.device, self.dtype) * 2.0 - 1.0
        with torch.inference_mode(), self._timed("vae"):
            lat = vae.encode(x).latent_dist.mean
        return lat.float() * vae.config.scaling_factor

    def decode(self, latents) -> np.ndarray:
        """Latents (N, 4, h, w) → model-space frames (N, H, W, 3) float32 in [0, 1] on the CPU."""
        import torch

        vae = self.vae
        with torch.inference_mode(), self._timed("vae"):
            x = vae.decode((latents / vae.config.scaling_factor).to(self.dtype)).sample
        return (x.float() / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()

    # --- one guided prediction -------------------------------------------------------
    def predict(self, latents, t, text, image, depth):
        """Guided noise prediction for one window.

        ``latents`` (F, 4, h, w) float32 on the device; ``text`` (2, 77, D) [unconditional, conditional];
        ``image`` (2, 1, E) IP-Adapter embeddings or None; ``depth`` (F, 3, H, W) in [0, 1].
        Returns (F, 4, h, w) float32."""
        import torch

        job, unet, controlnet = self.job, self.unet, self.controlnet
        omega, omega_t = job.guidance_scale, job.temporal_guidance
        both = omega != 1.0 or needs_image_pass(omega_t)
        sel = slice(0, 2) if both else slice(1, 2)
        batch = 2 if both else 1
        frames = latents.shape[0]
        with torch.inference_mode():
            z = self.scheduler.scale_model_input(latents, t).to(self.dtype)
            flat = z.repeat(batch, 1, 1, 1)  # (B·F, 4, h, w), batch-major as diffusers' pipelines lay it
            text_bf = text[sel].to(self.device, self.dtype).repeat_interleave(frames, dim=0)
            down, mid = self._call("controlnet", controlnet, flat, t, encoder_hidden_states=text_bf,
                                   controlnet_cond=depth.to(self.device, self.dtype).repeat(batch, 1, 1, 1),
                                   conditioning_scale=job.structure_weight, return_dict=False)
            video = z.unsqueeze(0).expand(batch, -1, -1, -1, -1).permute(0, 2, 1, 3, 4)  # (B, 4, F, h, w)
            added = {"image_embeds": [image[sel].to(self.device, self.dtype)]} if image is not None else None
            out = self._call("unet", unet, video, t, encoder_hidden_states=text_bf, added_cond_kwargs=added,
                             down_block_additional_residuals=down, mid_block_additional_residual=mid).sample
            out = out.permute(0, 2, 1, 3, 4).float()  # (B, F, 4, h, w)
            if not both:
                return out[0]
            image_uncond = None
            if needs_image_pass(omega_t):
                added_u = {"image_embeds": [image[:1].to(self.device, self.dtype)]} if image is not None else None
                with motion_modules_off(unet), self._timed("unet"):
                    img = unet(video[:1], t, encoder_hidden_states=text_bf[:frames], added_cond_kwargs=added_u,
                               down_block_additional_residuals=[d[:frames] for d in down],
                               mid_block_additional_residual=mid[:frames]).sample
                image_uncond = img.permute(0, 2, 1, 3, 4).float()[0]
            return gen1_guidance(out[1], out[0], image_uncond, omega, omega_t)


@contextmanager
def motion_modules_off(unet):
    """Within the block, every AnimateDiff motion module of ``unet`` passes its input through unchanged:
    the motion UNet becomes the image model μπ it was built from (each frame denoised on its own)."""
    from diffusers.models.unets.unet_motion_model import AnimateDiffTransformer3D

    modules = [m for m in unet.modules() if isinstance(m, AnimateDiffTransformer3D)]

    def bypass(hidden_states, *args, **kwargs):
        return hidden_states

    for m in modules:
        m.forward = bypass
    try:
        yield unet
    finally:
        for m in modules:
            del m.forward
