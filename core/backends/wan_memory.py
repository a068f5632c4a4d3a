"""The Wan backend's memory estimate (the preflight's figures, :meth:`.base.Backend.estimate_memory`): weights from
the safetensors headers of every expert, activations of one window from the transformer's config, read without
loading a model."""

from __future__ import annotations

import json
import os

__all__ = ["estimate_memory"]


def estimate_memory(parts, plan, nbytes: int, guidance: float | None, shared_positions: int, size, window: int,
                    frames: int) -> dict:
    """Rough peak bytes by part for a model size (width, height), a window and a range of ``frames``: ``parts`` the
    backend's :class:`.wan_vace_net.WanParts`, ``plan`` its memory plan, ``nbytes`` the bytes of its number format.

    Wan 2.2's two experts are both resident (every window switches at the boundary); with memory 'low' their blocks
    are offloaded and only the running expert's group visits the device. A distillation LoRA is fused into the
    weights (no extra bytes); without guidance (the fast tier: guidance 1) a window runs one pass, not two."""
    from ..models.parts import parameter_count

    folder = parts.folder()
    experts = [parameter_count(os.path.join(folder, name)) * nbytes for name in parts.expert_names]
    weights = max(experts) // 4 if plan.offload else sum(experts)
    with open(os.path.join(folder, parts.expert_names[0], "config.json")) as fh:
        cfg = json.load(fh)
    hidden = cfg["num_attention_heads"] * cfg["attention_head_dim"]
    width, height = size
    latent_frames = (window - 1) // 4 + 1 + shared_positions
    tokens = (width // 16) * (height // 16) * latent_frames
    window_bytes = 12 * tokens * hidden * nbytes * (2 if (guidance or 0) != 1.0 else 1)
    decode = 4 * 96 * width * height * 4 * 6  # a 4-frame group through the decoder's widest layers, fp32
    shot = ((frames - 1) // 4 + 1) * (width // 8) * (height // 8) * (16 * 4 + 96) * 4 + frames * width * height * 2
    return {"models": weights, "one window": window_bytes, "decode": decode, "shot": shot}
