"""The full-size SD 1.5 stack with seeded random weights, for benchmarks: the real architecture and cost,
nothing downloaded. Depth estimator, tokenizer and image encoder stay the tiny preset's (they are not
what the comparison measures)."""

from __future__ import annotations

from recast.core.models.loader import Loader


class FullSizeLoader(Loader):
    """A :class:`Loader` whose diffusion parts and text encoder are SD 1.5-sized, random, seeded."""

    def _build(self, key, make):
        import torch

        def build():
            torch.manual_seed(0)
            return make().to(self.device, self.dtype).eval()
        return self._once(key, build)

    def unet(self):
        from diffusers import UNet2DConditionModel

        return self._build("base:unet", lambda: UNet2DConditionModel(sample_size=64, cross_attention_dim=768,
                                                                      attention_head_dim=8))

    def motion_adapter(self):
        from diffusers import MotionAdapter

        return self._build("motion_adapter", lambda: MotionAdapter(
            block_out_channels=(320, 640, 1280, 1280), motion_layers_per_block=2, motion_num_attention_heads=8,
            motion_max_seq_length=32, use_motion_mid_block=True, motion_mid_block_layers_per_block=1))

    def controlnet(self):
        from diffusers import ControlNetModel, UNet2DConditionModel

        return self._build("controlnet", lambda: ControlNetModel.from_unet(
            UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8)))

    def vae(self):
        from diffusers import AutoencoderKL

        return self._build("base:vae", lambda: AutoencoderKL(
            down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4, sample_size=512,
            scaling_factor=0.18215))

    def text_encoder(self):
        from transformers import CLIPTextConfig, CLIPTextModel

        tok = super().text_encoder()[0]
        enc = self._build("base:text_full", lambda: CLIPTextModel(CLIPTextConfig(
            vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
            max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768)))
        return tok, enc

    def scheduler(self):
        from diffusers import DDIMScheduler

        return self._once("base:scheduler", lambda: DDIMScheduler(
            beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
            set_alpha_to_one=False, steps_offset=1, timestep_spacing="leading"))
