"""LoRA files: checking them (host side, no torch), naming what base they were made for, and fusing them
into the motion UNet's spatial layers and the text encoder, or into a Wan transformer (worker side, diffusers' own
loaders; Wan: :mod:`.wan_lora`).

Formats: diffusers/PEFT (``unet.…lora.down.weight`` / ``lora_A``) and kohya (``lora_unet_…``,
``lora_te_…``, ``.alpha``) are both read by diffusers' ``StableDiffusionLoraLoaderMixin.lora_state_dict``,
which converts kohya names; Wan LoRAs — diffusers' ``transformer.blocks.…``, the original Wan layout
(``diffusion_model.blocks.…``: LightX2V, CausVid) and kohya/musubi's ``lora_unet_blocks_…`` — by
``WanLoraLoaderMixin.lora_state_dict``. Nothing here maps keys by hand. Safetensors only: a pickle LoRA could run
code when loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import warnings
from dataclasses import dataclass

from ..errors import ModelError

__all__ = ["LoraInfo", "read_lora_header", "check_lora_values", "lora_digest", "made_for", "base_arch", "loras_signature", "check_loras_fit",
           "fuse_loras_into_unet",
           "text_encoder_loras", "fuse_loras_into_text_encoder"]

_PICKLE = (".ckpt", ".pt", ".pth", ".bin", ".pkl")
#: a key of a Wan transformer block in any layout diffusers' Wan reader takes: diffusers', the original Wan one, kohya's
_WAN_BLOCK = re.compile(r"^(transformer\.|diffusion_model\.|lora_unet_)?blocks[._]\d+[._]")
#: cross-attention width (the text encoder's) → the base a LoRA was trained on
_BASES = {768: "SD 1.x", 1024: "SD 2.x", 2048: "SDXL", 4096: "a 4096-wide text encoder (SD 3 / Flux class)"}
_KOHYA_BASES = {"sd_v1": "SD 1.x", "sd_v2": "SD 2.x", "sd_v2_768_v": "SD 2.x"}


@dataclass(frozen=True)
class LoraInfo:
    """What a LoRA file's header says (read without loading a tensor)."""

    path: str
    shapes: dict  #: key → shape
    metadata: dict  #: the safetensors ``__metadata__``

    @property
    def unet_keys(self) -> list[str]:
        return [k for k in self.shapes if k.startswith(("unet.", "lora_unet_"))]

    @property
    def text_keys(self) -> list[str]:
        return [k for k in self.shapes if k.startswith(("text_encoder.", "lora_te_", "lora_te1_"))]

    @property
    def cross_width(self) -> int | None:
        """The cross-attention input width the LoRA's attn2 to_k / to_v were trained for (the base's
        text-encoder width), from a down (A) matrix's shape."""
        for key, shape in self.shapes.items():
            k = key.replace("_", ".")
            if "attn2" in k and ("to.k" in k or "to.v" in k) and ("lora.down" in k or "lora.A" in k) \
                    and len(shape) == 2:
                return int(shape[1])
        return None


def read_lora_header(path: str) -> LoraInfo:
    """The header of a safetensors LoRA, checked: a pickle file, a file that is not safetensors, and a
    damaged or truncated one are each one ModelError naming the file.

    Written by hand: hosts (Nuke, Blender) check a job's LoRAs in a Python without the safetensors package,
    and the format's header is specified as 8 bytes of little-endian length and that much JSON."""
    name = os.path.basename(path)
    if path.lower().endswith(_PICKLE):
        raise ModelError(f"LoRA {path!r} is a pickle file ({os.path.splitext(name)[1]}), which can run code when "
                         "loaded; use its .safetensors version (or convert it)")
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise ValueError("shorter than a safetensors header")
            (length,) = struct.unpack("<Q", head)
            if length <= 1 or length > min(size - 8, 100_000_000):
                raise ValueError("no safetensors header")
            header = json.loads(fh.read(length).decode("utf-8"))
    except FileNotFoundError:
        raise ModelError(f"LoRA {path!r} does not exist") from None
    except IsADirectoryError:
        raise ModelError(f"LoRA {path!r} is a folder; give the .safetensors file") from None
    except OSError as exc:
        raise ModelError(f"cannot read LoRA {path!r}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError):
        raise ModelError(f"LoRA {path!r} is not a safetensors file (only safetensors LoRAs are loaded)") from None
    if not isinstance(header, dict):
        raise ModelError(f"LoRA {path!r} is not a safetensors file (only safetensors LoRAs are loaded)")
    metadata = header.pop("__metadata__", None) or {}
    end, shapes = 0, {}
    for key, info in header.items():
        try:
            begin, stop = info["data_offsets"]
            shapes[key] = tuple(info["shape"])
        except (TypeError, KeyError, ValueError):
            raise ModelError(f"LoRA {path!r} is damaged: its header is not a safetensors header") from None
        end = max(end, stop)
    if 8 + length + end > size:
        raise ModelError(f"LoRA {path!r} is damaged or truncated: it is {size} bytes, its header needs "
                         f"{8 + length + end}")
    info = LoraInfo(path, shapes, metadata if isinstance(metadata, dict) else {})
    if not info.unet_keys and not info.text_keys and not any(".lora" in k or "lora_" in k for k in shapes):
        raise ModelError(f"LoRA {path!r} holds no LoRA weights ({len(shapes)} tensors, none named lora)")
    return info


def made_for(info: LoraInfo) -> str | None:
    """The base the LoRA was made for, as far as its file tells: Recast's own note, kohya's, or the width of
    its cross-attention."""
    meta = info.metadata
    if meta.get("recast.base_arch"):
        return meta["recast.base_arch"]
    kohya = meta.get("ss_base_model_version", "")
    if kohya.startswith("sdxl"):
        return "SDXL"
    if kohya in _KOHYA_BASES:
        return _KOHYA_BASES[kohya]
    width = info.cross_width
    return _BASES.get(width, f"a base with {width}-wide cross-attention") if width else None


def base_arch(cross_width: int) -> str:
    """How :func:`made_for` names a base by its text-encoder width."""
    return _BASES.get(cross_width, f"a base with {cross_width}-wide cross-attention")


_digests: dict = {}


def lora_digest(path: str) -> str:
    """SHA-256 of the file (what the fingerprint, resume and caches key on), remembered per (path, size,
    mtime) so a render hashes each file once."""
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    if key not in _digests:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _digests[key] = h.hexdigest()
    return _digests[key]


def loras_signature(loras) -> str:
    """A short key of the LoRAs that take part (weight ≠ 0): content and weight, in order."""
    active = [(lora_digest(path), weight) for path, weight in loras if weight != 0]
    return hashlib.sha256(json.dumps(active).encode()).hexdigest()[:12] if active else ""


def check_loras_fit(loras, cross_width: int) -> None:
    """Each LoRA of ``loras`` ((path, weight) pairs) fits a base whose cross-attention is ``cross_width``
    wide, by its header alone: one ModelError naming the file and what it was made for."""
    for path, _ in loras:
        _check_fits(read_lora_header(path), cross_width)


def _check_fits(info: LoraInfo, cross_width: int) -> None:
    if any(_WAN_BLOCK.match(k) for k in info.shapes):
        raise ModelError(f"LoRA {info.path!r} was made for Wan (its tensors name Wan transformer blocks); the preset's "
                         f"base is {base_arch(cross_width)}: it does not fit (use it with a Wan preset)")
    width = info.cross_width
    if width is not None and width != cross_width:
        raise ModelError(f"LoRA {info.path!r} was made for {made_for(info)}; the preset's base is "
                         f"{base_arch(cross_width)} (cross-attention {cross_width} wide, the LoRA's {width}): it "
                         "does not fit")


#: a LoRA weight (or alpha) larger than this is no trained LoRA: it would turn every frame to NaN or noise
LORA_VALUE_LIMIT = 1e4


def _check_values(path: str, tensors) -> None:
    """ModelError when a tensor of ``tensors`` (name → tensor) is not finite (NaN, ±inf) or absurdly large: such a
    LoRA renders every frame NaN (and a resume would skip those frames as done)."""
    for name, t in tensors.items():
        if not hasattr(t, "is_floating_point") or not t.is_floating_point() or not t.numel():
            continue
        t = t.float()
        if not bool(t.isfinite().all()):
            raise ModelError(f"LoRA {path!r} is damaged: tensor {name!r} holds NaN or infinite values; it would "
                             "render every frame NaN (retrain or re-export it)")
        peak = float(t.abs().max())
        if peak > LORA_VALUE_LIMIT:
            raise ModelError(f"LoRA {path!r} is damaged: tensor {name!r} holds a value of {peak:.3g} (a LoRA's "
                             f"weights are far below {LORA_VALUE_LIMIT:g}); it would ruin every frame")


def check_lora_values(path: str) -> None:
    """Every tensor of the safetensors LoRA at ``path`` finite and of a sane size (ModelError otherwise): read
    with safetensors (never a pickle) before a render starts."""
    import safetensors.torch

    read_lora_header(path)
    try:
        tensors = safetensors.torch.load_file(path, device="cpu")
    except (OSError, RuntimeError, ValueError, safetensors.SafetensorError) as exc:
        raise ModelError(f"LoRA {path!r} cannot be read: {type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    _check_values(path, tensors)


def _state(path: str, wan: bool = False):
    """The LoRA's state dict in diffusers' names and its kohya alphas, through diffusers' own reader
    (``use_safetensors=True``: whatever the file's name, it is never handed to ``torch.load``), its values checked;
    ``wan``: the Wan reader (alphas folded into the weights, none returned)."""
    import safetensors
    from diffusers import StableDiffusionPipeline, WanVACEPipeline

    read_lora_header(path)  # a pickle is refused by name and by content before diffusers sees it
    try:
        if wan:
            state, alphas = WanVACEPipeline.lora_state_dict(path, use_safetensors=True), None
        else:
            state, alphas = StableDiffusionPipeline.lora_state_dict(path, use_safetensors=True)
    except (ValueError, KeyError, RuntimeError, OSError, safetensors.SafetensorError) as exc:
        raise ModelError(f"LoRA {path!r} cannot be read: {type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    _check_values(path, state)
    if alphas:
        import torch

        _check_values(path, {k: torch.as_tensor(float(v)) for k, v in alphas.items()})
    return state, alphas


def _load(path: str, what: str, load, wan: bool = False) -> None:
    """``load(state, alphas)`` of the LoRA at ``path`` as one more adapter; ModelError when it does not fit."""
    state, alphas = _state(path, wan)
    try:
        with warnings.catch_warnings():  # several adapters in one model is what is meant here
            warnings.filterwarnings("ignore", message="Already found a `peft_config`")
            load(state, alphas)
    except (ValueError, RuntimeError, KeyError) as exc:
        raise ModelError(f"LoRA {path!r} does not fit the preset's {what}: {type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}") from None


def fuse_loras_into_unet(unet, loras) -> int:
    """Fuse ``loras`` ((path, weight) pairs; weight 0 ones are skipped: they change nothing) into the UNet's
    weights (the motion UNet's spatial attention: a LoRA trained on the image UNet names those modules;
    the motion modules have other names and are never touched). Returns how many were fused."""
    from diffusers import StableDiffusionPipeline

    names, weights = [], []
    cross = unet.config.cross_attention_dim
    for i, (path, weight) in enumerate(loras):
        if weight == 0:
            continue
        info = read_lora_header(path)
        _check_fits(info, cross)
        if not info.unet_keys:
            continue  # a text-encoder-only LoRA
        name = f"recast_lora_{i}"
        _load(path, f"UNet (made for {made_for(info) or 'another base'})",
              lambda state, alphas: StableDiffusionPipeline.load_lora_into_unet(state, alphas, unet, adapter_name=name))
        names.append(name)
        weights.append(float(weight))
    if names:
        unet.set_adapters(names, weights)
        unet.fuse_lora(lora_scale=1.0, adapter_names=names)
        unet.unload_lora()  # the fused weights stay; the LoRA layers go (no per-call cost)
    return len(names)


def text_encoder_loras(loras) -> list:
    """The (path, weight) pairs, weight ≠ 0, that carry text-encoder weights."""
    return [(p, w) for p, w in loras if w != 0 and read_lora_header(p).text_keys]


def fuse_loras_into_text_encoder(text_encoder, loras) -> None:
    """Fuse the text-encoder part of ``loras`` into ``text_encoder`` (diffusers' loaders)."""
    from diffusers import StableDiffusionPipeline
    from diffusers.loaders.lora_base import fuse_text_encoder_lora, recurse_remove_peft_layers, \
        set_adapters_for_text_encoder

    names, weights = [], []
    for i, (path, weight) in enumerate(text_encoder_loras(loras)):
        name = f"recast_lora_{i}"
        _load(path, "text encoder", lambda state, alphas: StableDiffusionPipeline.load_lora_into_text_encoder(
            state, alphas, text_encoder, prefix="text_encoder", adapter_name=name))
        names.append(name)
        weights.append(float(weight))
    if names:
        set_adapters_for_text_encoder(names, text_encoder, weights)
        fuse_text_encoder_lora(text_encoder, lora_scale=1.0, adapter_names=names)
        recurse_remove_peft_layers(text_encoder)
