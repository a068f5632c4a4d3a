"""Wan LoRAs: checking that one fits a Wan transformer (by its header) and fusing LoRAs into it through diffusers'
Wan LoRA loader (``WanLoraLoaderMixin``: diffusers' ``transformer.blocks.…``, the original Wan layout
``diffusion_model.blocks.…`` of LightX2V, CausVid and most published Wan LoRAs, and kohya/musubi's
``lora_unet_blocks_…``). The safety rules are :mod:`.lora`'s: safetensors only, values checked, weight 0 skipped."""

from __future__ import annotations

import re

from ..errors import ModelError
from .lora import _WAN_BLOCK, _load, made_for, read_lora_header

__all__ = ["check_wan_lora_fits", "fuse_loras_into_transformer", "wan_loras"]

#: the self-attention query's LoRA down (A) matrix, whose second dimension is the transformer's width
_WAN_QUERY = re.compile(r"(attn1[._]to[._]q|self[._]attn[._]q)[._]lora[._](down|A)[._]weight$")


def wan_loras(preset, job) -> list:
    """(path, weight) of every LoRA fused into the transformer(s): the preset's distillation LoRA, then the job's."""
    from .parts import locate

    own = [(locate(preset, "distill_lora"), 1.0)] if "distill_lora" in preset.parts else []
    return own + list(job.lora_files)


def check_wan_lora_fits(path: str, width: int) -> None:
    """The LoRA at ``path`` fits a Wan transformer ``width`` wide (1536: Wan 1.3B; 5120: 14B), by its header alone:
    one ModelError naming the file and what it was made for (an SD LoRA, a Wan LoRA of the other size)."""
    info = read_lora_header(path)
    if not any(_WAN_BLOCK.match(k) for k in info.shapes):
        raise ModelError(f"LoRA {path!r} was made for {made_for(info) or 'another model'}, not Wan: none of its "
                         f"{len(info.shapes)} tensors names a Wan transformer block; it does not fit the preset's Wan "
                         "transformer")
    for key, shape in info.shapes.items():
        if _WAN_QUERY.search(key) and len(shape) == 2 and int(shape[1]) != width:
            raise ModelError(f"LoRA {path!r} was made for a Wan transformer {shape[1]} wide; the preset's is {width} "
                             "wide (Wan 1.3B: 1536, 14B: 5120): it does not fit")


def fuse_loras_into_transformer(transformer, loras) -> int:
    """Fuse ``loras`` ((path, weight) pairs; weight 0 ones skipped: they change nothing) into a Wan (VACE)
    transformer's weights through diffusers' Wan LoRA loader; the VACE blocks, which no Wan LoRA names, stay as they
    are. Returns how many were fused."""
    from diffusers import WanVACEPipeline

    names, weights = [], []
    width = transformer.config.num_attention_heads * transformer.config.attention_head_dim
    for i, (path, weight) in enumerate(loras):
        if weight == 0:
            continue
        check_wan_lora_fits(path, width)
        name = f"recast_lora_{i}"
        _load(path, "Wan transformer", lambda state, _alphas: WanVACEPipeline.load_lora_into_transformer(
            state, transformer=transformer, adapter_name=name), wan=True)
        names.append(name)
        weights.append(float(weight))
    if names:
        transformer.set_adapters(names, weights)
        transformer.fuse_lora(lora_scale=1.0, adapter_names=names)
        transformer.unload_lora()  # the fused weights stay; the LoRA layers go (no per-call cost)
    return len(names)
