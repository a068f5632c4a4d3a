"""Pieces of the temporal sampler that the renderer (issue #4) is built from.

* :func:`frame_noise` — the initial noise of frame f drawn from (seed, f) alone, on the CPU,
  so any range containing f (a whole shot, a farm chunk, a resumed render) starts f from the
  same noise, on any device;
* :func:`context_windows` and :func:`window_weights` — windows on a grid anchored at the
  shot's first frame, and per-frame fusion weights that fall off toward a window's ends, so
  overlapping predictions blend without a seam every window;
* :func:`gen1_guidance` and :func:`motion_modules_off` — Gen-1's temporal guidance; the image
  model is the same motion UNet with its motion modules bypassed.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager

__all__ = ["frame_noise", "context_windows", "window_weights", "gen1_guidance", "needs_image_pass",
           "motion_modules_off"]


def _frame_seed(seed: int, frame: int) -> int:
    digest = hashlib.sha256(f"recast-noise:{seed}:{frame}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def frame_noise(frames, seed: int, shape: tuple[int, ...]):
    """Standard normal noise for each absolute frame number in ``frames``: tensor (F, *shape), float32, CPU."""
    import torch

    out = torch.empty((len(frames), *shape), dtype=torch.float32)
    for i, f in enumerate(frames):
        gen = torch.Generator(device="cpu").manual_seed(_frame_seed(seed, int(f)))
        out[i] = torch.randn(shape, generator=gen, dtype=torch.float32)
    return out


def context_windows(first: int, last: int, length: int, overlap: int, anchor: int | None = None) -> list[tuple[int, int]]:
    """Inclusive (start, end) frame windows covering first..last.

    Windows start at ``anchor + k * (length - overlap)`` (``anchor`` defaults to ``first``; pass the
    shot's first frame so that every chunk of a shot places the same windows over the frames it
    shares). A window reaching past the range is clipped and, where the range is long enough,
    slid back inside it to keep its full length. A range shorter than ``length`` is one window.
    """
    if last < first:
        raise ValueError(f"empty range {first}-{last}")
    if not 0 <= overlap < length:
        raise ValueError(f"overlap {overlap} must be in 0..{length - 1}")
    if last - first + 1 <= length:
        return [(first, last)]
    anchor = first if anchor is None else anchor
    stride = length - overlap
    start = anchor + ((first - anchor) // stride) * stride
    while start + length - 1 < first:  # first grid window that reaches the range
        start += stride
    windows: list[tuple[int, int]] = []
    while True:
        s = min(max(start, first), last - length + 1)  # slide inside the range, keeping full length
        if not windows or windows[-1][0] != s:
            windows.append((s, s + length - 1))
        if start + length - 1 >= last:
            return windows
        start += stride


def window_weights(length: int):
    """Fusion weight of each position in a window: 1 in the middle, falling linearly toward both ends
    (never 0, so a frame seen by one window only keeps its prediction). Tensor (length,), float32."""
    import torch

    i = torch.arange(length, dtype=torch.float32)
    ramp = torch.minimum(i + 1, length - i)
    return ramp / ramp.max()


def needs_image_pass(temporal_guidance: float) -> bool:
    """ω_t = 1 is plain classifier-free guidance of the video model: no third (image-model) pass."""
    return temporal_guidance != 1.0


def gen1_guidance(video_cond, video_uncond, image_uncond, guidance: float, temporal_guidance: float):
    """μ̃ = μπ(∅) + ω_t·(μ(∅) − μπ(∅)) + ω·(μ(c) − μ(∅))   (Esser et al. 2023, eq. in DESIGN.md §1).

    ``image_uncond`` may be None when ω_t = 1 (the formula then reduces to μ(∅) + ω·(μ(c) − μ(∅)))."""
    if not needs_image_pass(temporal_guidance):
        return video_uncond + guidance * (video_cond - video_uncond)
    if image_uncond is None:
        raise ValueError(f"temporal guidance {temporal_guidance} needs the image model's unconditional prediction")
    return (image_uncond + temporal_guidance * (video_uncond - image_uncond)
            + guidance * (video_cond - video_uncond))


@contextmanager
def motion_modules_off(unet):
    """Within the block, every AnimateDiff motion module of ``unet`` passes its input through unchanged:
    the motion UNet becomes the image model μπ it was built from (each frame denoised on its own)."""
    from diffusers.models.unets.unet_motion_model import AnimateDiffTransformer3D

    modules = [m for m in unet.modules() if isinstance(m, AnimateDiffTransformer3D)]

    def bypass(hidden_states, *args, **kwargs):
        return hidden_states

    for m in modules:
        m.forward = bypass
    try:
        yield unet
    finally:
        for m in modules:
            del m.forward
