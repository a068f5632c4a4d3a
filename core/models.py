"""Finding, checking, fetching and loading the model parts a preset names.

Where weights come from: a local folder, or the Hugging Face cache (``$HF_HOME`` honoured),
always with ``local_files_only`` — nothing is downloaded during a render; ``recast models
pull`` fetches where a network exists. Only safetensors are loaded unless the preset (or
``RECAST_ALLOW_PICKLE=1``) opts in to pickle weights, with a warning. ``trust_remote_code``
is never used. A missing part is one :class:`ModelError` naming the part and how to get it.
"""

from __future__ import annotations

import functools
import glob
import os
import warnings
from dataclasses import dataclass

from .errors import ModelError
from .presets import PARTS, ModelPart, Preset

__all__ = ["PartStatus", "locate", "check_preset", "pull_preset", "select_device", "Loader"]

_PICKLE = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


@dataclass(frozen=True)
class PartStatus:
    """What ``recast models check`` reports for one part."""

    role: str
    where: str  #: the part's source as the preset names it
    present: bool
    path: str | None = None  #: folder (or file) found
    size: int = 0  #: bytes of weights
    problem: str | None = None  #: why it cannot be used


def _allow_pickle(preset: Preset) -> bool:
    return preset.allow_pickle or os.environ.get("RECAST_ALLOW_PICKLE") == "1"


def _hub_folder(part: ModelPart) -> str:
    """The cached snapshot folder of a hub part (never downloads)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return snapshot_download(part.source, revision=part.revision, local_files_only=True)
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
        raise ModelError(f"model part '{part.role}' ({part.source}) is not in the Hugging Face cache ({home}); "
                         f"run 'recast models pull' where a network exists, or point the preset's "
                         f"[parts.{part.role}] source at a local folder") from None


def _weights(folder: str) -> tuple[list[str], list[str]]:
    files = [f for f in glob.glob(os.path.join(folder, "**", "*"), recursive=True) if os.path.isfile(f)]
    safe = [f for f in files if f.endswith(".safetensors")]
    pickled = [f for f in files if f.endswith(_PICKLE)]
    return safe, pickled


def locate(preset: Preset, role: str) -> str:
    """The local folder of a part (or its weights file when it has ``weight_name``), checked."""
    part = preset.part(role)
    root = part.source if part.local else _hub_folder(part)
    if part.local and not os.path.isdir(root):
        raise ModelError(f"model part '{role}': folder {root!r} does not exist; fix the preset's [parts.{role}] source")
    folder = os.path.join(root, part.subfolder) if part.subfolder else root
    if not os.path.isdir(folder):
        raise ModelError(f"model part '{role}': {part.describe()} has no folder {part.subfolder!r}")
    if part.weight_name:
        path = os.path.join(folder, part.weight_name)
        if not os.path.isfile(path):
            raise ModelError(f"model part '{role}': weights file {path!r} is missing")
        if path.endswith(_PICKLE):
            _pickle_gate(preset, role, path)
        elif not path.endswith(".safetensors"):
            raise ModelError(f"model part '{role}': {path!r} is neither safetensors nor an allowed pickle")
        return path
    safe, pickled = _weights(folder)
    if not safe:
        if pickled:
            _pickle_gate(preset, role, folder)
        else:
            raise ModelError(f"model part '{role}': no weights (.safetensors) in {folder!r}")
    return folder


def _pickle_gate(preset: Preset, role: str, where: str) -> None:
    if not _allow_pickle(preset):
        raise ModelError(f"model part '{role}': {where!r} has only pickle weights (.bin/.pt), which can run code when "
                         "loaded; convert them to safetensors, or opt in with allow_pickle = true in the preset "
                         "(or RECAST_ALLOW_PICKLE=1) if you trust their source")
    warnings.warn(f"model part '{role}' loads pickle weights from {where}: only do this for files you trust",
                  stacklevel=3)


def use_safetensors(preset: Preset, folder: str) -> bool:
    """True unless the folder has only pickle weights and the preset allowed them."""
    safe, _ = _weights(folder if os.path.isdir(folder) else os.path.dirname(folder))
    return bool(safe) or not _allow_pickle(preset)


def check_preset(preset: Preset) -> list[PartStatus]:
    """Every part: present or not, where, how big, and what is wrong."""
    out = []
    for role in PARTS:
        if role not in preset.parts:
            out.append(PartStatus(role, "-", False, problem="not named in the preset"))
            continue
        part = preset.parts[role]
        try:
            path = locate(preset, role)
        except ModelError as exc:
            out.append(PartStatus(role, part.describe(), False, problem=str(exc)))
            continue
        files = [path] if os.path.isfile(path) else [f for f in glob.glob(os.path.join(path, "**", "*"), recursive=True)
                                                      if os.path.isfile(f)]
        out.append(PartStatus(role, part.describe(), True, path, sum(os.path.getsize(f) for f in files)))
    return out


def pull_preset(preset: Preset, report=print) -> None:
    """Download every hub part of the preset into the Hugging Face cache (needs a network)."""
    from huggingface_hub import snapshot_download

    for role, part in preset.parts.items():
        if part.local:
            report(f"{role}: local folder {part.source}, nothing to pull")
            continue
        patterns = None
        if part.subfolder:
            patterns = [f"{part.subfolder}/{part.weight_name}" if part.weight_name else f"{part.subfolder}/*"]
        elif part.weight_name:
            patterns = [part.weight_name]
        if patterns is None or not part.weight_name:
            # safetensors and configs only: never fetch pickle twins of the same weights
            base = [f"{part.subfolder}/" if part.subfolder else ""][0]
            patterns = [f"{base}**/*.safetensors", f"{base}*.safetensors", f"{base}**/*.json", f"{base}*.json",
                        f"{base}**/*.txt", f"{base}*.txt"]
        report(f"{role}: pulling {part.describe()} ...")
        try:
            snapshot_download(part.source, revision=part.revision, allow_patterns=patterns)
        except Exception as exc:  # the hub client raises many types; all mean "could not fetch"
            raise ModelError(f"model part '{role}' ({part.source}) could not be downloaded: "
                             f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None


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
    def text_encoder(self):
        """``(tokenizer, text_encoder)`` of the base model."""
        def build():
            from transformers import CLIPTextModel, CLIPTokenizer

            folder = locate(self.preset, "base")
            tok = CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer", local_files_only=True)
            enc = CLIPTextModel.from_pretrained(folder, subfolder="text_encoder", **self._kw(folder))
            return tok, self._to(enc)
        return self._once("base:text", build)

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
        def build():
            from diffusers import DDIMScheduler

            folder = locate(self.preset, "base")
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
