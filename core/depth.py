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

Depth is computed at the size the model runs at (:mod:`.resolution`) and cached per shot in
``<output folder>/recast_cache/depth/``: raw per-frame inverse depth keyed by the frame's content and the depth source (a changed frame is recomputed, the
others are not), and the shot's normalised sequence ``depth.####.exr`` (channel ``depth.Z``,
float, resized to the plate's windows) keyed by all of them — open it in Nuke to see what the model saw.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

from .atomic import atomic_path
from .cache import cache_folder, cache_key
from .exrio import Frame, Header, Window, read_frame, write_frame
from .frames import SequencePattern
from .resolution import resize

__all__ = ["disparity_from_z", "normalise_shot", "apply_structure_level", "ShotDepth", "shot_depth"]

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


def _depth_header(plate_header: Header, path: str) -> Header:
    return Header(path=path, channels=("depth.Z",), formats=("float",), data_window=plate_header.data_window,
                  display_window=plate_header.display_window, attributes=(("compression", "string", "zip"),))


@dataclass
class ShotDepth:
    """Normalised inverse depth of every frame of a shot (level 0) at the model's size, and where it is cached."""

    frames: dict[int, np.ndarray]  #: frame → H×W float32 in [0, 1], 1 = near, at the model's size
    sequence: SequencePattern  #: the cached ``depth.####.exr`` files (the plate's windows)
    source: str  #: 'estimator:<model>' or 'aov:<channel>'
    range: tuple[float, float]  #: inverse depth mapped to 0 and 1
    computed: int  #: frames whose raw depth was computed (not found in the cache)


def shot_depth(job, plate, model_frames, size: tuple[int, int], loader_factory, reporter, cancel) -> ShotDepth:
    """Depth for every frame of ``plate`` at ``size`` (width, height): from the cache, the plate's AOV, or the
    estimator run on ``model_frames.get(f)`` (model-space frames at ``size``, read one batch at a time)."""
    root = os.path.join(cache_folder(job), "depth")
    channel = job.input.depth_channel
    width, height = size
    if channel:
        source = f"aov:{channel}"
        raws = {}
        keys = {}
        for i, f in enumerate(plate.frames):
            cancel.check("while reading depth")
            z = read_frame(plate.path(f)).channel(channel)
            raws[f] = resize(disparity_from_z(z), width, height, "triangle")
            keys[f] = cache_key(source, z, size)
            reporter.progress("depth", i + 1, len(plate.frames))
        computed = len(raws)
    else:
        loader = loader_factory()
        part = loader.preset.part("depth")
        source = f"estimator:{part.describe()}@{part.revision or 'main'}"
        raw_dir = os.path.join(root, "raw", cache_key(source))
        raws, keys, batch, computed = {}, {}, 4, 0
        model = processor = None
        frames = list(plate.frames)
        for i in range(0, len(frames), batch):
            cancel.check("while estimating depth")
            chunk = frames[i:i + batch]
            images = {f: model_frames.get(f) for f in chunk}
            todo = []
            for f in chunk:
                keys[f] = cache_key(source, images[f], images[f].shape)
                path = os.path.join(raw_dir, keys[f] + ".exr")
                if os.path.isfile(path):
                    raws[f] = read_frame(path).pixels[:, :, 0]
                else:
                    todo.append(f)
            computed += len(todo)
            if todo:
                if model is None:
                    model, processor = loader.depth_estimator()
                    os.makedirs(raw_dir, exist_ok=True)
                for f, d in zip(todo, estimate_disparity([images[f] for f in todo], model, processor, batch)):
                    raws[f] = d
                    write_frame(os.path.join(raw_dir, keys[f] + ".exr"), Frame(Header(
                        path="", channels=("Z",), formats=("float",), data_window=Window(0, 0, width, height),
                        display_window=Window(0, 0, width, height),
                        attributes=(("recast/depth_source", "string", source),)), d[:, :, None]))
            reporter.progress("depth", min(i + batch, len(frames)), len(frames))
    shot_key = cache_key(source, size, *[keys[f] for f in plate.frames])
    seq = SequencePattern.parse(os.path.join(root, shot_key, "depth.####.exr"))
    manifest = os.path.join(root, shot_key, "shot.json")
    ordered = list(plate.frames)
    normalised, rng = normalise_shot([raws[f] for f in ordered])
    frames = dict(zip(ordered, normalised))
    if not os.path.isfile(manifest):
        os.makedirs(os.path.dirname(manifest), exist_ok=True)
        header = _depth_header(plate.header, seq.pattern)
        dw = plate.header.data_window
        for f in ordered:
            extra = {"recast/depth_source": source, "recast/depth_range": f"{rng[0]:.9g} {rng[1]:.9g}",
                     "recast/depth_size": f"{width}x{height}",
                     "recast/depth_convention": "normalised inverse depth: 1 near, 0 far"}
            full = np.clip(resize(frames[f], dw.width, dw.height, "triangle"), 0.0, 1.0)
            write_frame(seq.path(f), Frame(header, full[:, :, None]), extra)
        with atomic_path(manifest) as tmp, open(tmp, "w") as fh:
            json.dump({"source": source, "frames": str(plate.frames), "size": [width, height], "range": rng,
                       "keys": keys}, fh)
    return ShotDepth(frames, seq, source, rng, computed)
