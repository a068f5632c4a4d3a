"""Live previews while denoising: what each frame of the window in hand will look like, seconds into a render.

After every window's prediction the backend's estimate of the clean latents (:meth:`.Backend.denoised`) is
projected to RGB with a fixed linear map per latent space — the published fits of the VAE decoder's first-order
response (the "latent preview" factors ComfyUI and others show: SD 1.5's 4×3, Wan 2.1's 16×3 plus a bias) — and
written as a small PNG (four times the latent size, nearest neighbour) into
``recast_cache/preview/<render key>/preview.####.png``, atomically, then announced with a ``preview`` event
(``frame``, ``step``, ``steps``, ``path``). A host can point a Read at the pattern and reload as events arrive.
Costs a matrix product and a few kilobytes per frame: no decoder runs.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["PreviewWriter", "latent_rgb", "preview_writer"]

SCALE = 4  #: preview pixels per latent pixel


def latent_rgb(latents, table) -> np.ndarray:
    """(N, C, h, w) clean latents → (N, h·SCALE, w·SCALE, 3) uint8 display RGB through ``table``."""
    import torch

    factors, bias = table
    lat = latents.detach().float().cpu()
    if lat.shape[1] != len(factors):
        raise ValueError(f"a preview table for {len(factors)} channels was given latents of {lat.shape[1]}")
    rgb = torch.einsum("nchw,cr->nhwr", lat, torch.tensor(factors)) + torch.tensor(bias)
    rgb = ((rgb.clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8).numpy()
    return rgb.repeat(SCALE, axis=1).repeat(SCALE, axis=2)


class PreviewWriter:
    """Writes and announces the previews of one layer's render."""

    def __init__(self, folder: str, frame_of, reporter, table):
        self.folder, self.frame_of, self.reporter, self.table = folder, frame_of, reporter, table
        self.written = 0

    def path(self, frame: int) -> str:
        return os.path.join(self.folder, f"preview.{frame:04d}.png")

    def window(self, backend, latents, prediction, timestep, positions: range, step: int, steps: int) -> None:
        """The previews of the window at ``positions`` (sampler positions) after ``step`` of ``steps``."""
        import OpenImageIO as oiio

        from ..io.atomic import atomic_path

        clean = backend.denoised(latents, prediction, timestep)
        images = latent_rgb(clean, self.table)
        os.makedirs(self.folder, exist_ok=True)
        for image, position in zip(images, positions):
            frame = self.frame_of(position)
            path = self.path(frame)
            with atomic_path(path) as tmp:
                out = oiio.ImageOutput.create("png")
                spec = oiio.ImageSpec(image.shape[1], image.shape[0], 3, oiio.UINT8)
                if out is None or not out.open(tmp, spec) or not out.write_image(image):
                    raise OSError(f"cannot write the preview {path}")
                out.close()
            self.written += 1
            self.reporter.emit("preview", frame=frame, step=step, steps=steps, path=os.path.abspath(path))


def preview_writer(plan, backend, layer, reporter, cache: str):
    """Live previews of ``layer`` (None where the backend has no latent → RGB table): one folder per render
    (its job, range and layer) under the output's cache, frames named by their frame numbers."""
    from ..io.cache import cache_key

    if backend.latent_preview is None:
        return None
    positions, c = plan.positions, plan.compression
    first, last = plan.frames.first, plan.frames.last

    def frame_of(index: int) -> int:  # a latent frame is shown at the last frame it holds (within the range)
        return positions[index] if c == 1 else min(max(plan.anchor + c * positions[index], first), last)

    folder = os.path.join(cache, "preview",
                          cache_key(plan.fingerprint, plan.frames.first, plan.frames.last, layer.key))
    return PreviewWriter(folder, frame_of, reporter, backend.latent_preview)
