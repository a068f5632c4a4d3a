"""The Wan 2.1 VACE parts on a device: the causal video VAE streamed a frame group at a time, the UMT5 prompt, and
the VACE conditioning (control video, mask, reference image) laid out as ``WanVACEPipeline`` lays it.

* **VAE** (``AutoencoderKLWan``): 4× in time, causal — frame 0 alone, then groups of 4 frames, each encoded or
  decoded with the cache of the ones before. :func:`encode_stream` / :func:`decode_stream` run that very loop
  (diffusers' ``_encode``/``_decode``) a group at a time, so neither the frames of a long shot nor its decoded
  video are ever held whole; latents are normalised with the VAE's ``latents_mean``/``latents_std`` as the
  pipeline does. With ``memory: low`` the VAE's own tiled encode and decode run instead (whole range in pixels).
* **Prompt**: the pipeline's recipe (``prompt_clean``, padded to 512 tokens, each embedding cut to its length and
  padded back with zeros), cached in ``<output folder>/recast_cache/content``.
* **VACE conditioning**: the control video (here: the shot's depth at the structure level, grey) split by the
  mask (1 = generate) into an inactive and a reactive video, both encoded → 32 channels; the pixel mask folded
  8×8 into 64 channels at latent size → 96 channels a latent frame. A reference image is fitted into a white
  frame, encoded, and is one more latent frame at the front (its mask and reactive part zero).

Written by hand where diffusers keeps this inside ``WanVACEPipeline.__call__``: Recast denoises in windows over a
shot, so it needs these stages apart.
"""

from __future__ import annotations

import numpy as np

__all__ = ["WanParts", "encode_stream", "decode_stream", "normalise", "denormalise", "prompt_embeds", "fold_mask",
           "reference_frame"]


def _stats(vae, device, dtype):
    import torch

    mean = torch.tensor(vae.config.latents_mean, device=device, dtype=dtype).view(1, -1, 1, 1, 1)
    inv_std = 1.0 / torch.tensor(vae.config.latents_std, device=device, dtype=dtype).view(1, -1, 1, 1, 1)
    return mean, inv_std


def normalise(vae, mu):
    """Posterior means → the normalised latents the transformer works in (``WanVACEPipeline.prepare_video_latents``)."""
    import torch

    mean, inv_std = _stats(vae, mu.device, torch.float32)
    return (mu.float() - mean) * inv_std


def denormalise(vae, latents):
    import torch

    mean, inv_std = _stats(vae, latents.device, torch.float32)
    return latents.float() / inv_std + mean


def encode_stream(vae, groups, tiled: bool = False):
    """The VAE's posterior means (1, z, K+1, h, w), normalised, of the video whose frames ``groups`` yields as
    tensors (1, 3, n, H, W) in [-1, 1]: n = 1 first, then 4 (the causal VAE's own grouping)."""
    import torch

    with torch.inference_mode():
        if tiled:  # memory 'low': diffusers' tiled encode of the whole range
            video = torch.cat([x.to(vae.device, vae.dtype) for x in groups], dim=2)
            return normalise(vae, vae.encode(video).latent_dist.mode()[:, :vae.config.z_dim])
        vae.clear_cache()
        outs = []
        try:
            for x in groups:
                vae._enc_conv_idx = [0]
                outs.append(vae.encoder(x.to(vae.device, vae.dtype), feat_cache=vae._enc_feat_map,
                                        feat_idx=vae._enc_conv_idx))
        finally:
            vae.clear_cache()
        enc = vae.quant_conv(torch.cat(outs, dim=2))  # a 1×1×1 convolution: per latent frame
        return normalise(vae, enc[:, :vae.config.z_dim])


def decode_stream(vae, latents, tiled: bool = False):
    """Frames in [0, 1] (n, H, W, 3 float32 numpy, n = 1 then 4 a latent) of normalised ``latents`` (1, z, K+1, h, w),
    yielded a latent frame at a time."""
    import torch

    def frames(out):
        return ((out.clamp(-1, 1).float() + 1) / 2)[0].permute(1, 2, 3, 0).cpu().numpy()

    with torch.inference_mode():  # each step's work inside it; the yields outside (grad mode is per thread)
        z = denormalise(vae, latents).to(vae.dtype)
    if tiled:
        with torch.inference_mode():
            video = vae.decode(z).sample
        for i in range(video.shape[2]):
            yield frames(video[:, :, i:i + 1])
        return
    vae.clear_cache()
    try:
        with torch.inference_mode():
            x = vae.post_quant_conv(z)
        for i in range(x.shape[2]):
            with torch.inference_mode():
                vae._conv_idx = [0]
                out = frames(vae.decoder(x[:, :, i:i + 1], feat_cache=vae._feat_map, feat_idx=vae._conv_idx,
                                         first_chunk=i == 0))
            yield out
    finally:
        vae.clear_cache()


def prompt_embeds(tokenizer, text_encoder, texts: list[str], max_length: int = 512):
    """UMT5 embeddings (len(texts), max_length, D), float32 on the CPU, as the Wan pipelines make them."""
    import torch
    from diffusers.pipelines.wan.pipeline_wan_vace import prompt_clean

    tokens = tokenizer([prompt_clean(t) for t in texts], padding="max_length", max_length=max_length,
                       truncation=True, add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
    ids, mask = tokens.input_ids, tokens.attention_mask
    lengths = mask.gt(0).sum(dim=1).long()
    device = next(text_encoder.parameters()).device
    with torch.inference_mode():
        out = text_encoder(ids.to(device), mask.to(device)).last_hidden_state.float().cpu()
    return torch.stack([torch.cat([u[:n], u.new_zeros(max_length - int(n), u.size(1))]) for u, n in zip(out, lengths)])


def fold_mask(mask, latent_frames: int):
    """A pixel mask (F, H, W) with F = 1 + 4k, 1 = generate, as VACE takes it: (64, latent_frames, H/8, W/8), each
    8×8 block folded into channels, then resampled in time (nearest) — ``WanVACEPipeline.prepare_masks``."""
    import torch.nn.functional as F

    frames, height, width = mask.shape
    h, w = height // 8, width // 8
    m = mask.reshape(frames, h, 8, w, 8).permute(2, 4, 0, 1, 3).flatten(0, 1)
    return F.interpolate(m[None], size=(latent_frames, h, w), mode="nearest-exact")[0]


def reference_frame(rgb: np.ndarray, height: int, width: int):
    """A reference image (H×W×3 in [0, 1]) fitted inside a white frame of the model's size, in [-1, 1]:
    (1, 3, 1, height, width) — how ``WanVACEPipeline`` places reference images."""
    import torch
    import torch.nn.functional as F

    img = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)[None] * 2 - 1
    scale = min(height / img.shape[2], width / img.shape[3])
    nh, nw = int(img.shape[2] * scale), int(img.shape[3] * scale)
    img = F.interpolate(img, size=(nh, nw), mode="bilinear", align_corners=False)[0]
    canvas = torch.ones(3, height, width)
    top, left = (height - nh) // 2, (width - nw) // 2
    canvas[:, top:top + nh, left:left + nw] = img
    return canvas[None, :, None]


class WanParts:
    """The Wan pipeline folder's parts, each loaded on first use through the loader (a farm server keeps them), the
    loading timed as 'load'; the text encoder let go once the prompt is encoded.

    Wan 2.2's folder holds two experts: ``transformer`` (high noise) and ``transformer_2`` (low noise), and
    ``model_index.json`` the ``boundary_ratio`` between them (:attr:`boundary`). ``loras`` ((path, weight): the
    preset's distillation LoRA, then the job's) are fused into every expert."""

    def __init__(self, loader, plan, timing, loras=()):
        self.loader, self.plan, self.timing = loader, plan, timing
        self.loras = list(loras)

    def folder(self):
        from ..models.parts import locate

        return locate(self.loader.preset, "base")

    def _index(self) -> dict:
        import json
        import os

        if getattr(self, "_index_data", None) is None:
            path = os.path.join(self.folder(), "model_index.json")
            self._index_data = {}
            if os.path.isfile(path):
                with open(path, encoding="utf-8") as fh:
                    self._index_data = json.load(fh)
        return self._index_data

    @property
    def expert_names(self) -> list[str]:
        """The folder's transformers: ``["transformer"]`` (Wan 2.1), or with ``transformer_2`` (Wan 2.2); an entry
        ``[null, null]`` in model_index.json (diffusers' way of saying absent) is left out."""
        import os

        index, folder, names = self._index(), self.folder(), []
        for name in ("transformer", "transformer_2"):
            entry = index.get(name)
            if os.path.isdir(os.path.join(folder, name)) and (not index or (entry and entry[0] is not None)):
                names.append(name)
        return names or ["transformer"]

    @property
    def boundary(self) -> float | None:
        """The checkpoint's ``boundary_ratio`` (model_index.json) when it has two experts, else None."""
        ratio = self._index().get("boundary_ratio")
        return float(ratio) if ratio is not None and len(self.expert_names) == 2 else None

    def _load(self, key: str, build):
        import time

        began = time.perf_counter()
        try:
            return self.loader.built(key, build)
        finally:
            self.timing["load"] += time.perf_counter() - began

    def _kw(self):
        from ..models.parts import use_safetensors

        folder = self.folder()
        return {"local_files_only": True, "use_safetensors": use_safetensors(self.loader.preset, folder),
                "torch_dtype": self.loader.dtype}

    @property
    def transformer(self):
        return self.expert("transformer")

    def expert(self, name: str):
        """The transformer in subfolder ``name``, with :attr:`loras` fused (each set of LoRAs is its own model: the
        one it replaces is let go)."""
        from ..models.lora import loras_signature

        signature = loras_signature(self.loras)
        key = f"wan:{name}" + (f"+lora:{signature}" if signature else "")
        self.loader.release(*[k for k in self.loader.keys() if k.split("+")[0] == f"wan:{name}" and k != key])

        def build():
            from diffusers import WanVACETransformer3DModel

            model = WanVACETransformer3DModel.from_pretrained(self.folder(), subfolder=name, **self._kw())
            if self.loras:  # fused on the CPU, before the weights go to the device
                from ..models.wan_lora import fuse_loras_into_transformer

                fuse_loras_into_transformer(model, self.loras)
            if self.plan.offload:  # memory 'low': transformer blocks visit the device a group at a time
                model.enable_group_offload(self.loader.device, offload_device="cpu", offload_type="block_level",
                                           num_blocks_per_group=1)
                return model.eval()
            return model.to(self.loader.device).eval()
        return self._load(key, build)

    @property
    def vae(self):
        def build():
            import torch
            from diffusers import AutoencoderKLWan

            kw = {**self._kw(), "torch_dtype": torch.float32}  # the Wan VAE runs in fp32, as diffusers runs it
            vae = AutoencoderKLWan.from_pretrained(self.folder(), subfolder="vae", **kw).to(self.loader.device).eval()
            if self.plan.mode == "low":
                vae.enable_tiling()
            return vae
        return self._load("wan:vae", build)

    @property
    def scheduler(self):
        shift = self.loader.preset.flow_shift  # the preset's (the fast tier's), else the checkpoint's

        def build():
            from diffusers import FlowMatchEulerDiscreteScheduler

            config = FlowMatchEulerDiscreteScheduler.load_config(self.folder(), subfolder="scheduler",
                                                                 local_files_only=True)
            if config.get("_class_name") == "FlowMatchEulerDiscreteScheduler":
                return FlowMatchEulerDiscreteScheduler.from_config(config, **({"shift": shift} if shift else {}))
            # the hub's Wan repositories ship UniPC (multistep: a resumed step would lack its history); Euler with the
            # same flow shift, as diffusers' own Wan examples allow
            return FlowMatchEulerDiscreteScheduler(shift=shift or float(config.get("flow_shift", 3.0)))
        return self._load(f"wan:scheduler:{shift}", build)

    def text(self, job, content_cache):
        """[negative, prompt] UMT5 embeddings, cached by the texts and the text encoder."""
        import os

        from safetensors.torch import load_file, save_file

        from ..io.atomic import atomic_path
        from ..io.cache import cache_key

        base = self.loader.preset.part("base")
        path = os.path.join(content_cache, "content", cache_key("umt5", base.describe(), base.revision,
                                                                job.negative_prompt, job.prompt) + ".safetensors")
        if os.path.isfile(path):
            return load_file(path)["text"]

        def build():
            from transformers import AutoTokenizer, UMT5EncoderModel

            folder = self.folder()
            tok = AutoTokenizer.from_pretrained(folder, subfolder="tokenizer", local_files_only=True)
            enc = UMT5EncoderModel.from_pretrained(folder, subfolder="text_encoder", local_files_only=True,
                                                   dtype=self.loader.dtype)
            return tok, enc.to("cpu" if self.plan.offload else self.loader.device).eval()

        tok, enc = self._load("wan:text", build)
        text = prompt_embeds(tok, enc, [job.negative_prompt, job.prompt])
        self.loader.release("wan:text")  # UMT5-XXL is 5.7 B parameters: let it go before the transformer loads
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with atomic_path(path) as tmp:
            save_file({"text": text.contiguous()}, tmp)
        return text
