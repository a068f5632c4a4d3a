"""Content: the prompt and the reference image as CLIP embeddings, once per shot, cached.

* prompt and negative prompt → the base model's CLIP text encoder (last hidden state, 77 tokens);
* reference image (anything OpenImageIO reads, EXR included) → colour-converted to model
  space like the plate (its ``oiio:ColorSpace``, else Linear Rec.709 for float files and sRGB
  for 8/16-bit ones) → the preset's CLIP vision encoder → image embeddings for the IP-Adapter,
  with zeros as the unconditional embedding (as IP-Adapter was trained); the IP-Adapter's weights go into the
  UNet with :func:`load_ip_adapter` and its scale is the job's ``reference_weight`` (:func:`set_reference_weight`).

Prompt only, image only and both work. Embeddings are cached in
``<output folder>/recast_cache/content/<key>.safetensors``, keyed by the text, the image's
pixels and the encoders' identity.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..io.atomic import atomic_path
from ..io.cache import cache_key
from ..io.colour import model_input, plate_colorspace, to_model
from ..errors import ImageError, ModelError

__all__ = ["Content", "load_reference_image", "encode_content", "load_ip_adapter", "set_reference_weight"]


@dataclass
class Content:
    """Cross-attention inputs of one shot (torch tensors, float32, on the CPU)."""

    prompt_embeds: object  #: (1, 77, D) text embedding of the prompt
    negative_embeds: object  #: (1, 77, D) text embedding of the negative prompt ("" → unconditional)
    image_embeds: object | None  #: (1, E) CLIP image embedding of the reference image, or None
    negative_image_embeds: object | None  #: zeros like ``image_embeds``
    reference_weight: float  #: IP-Adapter scale
    cached: bool  #: came from the cache


def load_reference_image(path: str, view: str = "clip") -> np.ndarray:
    """Any image OIIO reads → model-space RGB (H×W×3, [0, 1]), converted like a plate (through the job's
    ``model_view`` when it is scene-linear)."""
    from ..io.exrio import read_frame

    frame = read_frame(path)
    h = frame.header
    names = h.channels
    if all(c in names for c in ("R", "G", "B")):
        rgb = frame.rgb()
    elif len(names) >= 3:
        rgb = frame.pixels[:, :, :3]
    elif len(names) in (1, 2):  # grey (+ alpha)
        rgb = np.repeat(frame.pixels[:, :, :1], 3, axis=2)
    else:
        raise ImageError(f"{path}: reference image has no colour channels")
    tagged = h.colorspace
    if not tagged and not str(h.formats[0]).startswith(("half", "float")):
        tagged = "sRGB Encoded Rec.709 (sRGB)"  # untagged 8/16-bit images are sRGB-encoded in practice
    space = plate_colorspace(None, tagged)
    return model_input(to_model(rgb, space, view if str(h.formats[0]).startswith(("half", "float")) else "clip"))


def _encode_text(loader, texts: list[str], warnings: list | None = None, loras=()):
    import torch

    tok, enc = loader.text_encoder(loras)
    limit = tok.model_max_length
    for text in texts:  # the job caps prompts at 10 000 characters, so counting the tokens is quick
        used = len(tok(text, truncation=False).input_ids)
        if used > limit and warnings is not None:
            warnings.append(f"the prompt is {used} tokens long; the text encoder reads the first {limit} "
                            f"(about {len(tok.decode(tok(text, truncation=True, max_length=limit).input_ids[1:-1]).split())}"
                            " words) and ignores the rest")
    ids = tok(texts, padding="max_length", max_length=limit, truncation=True, return_tensors="pt")
    with torch.inference_mode():
        out = enc(ids.input_ids.to(loader.device))[0]
    return out.float().cpu()


def _encode_image(loader, rgb: np.ndarray):
    import torch

    proc, enc = loader.image_encoder()
    pixels = proc(images=[rgb], return_tensors="pt", do_rescale=False).pixel_values
    with torch.inference_mode():
        emb = enc(pixels.to(loader.device, loader.dtype)).image_embeds
    return emb.float().cpu()


def encode_content(job, loader, cache_dir: str | None, warnings: list | None = None) -> Content:
    """Text and image embeddings of the job, from the cache when they were computed before."""
    import torch
    from safetensors.torch import load_file, save_file

    rgb = load_reference_image(job.path(job.reference_image), job.model_view) if job.reference_image else None
    base = loader.preset.part("base")
    from ..models.lora import loras_signature, text_encoder_loras

    te_loras = text_encoder_loras(job.lora_files)  # LoRAs that change the text encoder change the embeddings
    parts = ["text", base.describe(), base.revision, job.prompt, job.negative_prompt, loras_signature(te_loras)]
    if rgb is not None:
        enc = loader.preset.part("image_encoder")
        parts += ["image", enc.describe(), enc.revision, rgb.shape, rgb]
    key = cache_key(*parts)
    path = os.path.join(cache_dir, "content", key + ".safetensors") if cache_dir else None
    if path and os.path.isfile(path):
        t = load_file(path)
        return Content(t["prompt"], t["negative"], t.get("image"), t.get("negative_image"), job.reference_weight, True)
    text = _encode_text(loader, [job.prompt, job.negative_prompt], warnings, te_loras)
    tensors = {"prompt": text[:1].contiguous(), "negative": text[1:].contiguous()}
    if rgb is not None:
        img = _encode_image(loader, rgb)
        tensors["image"] = img.contiguous()
        tensors["negative_image"] = torch.zeros_like(img)
    if path:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with atomic_path(path) as tmp:
            save_file(tensors, tmp)
    return Content(tensors["prompt"], tensors["negative"], tensors.get("image"), tensors.get("negative_image"),
                   job.reference_weight, False)


def load_ip_adapter(unet, path: str) -> None:
    """IP-Adapter weights (the single file at ``path``) into the UNet. diffusers does this in a pipeline mixin
    (IPAdapterMixin.load_ip_adapter); Recast has no pipeline object, so it splits the file's two state dicts the
    same way and hands them to the UNet's own loader."""
    from safetensors import safe_open

    state = {"image_proj": {}, "ip_adapter": {}}
    with safe_open(path, framework="pt", device="cpu") as fh:
        for key in fh.keys():
            head, _, rest = key.partition(".")
            if head in state:
                state[head][rest] = fh.get_tensor(key)
    if not state["image_proj"] or not state["ip_adapter"]:
        raise ModelError(f"model part 'ip_adapter': {path!r} has no image_proj/ip_adapter weights")
    try:
        unet._load_ip_adapter_weights([state], low_cpu_mem_usage=False)
    except (KeyError, RuntimeError, ValueError) as exc:
        raise ModelError(f"model part 'ip_adapter' does not fit the UNet: {type(exc).__name__}: {exc}") from None


def set_reference_weight(unet, weight: float) -> None:
    """The IP-Adapter's scale in every attention processor of ``unet``."""
    from diffusers.models.attention_processor import IPAdapterAttnProcessor, IPAdapterAttnProcessor2_0

    for proc in unet.attn_processors.values():
        if isinstance(proc, (IPAdapterAttnProcessor, IPAdapterAttnProcessor2_0)):
            proc.scale = [weight] * len(proc.scale)
