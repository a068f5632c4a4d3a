"""The ``tiny-wan``, ``tiny-wan22`` and ``tiny-wan-fast`` presets: Wan VACE at a tiny size, seeded random weights, in
the real folder layouts.

The transformer and VAE configs are those of diffusers' own Wan VACE tests (a 3-layer VACE transformer with VACE
blocks at layers 0 and 2, a VAE with base dimension 3 that still compresses 8× in space and 4× in time); the
text encoder is a 2-layer ``UMT5EncoderModel`` and the tokenizer a ``T5Tokenizer`` built in code from a small
word-piece vocabulary (no download); the scheduler is flow matching (Euler, shift 3). Saved with
``WanVACEPipeline.save_pretrained`` (``model_index.json``, ``transformer/``, ``vae/``, ``text_encoder/``,
``tokenizer/``, ``scheduler/``) and loaded back through the loader, as ``Wan-AI/Wan2.1-VACE-1.3B-diffusers``
is. Written beside the tiny preset, in the same build, with ``preset_wan.toml``; its defaults are the real Wan
presets' (30 steps at guidance 5), so the fast tier is measured against what a studio would otherwise run.

``tiny-wan22`` is Wan 2.2 VACE-Fun's layout (``Wan2.2-VACE-Fun-14B-diffusers``): two transformers of that size with
their own seeds, ``transformer`` (high noise) and ``transformer_2`` (low noise), and ``boundary_ratio`` 0.875 in
``model_index.json`` (``WanVACEPipeline(..., transformer_2=…, boundary_ratio=…).save_pretrained``), in ``wan22/``.

``tiny-wan-fast`` is ``tiny-wan``'s folder plus a tiny step-distillation LoRA in the key layout the LightX2V and
CausVid LoRAs are published in (``diffusion_model.blocks.N.{self_attn,cross_attn}.{q,k,v,o}`` and ``ffn.{0,2}``,
``lora_down``/``lora_up`` with an ``alpha``; rank 4, seeded), the distilled schedule, 4 steps at guidance 1.
"""

from __future__ import annotations

import os

__all__ = ["build_tiny_wan", "build_tiny_wan22", "build_tiny_wan_fast", "tiny_wan_lora"]

SEED = 12

_WORDS = ("a an the of at in on and with street road house city town night dusk dawn day sky sun light clay "
          "paint oil watercolour water colour cartoon anime red blue green gold grey old new big small person car "
          "tree forest snow rain fog neon").split()


def _tokenizer():
    """A T5 (sentencepiece-style) tokenizer from a word list and the alphabet: every text encodes."""
    from transformers import T5Tokenizer

    pieces = [f"▁{w}" for w in _WORDS] + [f"▁{c}" for c in "abcdefghijklmnopqrstuvwxyz0123456789"] + \
        list("abcdefghijklmnopqrstuvwxyz0123456789.,'-")
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -1.0)] + \
        [(p, -2.0 - 0.01 * i) for i, p in enumerate(pieces)]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def _transformer(seed: int):
    import torch
    from diffusers import WanVACETransformer3DModel

    torch.manual_seed(seed)
    return WanVACETransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
        text_dim=32, freq_dim=256, ffn_dim=32, num_layers=3, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32, vace_layers=[0, 2], vace_in_channels=96)


def _pipeline(**experts):
    """The tiny WanVACEPipeline with ``experts`` (transformer, and for Wan 2.2 transformer_2 and boundary_ratio)."""
    import torch
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanVACEPipeline
    from transformers import UMT5Config, UMT5EncoderModel

    tok = _tokenizer()
    torch.manual_seed(SEED)
    text_encoder = UMT5EncoderModel(UMT5Config(vocab_size=len(tok), d_model=32, d_kv=8, d_ff=37, num_layers=2,
                                               num_heads=4, relative_attention_num_buckets=8, pad_token_id=0,
                                               eos_token_id=1, decoder_start_token_id=0))
    torch.manual_seed(SEED + 1)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    return WanVACEPipeline(tokenizer=tok, text_encoder=text_encoder, vae=vae,
                           scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0), **experts)


def build_tiny_wan(folder: str) -> str:
    """Write the tiny Wan VACE pipeline into ``folder``/wan and ``preset_wan.toml``; returns the preset."""
    _pipeline(transformer=_transformer(SEED + 2)).save_pretrained(os.path.join(folder, "wan"), safe_serialization=True)
    from .tiny import write_preset

    return write_preset(os.path.join(folder, "preset_wan.toml"), "tiny-wan", "tiny seeded random weights, Wan 2.1 "
                        "VACE architecture (flow matching, 4x temporal compression)", ["base", "depth", "clip", "matte"],
                        base="./wan", backend="wan-vace", defaults={"steps": 30, "guidance_scale": 5.0})


BOUNDARY = 0.875  #: tiny-wan22's boundary_ratio: the value Wan2.2-VACE-Fun-14B-diffusers' model_index.json holds


def build_tiny_wan22(folder: str) -> str:
    """Write the tiny Wan 2.2 VACE-Fun pipeline (two experts, a boundary) into ``folder``/wan22 and
    ``preset_wan22.toml``; returns the preset."""
    pipe = _pipeline(transformer=_transformer(SEED + 2), transformer_2=_transformer(SEED + 3), boundary_ratio=BOUNDARY)
    pipe.save_pretrained(os.path.join(folder, "wan22"), safe_serialization=True)
    from .tiny import write_preset

    return write_preset(os.path.join(folder, "preset_wan22.toml"), "tiny-wan22", "tiny seeded random weights, Wan "
                        "2.2 VACE-Fun architecture (a high-noise and a low-noise expert)", ["base", "depth", "clip",
                                                                                            "matte"],
                        base="./wan22", backend="wan-vace", defaults={"steps": 8, "guidance_scale": 4.0})


def tiny_wan_lora(path: str, seed: int, rank: int = 4, scale: float = 0.2, layers: int = 3, width: int = 24,
                  ffn: int = 32, kohya: bool = False) -> str:
    """A LoRA for the tiny Wan transformer in the original Wan key layout (LightX2V, CausVid, most Wan LoRAs):
    ``diffusion_model.blocks.N.<module>.lora_down/lora_up.weight`` and ``.alpha``, or with ``kohya`` kohya/musubi's
    (``lora_unet_blocks_N_<module>.lora_down.weight``); seeded, both matrices non-zero, so fusing it changes the
    network. Written with safetensors; returns ``path``."""
    import torch
    from safetensors.torch import save_file

    gen = torch.Generator().manual_seed(seed)
    state = {}
    shapes = {f"{a}.{p}": (width, width) for a in ("self_attn", "cross_attn") for p in "qkvo"}
    shapes.update({"ffn.0": (width, ffn), "ffn.2": (ffn, width)})  # (in, out)
    for i in range(layers):
        for module, (n_in, n_out) in shapes.items():
            key = f"lora_unet_blocks_{i}_{module.replace('.', '_')}" if kohya else f"diffusion_model.blocks.{i}.{module}"
            state[f"{key}.lora_down.weight"] = torch.randn(rank, n_in, generator=gen) * scale
            state[f"{key}.lora_up.weight"] = torch.randn(n_out, rank, generator=gen) * scale
            state[f"{key}.alpha"] = torch.tensor(float(rank))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_file(state, path, metadata={"recast.base_arch": "Wan", "recast.note": "tiny Wan LoRA, seeded (tests)"})
    return path


def build_tiny_wan_fast(folder: str) -> str:
    """Write the tiny distillation LoRA and ``preset_wan_fast.toml`` (on ``tiny-wan``'s folder); returns the preset."""
    from .tiny import PARTS, write_preset

    where, name = PARTS["distill_lora"]
    tiny_wan_lora(os.path.join(folder, where, name), SEED + 4)
    return write_preset(os.path.join(folder, "preset_wan_fast.toml"), "tiny-wan-fast", "tiny seeded random weights, "
                        "wired as the Wan fast tier (a step-distillation LoRA, the distilled schedule, 4 steps, no "
                        "guidance)", ["base", "distill_lora", "depth", "clip", "matte"], base="./wan",
                        backend="wan-vace", scheduler="distilled", flow_shift=5.0,
                        defaults={"steps": 4, "guidance_scale": 1.0})
