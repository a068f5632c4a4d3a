"""The ``tiny-wan`` preset: Wan 2.1 VACE at a tiny size, seeded random weights, in the real folder layout.

The transformer and VAE configs are those of diffusers' own Wan VACE tests (a 3-layer VACE transformer with VACE
blocks at layers 0 and 2, a VAE with base dimension 3 that still compresses 8× in space and 4× in time); the
text encoder is a 2-layer ``UMT5EncoderModel`` and the tokenizer a ``T5Tokenizer`` built in code from a small
word-piece vocabulary (no download); the scheduler is flow matching (Euler, shift 3). Saved with
``WanVACEPipeline.save_pretrained`` (``model_index.json``, ``transformer/``, ``vae/``, ``text_encoder/``,
``tokenizer/``, ``scheduler/``) and loaded back through the loader, as ``Wan-AI/Wan2.1-VACE-1.3B-diffusers``
is. Written beside the tiny preset, in the same build, with ``preset_wan.toml``.
"""

from __future__ import annotations

import os

__all__ = ["build_tiny_wan"]

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


def build_tiny_wan(folder: str) -> str:
    """Write the tiny Wan VACE pipeline into ``folder``/wan and ``preset_wan.toml``; returns the preset."""
    import torch
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanVACEPipeline, WanVACETransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    tok = _tokenizer()
    torch.manual_seed(SEED)
    text_encoder = UMT5EncoderModel(UMT5Config(vocab_size=len(tok), d_model=32, d_kv=8, d_ff=37, num_layers=2,
                                               num_heads=4, relative_attention_num_buckets=8, pad_token_id=0,
                                               eos_token_id=1, decoder_start_token_id=0))
    torch.manual_seed(SEED + 1)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    torch.manual_seed(SEED + 2)
    transformer = WanVACETransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
        text_dim=32, freq_dim=256, ffn_dim=32, num_layers=3, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32, vace_layers=[0, 2], vace_in_channels=96)
    pipe = WanVACEPipeline(tokenizer=tok, text_encoder=text_encoder, vae=vae, transformer=transformer,
                           scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0))
    pipe.save_pretrained(os.path.join(folder, "wan"), safe_serialization=True)
    from .tiny import write_preset

    return write_preset(os.path.join(folder, "preset_wan.toml"), "tiny-wan", "tiny seeded random weights, Wan 2.1 "
                        "VACE architecture (flow matching, 4x temporal compression)", ["base", "depth", "clip", "matte"],
                        base="./wan", backend="wan-vace", defaults={"steps": 4, "guidance_scale": 5.0})
