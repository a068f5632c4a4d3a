"""The shot's side of temporal sampling: per-frame noise, context windows and their fusion weights.

* :func:`frame_noise` — the initial noise of frame f drawn from (seed, f) alone, on the CPU,
  so any range containing f (a whole shot, a farm chunk, a resumed render) starts f from the
  same noise, on any device;
* :func:`context_windows` and :func:`window_weights` — windows on a grid anchored at the
  shot's first frame, and per-frame fusion weights that fall off toward a window's ends, so
  overlapping predictions blend without a seam every window.

Gen-1's guidance formula is :mod:`recast.core.backends.guidance` (each backend applies it).
"""

from __future__ import annotations

import hashlib

__all__ = ["frame_noise", "context_windows", "window_weights"]


def _frame_seed(seed: int, frame: int, salt: str = "") -> int:
    text = f"recast-noise:{seed}:{frame}" + (f":{salt}" if salt else "")
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def frame_noise(frames, seed: int, shape: tuple[int, ...], salt: str = ""):
    """Standard normal noise for each absolute frame number in ``frames``: tensor (F, *shape), float32, CPU.
    ``salt`` names another draw of the same frames (a stochastic scheduler's noise of step k: 'step<k>')."""
    import torch

    out = torch.empty((len(frames), *shape), dtype=torch.float32)
    for i, f in enumerate(frames):
        gen = torch.Generator(device="cpu").manual_seed(_frame_seed(seed, int(f), salt))
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
