"""Resuming a render: which frames are already done, and the sampler's saved state.

* A frame on disk counts as done when its header says it was written by the same job
  (``recast/fingerprint``), the same Recast version, from the same plate file
  (``recast/plate``: its size and modification time, :func:`recast.core.io.stamps.file_stamp`). Anything else is rendered again.
* The latents of the whole range are saved after every denoising step (and once more when
  denoising is finished) in ``<output folder>/recast_cache/state/``, keyed by the job, the
  range and every plate file's stamp. A render killed while denoising resumes from the last
  whole step; one killed while writing decodes only the chunks still missing frames. The
  sampler is deterministic (DDIM, η = 0; noise drawn per frame), so the resumed frames are the
  frames an uninterrupted render writes. The state file is removed when the range is written.
"""

from __future__ import annotations

import os

from ..io.atomic import atomic_path
from ..io.cache import cache_key
from ..errors import ImageError
from ..io.exrio import read_header

__all__ = ["finished_frames", "RenderState"]


def finished_frames(out_seq, frames, fingerprint: str, version: str, stamps: dict[int, str]) -> list[int]:
    """Frames whose output was written by this job, this version, from the plate file as it is now."""
    done = []
    for f in frames:
        path = out_seq.path(f)
        if not os.path.isfile(path):
            continue
        try:
            h = read_header(path)
        except ImageError:
            continue  # unreadable: render it again
        if (h.attribute("recast/fingerprint") == fingerprint and h.attribute("recast/version") == version
                and h.attribute("recast/plate") == stamps[f]):
            done.append(f)
    return done


class RenderState:
    """The latents of a range after step ``step`` of ``total`` (``total`` = denoising finished)."""

    def __init__(self, cache_dir: str, *key_parts):
        self.path = os.path.join(cache_dir, "state", cache_key(*key_parts) + ".safetensors")

    def load(self):
        """``(step, total, latents)`` saved by an earlier run of this range, or None."""
        from safetensors import SafetensorError, safe_open

        if not os.path.isfile(self.path):
            return None
        try:
            with safe_open(self.path, framework="pt", device="cpu") as fh:
                meta = fh.metadata() or {}
                return int(meta["step"]), int(meta["total"]), fh.get_tensor("latents")
        except (SafetensorError, OSError, KeyError, ValueError):
            return None  # damaged: start over

    def save(self, step: int, total: int, latents) -> None:
        from safetensors.torch import save_file

        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with atomic_path(self.path) as tmp:
            save_file({"latents": latents.detach().float().cpu().contiguous()}, tmp,
                      metadata={"step": str(step), "total": str(total)})

    def remove(self) -> None:
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass
