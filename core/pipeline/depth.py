"""Structure: depth per frame, normalised over the whole shot, at a chosen structure level.

Convention: **normalised inverse depth** in [0, 1] — 1 nearest, 0 farthest/infinite — what
depth ControlNets were trained on. Sources:

* the estimator of the preset (DPT / Depth Anything via ``transformers``), which gives
  relative inverse depth, run on the model-space (sRGB) frames, batched;
* a depth AOV of the plate (``input.depth_channel``). CG Z is distance (larger = farther):
  it becomes inverse depth 1/Z, with ``inf``, ``NaN`` and ``Z <= 0`` (no hit, background)
  taken as infinitely far (0).

**Shot-wide normalisation**: the 2nd and 98th percentiles over every frame of the shot map to
0 and 1 (clipped). Per-frame min/max (what diffusers' depth2img does) re-maps a frame whenever
something enters or leaves it, and the conditioning — so the output — flickers.

**Structure level** t_s (Gen-1): the depth is blurred with the 5-tap binomial kernel
[1, 4, 6, 4, 1]/16 (≈ Gaussian σ = 1 px) and downsampled by 2, t_s times, then resized back
(bilinear); level 0 is the depth untouched.

The shot's depth from its two sources, and its cache, is :mod:`.shot_depth`.
"""

from __future__ import annotations

import numpy as np

from ..io.resolution import resize

__all__ = ["disparity_from_z", "normalise_shot", "apply_structure_level", "estimate_disparity"]

LOW_PCT, HIGH_PCT = 2.0, 98.0
_BINOMIAL = np.array([1, 4, 6, 4, 1], np.float32) / 16.0


def disparity_from_z(z: np.ndarray) -> np.ndarray:
    """CG distance Z → inverse depth; no-hit pixels (inf, NaN, Z <= 0) → 0 (infinitely far)."""
    z = np.asarray(z, np.float32)
    valid = np.isfinite(z) & (z > 0)
    out = np.zeros_like(z)
    out[valid] = 1.0 / z[valid]
    return out


def normalise_shot(disparities: list[np.ndarray]) -> tuple[list[np.ndarray], tuple[float, float]]:
    """Map the shot's 2nd..98th percentiles of inverse depth to 0..1, the same mapping for every frame."""
    stride = max(1, int(np.sqrt(disparities[0].size / 65536)))  # sample ≤ ~64k pixels a frame
    sample = np.concatenate([d[::stride, ::stride].ravel() for d in disparities])
    sample = sample[np.isfinite(sample)]
    lo, hi = (np.percentile(sample, [LOW_PCT, HIGH_PCT]) if sample.size else (0.0, 1.0))
    lo, hi = float(lo), float(hi)
    if hi - lo < 1e-12:  # a flat shot: everything at one depth
        return [np.full_like(d, 0.5) for d in disparities], (lo, hi)
    scale = 1.0 / (hi - lo)
    return [np.clip((np.nan_to_num(d, nan=lo) - lo) * scale, 0.0, 1.0).astype(np.float32) for d in disparities], (lo, hi)


def _blur(img: np.ndarray) -> np.ndarray:
    pad = np.pad(img, 2, mode="reflect" if min(img.shape) > 2 else "edge")
    rows = sum(w * pad[:, i:i + img.shape[1]] for i, w in enumerate(_BINOMIAL))
    return sum(w * rows[i:i + img.shape[0], :] for i, w in enumerate(_BINOMIAL))


def _half(img: np.ndarray) -> np.ndarray:
    h, w = img.shape
    if h < 2 or w < 2:
        return img
    img = np.pad(img, ((0, h % 2), (0, w % 2)), mode="edge")
    return 0.25 * (img[0::2, 0::2] + img[1::2, 0::2] + img[0::2, 1::2] + img[1::2, 1::2])


def apply_structure_level(depth: np.ndarray, level: int) -> np.ndarray:
    """Blur and halve ``level`` times (binomial 5-tap, factor 2), then resize back; 0 = unchanged."""
    if level == 0:
        return depth
    small = depth.astype(np.float32)
    for _ in range(level):
        small = _half(_blur(small))
    return resize(small, depth.shape[1], depth.shape[0], 'triangle').astype(np.float32)


def estimate_disparity(frames: list[np.ndarray], model, processor, batch: int = 4) -> list[np.ndarray]:
    """Relative inverse depth of model-space frames (H×W×3 in [0, 1]) at their own size."""
    import torch

    out = []
    param = next(model.parameters())
    for i in range(0, len(frames), batch):
        chunk = frames[i:i + batch]
        inputs = processor(images=[np.asarray(f, np.float32) for f in chunk], return_tensors="pt", do_rescale=False)
        pixel_values = inputs["pixel_values"].to(param.device, param.dtype)
        with torch.inference_mode():
            pred = model(pixel_values=pixel_values).predicted_depth
        pred = torch.nn.functional.interpolate(pred[:, None].float(), size=chunk[0].shape[:2], mode="bicubic",
                                               align_corners=False)[:, 0]
        out += [p.cpu().numpy().astype(np.float32) for p in pred]
    return out
