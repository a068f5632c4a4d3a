"""The ``tiny`` model preset: every part of the stack at a tiny size, seeded random weights.

Built from configs in code (the tokenizer too), saved in the real folder layouts (diffusers
pipeline folders, transformers model folders, an IP-Adapter safetensors file) and loaded back
through the same code that loads real weights — so the demo, the tests and CI exercise the
real loading path offline. Same code and seed → the same weights, bit for bit.

It is built once into ``<cache>/models/tiny-<TINY_VERSION>`` (see :func:`.cache.cache_root`),
atomically: a half-built folder is never taken for a preset.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from ..io.cache import cache_root

__all__ = ["TINY_VERSION", "ensure_tiny", "build_tiny"]

#: 2: the matte part (SAM 2.1 video); 3: tiny-fast (an LCM LoRA); 4: tiny-wan (Wan 2.1 VACE); 5: tiny-wan22 (two
#: experts), tiny-wan-fast (a distillation LoRA), tiny-wan's defaults those of the real Wan presets
TINY_VERSION = "5"
SEED = 0
CROSS_DIM = 32  # text hidden size = UNet cross-attention dim
BLOCKS = (32, 64)  # UNet / ControlNet / motion adapter channels

#: the tiny folder's parts: role → (folder, weights file); each tiny preset names some of them
PARTS = {"base": ("./base", None), "controlnet": ("./controlnet", None), "motion_adapter": ("./motion_adapter", None),
         "lcm_lora": ("./lcm_lora", "lcm_lora_tiny.safetensors"),
         "distill_lora": ("./wan_distill_lora", "wan_distill_lora_tiny.safetensors"),
         "ip_adapter": ("./ip_adapter", "ip-adapter_tiny.safetensors"), "image_encoder": ("./image_encoder", None),
         "depth": ("./depth", None), "clip": ("./clip", None), "matte": ("./matte", None)}


def write_preset(path: str, name: str, description: str, roles, base: str = "./base", **keys) -> str:
    """A tiny preset file naming ``roles`` of :data:`PARTS` (``base`` may be another folder) and the preset-level
    ``keys`` (``backend``, ``scheduler``, ``defaults`` as a dict); returns ``path``."""
    lines = [f"# Written by recast.core.models.tiny: {description} (demo, tests, CI).", f'name = "{name}"',
             f'description = "{description}"']
    lines += [f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}" for k, v in keys.items() if not isinstance(v, dict)]
    for table, values in ((k, v) for k, v in keys.items() if isinstance(v, dict)):
        lines += ["", f"[{table}]"] + [f"{k} = {v}" for k, v in values.items()]
    for role in roles:
        folder, weights = (base, None) if role == "base" else PARTS[role]
        lines += ["", f"[parts.{role}]", f'source = "{folder}"'] + ([f'weight_name = "{weights}"'] if weights else [])
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def _tokenizer():
    """A CLIP BPE tokenizer built in code: every byte as a character token, plus a few merges."""
    from transformers import CLIPTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    chars = list(bytes_to_unicode().values())
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": i + len(chars) for i, c in enumerate(chars)})
    merges = [("t", "h"), ("th", "e</w>"), ("a", "t</w>"), ("i", "n"), ("o", "n</w>"), ("e", "r</w>")]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)


def _text_config(tok, hidden):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=37, num_hidden_layers=2,
                          num_attention_heads=4, max_position_embeddings=77, projection_dim=hidden,
                          bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.eos_token_id)


def _vision_config(hidden=32):
    from transformers import CLIPVisionConfig

    return CLIPVisionConfig(hidden_size=hidden, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                            image_size=32, patch_size=8, projection_dim=hidden)


def _clip_processor_kw():
    return dict(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})


def build_tiny(folder: str) -> str:
    """Write the tiny preset into ``folder``; returns the preset file's path."""
    import torch
    from diffusers import (AutoencoderKL, ControlNetModel, DDIMScheduler, MotionAdapter, StableDiffusionPipeline,
                           UNet2DConditionModel)
    from safetensors.torch import save_file
    from transformers import (CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTextModel,
                              CLIPVisionModelWithProjection, DepthAnythingConfig, DepthAnythingForDepthEstimation,
                              Dinov2Config, DPTImageProcessor)

    def seeded(offset):
        torch.manual_seed(SEED + offset)

    tok = _tokenizer()
    seeded(1)
    unet = UNet2DConditionModel(
        block_out_channels=BLOCKS, layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=CROSS_DIM, attention_head_dim=8, norm_num_groups=8)
    seeded(2)
    vae = AutoencoderKL(block_out_channels=(8, 16, 16, 16), in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        norm_num_groups=8, sample_size=128)
    seeded(3)
    text_encoder = CLIPTextModel(_text_config(tok, CROSS_DIM))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1, timestep_spacing="linspace")
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tok, unet=unet, scheduler=scheduler,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(os.path.join(folder, "base"), safe_serialization=True)

    seeded(4)
    controlnet = ControlNetModel(
        block_out_channels=BLOCKS, layers_per_block=1, in_channels=4, cross_attention_dim=CROSS_DIM,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), attention_head_dim=8, norm_num_groups=8,
        conditioning_embedding_out_channels=(8, 8, 16, 16))
    controlnet.save_pretrained(os.path.join(folder, "controlnet"), safe_serialization=True)

    seeded(5)
    adapter = MotionAdapter(block_out_channels=BLOCKS, motion_layers_per_block=1, motion_norm_num_groups=8,
                            motion_num_attention_heads=2, motion_max_seq_length=32, use_motion_mid_block=True)
    adapter.save_pretrained(os.path.join(folder, "motion_adapter"), safe_serialization=True)

    seeded(6)
    image_encoder = CLIPVisionModelWithProjection(_vision_config())
    image_encoder.save_pretrained(os.path.join(folder, "image_encoder"), safe_serialization=True)
    CLIPImageProcessor(**_clip_processor_kw()).save_pretrained(os.path.join(folder, "image_encoder"))

    # IP-Adapter weights in the original single-file layout: image_proj.* and ip_adapter.<n>.to_{k,v}_ip.weight,
    # n counting every attention processor of the 2D UNet (odd numbers are the cross-attentions).
    seeded(7)
    embed_dim = image_encoder.config.projection_dim
    state = {
        "image_proj.proj.weight": torch.randn(4 * CROSS_DIM, embed_dim) * 0.05,
        "image_proj.proj.bias": torch.zeros(4 * CROSS_DIM),
        "image_proj.norm.weight": torch.ones(CROSS_DIM),
        "image_proj.norm.bias": torch.zeros(CROSS_DIM),
    }
    key_id = 1
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        if name.startswith("mid_block"):
            hidden = unet.config.block_out_channels[-1]
        elif name.startswith("up_blocks"):
            hidden = list(reversed(unet.config.block_out_channels))[int(name[len("up_blocks.")])]
        else:
            hidden = unet.config.block_out_channels[int(name[len("down_blocks.")])]
        state[f"ip_adapter.{key_id}.to_k_ip.weight"] = torch.randn(hidden, CROSS_DIM) * 0.05
        state[f"ip_adapter.{key_id}.to_v_ip.weight"] = torch.randn(hidden, CROSS_DIM) * 0.05
        key_id += 2
    os.makedirs(os.path.join(folder, "ip_adapter"))
    save_file({k: v.contiguous() for k, v in state.items()},
              os.path.join(folder, "ip_adapter", "ip-adapter_tiny.safetensors"))

    seeded(8)
    backbone = Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                            patch_size=14, image_size=56, out_features=["stage1", "stage2"],
                            reshape_hidden_states=False)
    depth = DepthAnythingForDepthEstimation(DepthAnythingConfig(
        backbone_config=backbone, reassemble_hidden_size=32, neck_hidden_sizes=[16, 32], fusion_hidden_size=16,
        head_hidden_size=8, reassemble_factors=[1.0, 0.5], patch_size=14))
    depth.save_pretrained(os.path.join(folder, "depth"), safe_serialization=True)
    DPTImageProcessor(do_resize=True, size={"height": 56, "width": 56}, keep_aspect_ratio=True, ensure_multiple_of=14,
                      resample=3, do_rescale=True, do_normalize=True, image_mean=[0.485, 0.456, 0.406],
                      image_std=[0.229, 0.224, 0.225]).save_pretrained(os.path.join(folder, "depth"))

    seeded(9)
    clip = CLIPModel(CLIPConfig(text_config=_text_config(tok, 32).to_dict(), vision_config=_vision_config().to_dict(),
                                projection_dim=32))
    clip.save_pretrained(os.path.join(folder, "clip"), safe_serialization=True)
    CLIPProcessor(image_processor=CLIPImageProcessor(**_clip_processor_kw()), tokenizer=tok).save_pretrained(
        os.path.join(folder, "clip"))

    from .tiny_matte import build_tiny_matte

    build_tiny_matte(os.path.join(folder, "matte"))

    path = write_preset(os.path.join(folder, "preset.toml"), "tiny", "tiny seeded random weights (same architecture "
                        "families as 'default')", [r for r in PARTS if r not in ("lcm_lora", "distill_lora")])
    from .tiny_fast import build_tiny_fast
    from .tiny_wan import build_tiny_wan, build_tiny_wan22, build_tiny_wan_fast

    build_tiny_fast(folder)
    build_tiny_wan(folder)
    build_tiny_wan22(folder)
    build_tiny_wan_fast(folder)
    return path


def ensure_tiny() -> str:
    """The tiny preset file, building the models first if they are not in the cache yet."""
    final = os.path.join(cache_root(), "models", f"tiny-{TINY_VERSION}")
    path = os.path.join(final, "preset.toml")
    if os.path.isfile(path):
        return path
    os.makedirs(os.path.dirname(final), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tiny-building-", dir=os.path.dirname(final))
    try:
        build_tiny(tmp)
        try:
            os.rename(tmp, final)
        except OSError:  # another process finished first: use theirs
            if not os.path.isfile(path):
                raise
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return path
