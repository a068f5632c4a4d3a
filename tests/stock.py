"""The stock diffusers pipeline on Recast's own parts: what Recast is measured and checked against.

``AnimateDiffVideoToVideoControlNetPipeline`` built from the same :class:`.models.Loader`
parts, its IP-Adapter loaded through its public loader, run on the same initial latents,
embeddings and depth conditioning. With one context window and ω_t = 1 it does the same maths
as Recast's sampler, so their frames must agree (tests) and their cost can be compared
(``bench/``). Not used by renders.
"""

from __future__ import annotations

import os

__all__ = ["stock_pipeline", "stock_frames"]


def stock_pipeline(loader, reference_weight: float | None = None):
    """The stock pipeline on ``loader``'s parts (and device); with the IP-Adapter when a weight is given."""
    from diffusers import AnimateDiffVideoToVideoControlNetPipeline, UNetMotionModel

    tok, text_encoder = loader.text_encoder()
    proc, image_encoder = loader.image_encoder()
    pipe = AnimateDiffVideoToVideoControlNetPipeline(
        vae=loader.vae(), text_encoder=text_encoder, tokenizer=tok,
        unet=UNetMotionModel.from_unet2d(loader.unet(), loader.motion_adapter()),
        motion_adapter=loader.motion_adapter(), controlnet=loader.controlnet(), scheduler=loader.scheduler(),
        feature_extractor=proc, image_encoder=image_encoder)
    if reference_weight is not None:
        weights = loader.ip_adapter_file()
        pipe.load_ip_adapter(os.path.dirname(weights), subfolder="", weight_name=os.path.basename(weights),
                             image_encoder_folder=None)
        pipe.set_ip_adapter_scale(reference_weight)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(loader.device, loader.dtype)


def stock_frames(pipe, latents, text, image, depth, *, steps: int, guidance: float, structure_weight: float,
                 decode_chunk: int = 8):
    """Run ``pipe`` from ``latents`` (F, 4, h, w) with ``text`` (2, 77, D) [unconditional, conditional],
    ``image`` (2, 1, E) or None and ``depth`` (F, 1, H, W) in [0, 1]; returns (F, H, W, 3) float32 in [0, 1]."""
    import numpy as np

    frames, _, h, w = depth.shape
    control = [np.repeat(d[0].float().cpu().numpy()[..., None], 3, axis=2) for d in depth]
    out = pipe(latents=latents.permute(1, 0, 2, 3)[None].to(pipe.device, pipe.dtype),
               prompt_embeds=text[1:].to(pipe.device, pipe.dtype), negative_prompt_embeds=text[:1].to(pipe.device, pipe.dtype),
               ip_adapter_image_embeds=[image.to(pipe.device, pipe.dtype)] if image is not None else None,
               conditioning_frames=control, num_inference_steps=steps, strength=1.0, guidance_scale=guidance,
               controlnet_conditioning_scale=structure_weight, height=h, width=w, output_type="np",
               decode_chunk_size=decode_chunk)
    return np.asarray(out.frames[0], np.float32)
