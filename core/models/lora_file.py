"""The trained LoRA as a file: diffusers' own writer (``save_lora_weights``: ``unet.…`` and
``text_encoder.…`` keys that ``load_lora_weights`` reads), with Recast's metadata added — base model,
token, steps, rank, alpha, Recast version — and written atomically."""

from __future__ import annotations

import os
import tempfile

from ..errors import RecastError
from ..io.atomic import atomic_path, shared_mode

__all__ = ["write_lora"]


def write_lora(path: str, unet_state: dict, text_state: dict | None, metadata: dict) -> None:
    """Write the LoRA to ``path`` (``.safetensors``) with ``metadata`` (strings) in its header."""
    from diffusers import StableDiffusionPipeline
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with tempfile.TemporaryDirectory(prefix=".recast-lora-", dir=os.path.dirname(os.path.abspath(path))) as tmp:
        StableDiffusionPipeline.save_lora_weights(tmp, unet_lora_layers=unet_state, text_encoder_lora_layers=text_state,
                                                  weight_name="lora.safetensors", safe_serialization=True)
        written = os.path.join(tmp, "lora.safetensors")
        with safe_open(written, framework="pt") as fh:
            meta = dict(fh.metadata() or {})
        tensors = load_file(written)
    meta.update({k: str(v) for k, v in metadata.items()})
    with atomic_path(path, RecastError) as out:
        save_file(tensors, out, metadata=meta)
        os.chmod(out, shared_mode())  # safetensors writes 0600: farm accounts read it as they read the frames
