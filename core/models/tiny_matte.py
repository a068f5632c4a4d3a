"""The tiny preset's ``matte`` part: a SAM 2.1 video model at a tiny size, seeded random weights.

Built from configs in code and saved in the real layout (``config.json``, ``model.safetensors`` and the
processor's ``preprocessor_config.json``, as the hub repositories hold them), then loaded back through
the loader like the real checkpoint. Sizes that work (found by trying): ``memory_encoder_output_channels``
stays 64; the FPN, prompt encoder, mask decoder and memory attention hidden sizes are multiples of 64
above 64 (128 here); a small Hiera backbone (``embed_dim_per_stage`` 12, 24, 48, 96) whose global
attention blocks are not the first block of a pooling stage; input 128 px.

Random weights would call every object absent (a negative object score masks the whole frame) and give
mask logits of about ±0.002 (every matte a flat 0.5). So the object-score head's output bias is set to +8
(the tiny model always finds its object) and the mask hypernetworks' output layers are scaled by 24,000
(logits of about ±18, as confident as a trained SAM's: in half float about a third of a matte is exactly 1,
a third exactly 0 and the rest soft). Its masks follow the prompts
and the pixels; they are not a real segmentation: a test model.
"""

from __future__ import annotations

import json
import os

__all__ = ["MATTE_SIZE", "build_tiny_matte"]

MATTE_SIZE = 128  #: the tiny model's input size (pixels, square)
SEED = 10


def build_tiny_matte(folder: str) -> str:
    """Write the tiny SAM 2.1 video model into ``folder``; returns it."""
    import torch
    from transformers import Sam2VideoConfig, Sam2VideoModel
    from transformers.models.sam2.configuration_sam2 import (Sam2HieraDetConfig, Sam2MaskDecoderConfig,
                                                             Sam2PromptEncoderConfig, Sam2VisionConfig)

    s = MATTE_SIZE
    backbone = Sam2HieraDetConfig(hidden_size=12, num_attention_heads=1, image_size=[s, s],
                                  embed_dim_per_stage=[12, 24, 48, 96], num_attention_heads_per_stage=[1, 2, 4, 8],
                                  blocks_per_stage=[1, 1, 2, 1], window_size_per_stage=[4, 4, 4, 2],
                                  global_attention_blocks=[3], window_positional_embedding_background_size=[2, 2])
    vision = Sam2VisionConfig(backbone_config=backbone, backbone_channel_list=[96, 48, 24, 12],
                              backbone_feature_sizes=[[s // 4, s // 4], [s // 8, s // 8], [s // 16, s // 16]],
                              fpn_hidden_size=128)
    config = Sam2VideoConfig(
        vision_config=vision,
        prompt_encoder_config=Sam2PromptEncoderConfig(hidden_size=128, image_size=s, patch_size=16,
                                                      mask_input_channels=8),
        mask_decoder_config=Sam2MaskDecoderConfig(hidden_size=128, mlp_dim=256, num_attention_heads=4,
                                                  iou_head_hidden_dim=128),
        image_size=s, memory_attention_hidden_size=128, memory_attention_num_layers=1,
        memory_attention_num_attention_heads=1, memory_attention_feed_forward_hidden_size=256,
        memory_attention_rope_feat_sizes=[s // 16, s // 16], memory_encoder_hidden_size=128,
        memory_encoder_output_channels=64, mask_downsampler_embed_dim=128, memory_fuser_embed_dim=128,
        memory_fuser_intermediate_dim=256)
    torch.manual_seed(SEED)
    model = Sam2VideoModel(config).eval()
    with torch.no_grad():
        model.mask_decoder.pred_obj_score_head.proj_out.bias.fill_(8.0)
        for mlp in model.mask_decoder.output_hypernetworks_mlps:
            mlp.proj_out.weight.mul_(24000.0)
    model.save_pretrained(folder, safe_serialization=True)
    with open(os.path.join(folder, "preprocessor_config.json"), "w", encoding="utf-8") as fh:
        json.dump({"image_processor_type": "Sam2ImageProcessorFast", "size": {"height": s, "width": s},
                   "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
                   "do_resize": True, "do_rescale": True, "do_normalize": True}, fh, indent=2)
    return folder
