"""Loading a preset's parts on a device, each once, through :func:`.parts.locate`.

:func:`loader_for` is the one place a job's loader is made (render, depth, the farm server,
the demo and eval all call it). Nothing is downloaded here: parts come from local folders or
the Hugging Face cache, safetensors only unless the preset opted in to pickle weights.
"""

from __future__ import annotations

import functools
import os

from ..errors import ModelError
from .parts import locate, use_safetensors
from .presets import Preset, load_preset

__all__ = ["select_device", "Loader", "loader_for"]

_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def select_device(name: str, precision: str = "auto"):
    """``auto`` → CUDA, then MPS, then CPU; returns ``(torch.device, dtype)``: with ``precision`` 'auto',
    bf16 (or fp16) on CUDA, fp16 on MPS, fp32 on the CPU; otherwise the number format asked for."""
    import torch

    device, dtype = _auto_device(name)
    if precision == "auto":
        return device, dtype
    dtype = getattr(torch, _DTYPES[precision])
    if device.type == "cuda" and dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise ModelError(f"precision 'bf16' was asked for but GPU {torch.cuda.get_device_name(device)} has no "
                         "bfloat16; use 'fp16' or 'auto'")
    return device, dtype


def _auto_device(name: str):
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ModelError(f"device {name!r} was asked for but no CUDA GPU is available; use 'auto' or 'cpu'")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ModelError(f"device {name!r}: only {torch.cuda.device_count()} CUDA GPU(s) are present")
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return device, dtype
    if name == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ModelError("device 'mps' was asked for but Apple's MPS is not available; use 'auto' or 'cpu'")
        return torch.device("mps"), torch.float16
    return torch.device("cpu"), torch.float32


class Loader:
    """Loads a preset's parts on a device, each once; every load goes through :func:`locate`."""

    def __init__(self, preset: Preset, device: str = "cpu", precision: str = "auto"):
        self.preset = preset
        self._device_name = device
        self._precision = precision
        self._cache: dict[str, object] = {}

    @functools.cached_property
    def _device_dtype(self):
        # chosen on first use, so a Loader that finds everything in a cache never imports torch
        return select_device(self._device_name, self._precision)

    @property
    def device(self):
        return self._device_dtype[0]

    @property
    def dtype(self):
        return self._device_dtype[1]

    def _once(self, key, build):
        if key not in self._cache:
            try:
                self._cache[key] = build()
            except ModelError:
                raise
            except (OSError, ValueError, KeyError, RuntimeError) as exc:
                raise ModelError(f"model part '{key.split(':')[0]}' cannot be loaded: "
                                 f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
        return self._cache[key]

    def built(self, key: str, build):
        """A part built from others (the motion UNet), kept like the rest: a worker that renders many
        chunks (``recast serve``) builds it once."""
        return self._once(key, build)

    def keys(self) -> list[str]:
        """The parts loaded now."""
        return list(self._cache)

    def release(self, *keys: str) -> None:
        """Forget loaded parts ('depth', 'base:text', 'image_encoder', ...) so their memory can be freed."""
        for key in keys:
            self._cache.pop(key, None)

    def _kw(self, folder, dtype_key="dtype"):
        """from_pretrained arguments: offline, safetensors unless pickle was allowed, the run's dtype
        (transformers calls it ``dtype``, diffusers ``torch_dtype``)."""
        return {"local_files_only": True, "use_safetensors": use_safetensors(self.preset, folder),
                dtype_key: self.dtype}

    def _dkw(self, folder):
        return self._kw(folder, "torch_dtype")

    def _to(self, model):
        return model.to(self.device).eval()

    # --- structure ---------------------------------------------------------------
    def depth_estimator(self):
        """``(model, image_processor)`` of the depth estimator (transformers)."""
        def build():
            from transformers import AutoImageProcessor, AutoModelForDepthEstimation

            folder = locate(self.preset, "depth")
            model = AutoModelForDepthEstimation.from_pretrained(folder, trust_remote_code=False, **self._kw(folder))
            proc = AutoImageProcessor.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
            return self._to(model), proc
        return self._once("depth", build)

    # --- content -------------------------------------------------------------------
    def text_encoder(self, loras=()):
        """``(tokenizer, text_encoder)`` of the base model; with ``loras`` ((path, weight) pairs) their
        text-encoder weights fused in (a separate copy: the plain one stays as it is)."""
        from .lora import loras_signature, text_encoder_loras

        with_te = text_encoder_loras(loras) if loras else []

        def build():
            from transformers import CLIPTextModel, CLIPTokenizer

            folder = locate(self.preset, "base")
            tok = CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer", local_files_only=True)
            enc = CLIPTextModel.from_pretrained(folder, subfolder="text_encoder", **self._kw(folder))
            if with_te:
                from .lora import fuse_loras_into_text_encoder

                fuse_loras_into_text_encoder(enc, with_te)
            return tok, self._to(enc)
        return self._once("base:text" + (f"+lora:{loras_signature(with_te)}" if with_te else ""), build)

    def image_encoder(self):
        """``(image_processor, CLIPVisionModelWithProjection)`` for the IP-Adapter."""
        def build():
            from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

            folder = locate(self.preset, "image_encoder")
            enc = CLIPVisionModelWithProjection.from_pretrained(folder, **self._kw(folder))
            if os.path.isfile(os.path.join(folder, "preprocessor_config.json")):
                proc = CLIPImageProcessor.from_pretrained(folder, local_files_only=True)
            else:  # h94/IP-Adapter's encoder folder has no processor config: CLIP's standard 224 crop
                proc = CLIPImageProcessor(size={"shortest_edge": enc.config.image_size},
                                          crop_size={"height": enc.config.image_size, "width": enc.config.image_size})
            return proc, self._to(enc)
        return self._once("image_encoder", build)

    def clip(self):
        """``(processor, CLIPModel)`` for the evaluation metrics (frame and prompt consistency)."""
        def build():
            from transformers import CLIPModel, CLIPProcessor

            folder = locate(self.preset, "clip")
            return CLIPProcessor.from_pretrained(folder, local_files_only=True), self._to(
                CLIPModel.from_pretrained(folder, **self._kw(folder)))
        return self._once("clip", build)

    def matte(self):
        """``(Sam2VideoModel, image mean, image std)``: SAM 2.1 video for ``recast matte``. Its processor
        needs torchvision, so only its normalisation is read (``preprocessor_config.json``; ImageNet's
        without one) and frames are prepared by :mod:`recast.core.matte.frames`."""
        def build():
            import json

            from transformers import Sam2VideoModel

            folder = locate(self.preset, "matte")
            model = Sam2VideoModel.from_pretrained(folder, **self._kw(folder))
            mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
            for name in ("preprocessor_config.json", "video_preprocessor_config.json"):
                config = os.path.join(folder, name)
                if os.path.isfile(config):
                    with open(config, encoding="utf-8") as fh:
                        data = json.load(fh)
                    mean, std = tuple(data.get("image_mean", mean)), tuple(data.get("image_std", std))
                    break
            return self._to(model), mean, std
        return self._once("matte", build)

    # --- diffusion -------------------------------------------------------------------
    def vae(self):
        def build():
            from diffusers import AutoencoderKL

            folder = locate(self.preset, "base")
            return self._to(AutoencoderKL.from_pretrained(folder, subfolder="vae", **self._dkw(folder)))
        return self._once("base:vae", build)

    def unet(self):
        def build():
            from diffusers import UNet2DConditionModel

            folder = locate(self.preset, "base")
            return UNet2DConditionModel.from_pretrained(folder, subfolder="unet", **self._dkw(folder))
        return self._once("base:unet", build)

    def scheduler(self):
        """The preset's sampler: DDIM (η = 0), or for ``scheduler = "lcm"`` the LCM scheduler with a linear beta
        schedule (as AnimateLCM is used), both from the base model's scheduler config."""
        def build():
            from diffusers import DDIMScheduler, LCMScheduler

            folder = locate(self.preset, "base")
            if self.preset.scheduler == "lcm":
                return LCMScheduler.from_pretrained(folder, subfolder="scheduler", local_files_only=True,
                                                    beta_schedule="linear")
            return DDIMScheduler.from_pretrained(folder, subfolder="scheduler", local_files_only=True)
        return self._once("base:scheduler", build)

    def controlnet(self):
        def build():
            from diffusers import ControlNetModel

            folder = locate(self.preset, "controlnet")
            return self._to(ControlNetModel.from_pretrained(folder, **self._dkw(folder)))
        return self._once("controlnet", build)

    def motion_adapter(self):
        def build():
            from diffusers import MotionAdapter

            folder = locate(self.preset, "motion_adapter")
            return MotionAdapter.from_pretrained(folder, **self._dkw(folder))
        return self._once("motion_adapter", build)

    def ip_adapter_file(self) -> str:
        return locate(self.preset, "ip_adapter")


def loader_for(job, device: str | None = None, precision: str | None = None) -> Loader:
    """The loader of ``job``'s preset (a preset file relative to the job's folder) on its device."""
    return Loader(load_preset(job.model, job.root), device or job.device, precision or job.precision)
