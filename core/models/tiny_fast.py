"""The ``tiny-fast`` preset: the ``fast`` tier's wiring on the tiny preset's parts.

``fast`` is AnimateLCM (``wangfuyun/AnimateLCM``): its motion adapter, its SD 1.5 LCM LoRA fused into the
UNet, the LCM scheduler, a few steps at low guidance. ``tiny-fast`` takes the tiny preset's parts, adds a tiny
LCM LoRA (rank 4 on the tiny UNet's spatial attention, seeded random weights — both LoRA matrices non-zero,
so fusing it changes the network) written by diffusers' own LoRA writer, and names the LCM scheduler and the
defaults (4 steps, guidance 1.5). It is written beside the tiny preset, in the same build.
"""

from __future__ import annotations

import os

__all__ = ["build_tiny_fast"]

SEED = 11

def build_tiny_fast(folder: str) -> str:
    """Write the tiny LCM LoRA and ``preset_fast.toml`` into the tiny preset's ``folder``; returns the preset."""
    import torch
    from diffusers import UNet2DConditionModel
    from peft import LoraConfig, get_peft_model_state_dict

    from .lora_file import write_lora

    unet = UNet2DConditionModel.from_pretrained(os.path.join(folder, "base"), subfolder="unet")
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights="gaussian",
                                target_modules=["to_k", "to_q", "to_v", "to_out.0"]))
    torch.manual_seed(SEED)
    with torch.no_grad():
        for name, p in unet.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn_like(p) * 0.2)
    os.makedirs(os.path.join(folder, "lcm_lora"))
    write_lora(os.path.join(folder, "lcm_lora", "lcm_lora_tiny.safetensors"), get_peft_model_state_dict(unet), None,
               {"recast.base_arch": "SD 1.x", "recast.note": "tiny LCM LoRA with seeded random weights (tests)"})
    from .tiny import PARTS, write_preset

    return write_preset(os.path.join(folder, "preset_fast.toml"), "tiny-fast", "tiny seeded random weights, wired "
                        "as 'fast' (AnimateLCM: LCM LoRA, LCM scheduler, few steps)",
                        [r for r in PARTS if r != "distill_lora"], scheduler="lcm",
                        defaults={"steps": 4, "guidance_scale": 1.5})
