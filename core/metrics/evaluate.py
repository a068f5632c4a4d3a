"""``recast eval``: Gen-1's metrics of a render, per frame and for the shot.

* **frame consistency** — CLIP cosine similarity of each output frame with the one before
  (Gen-1 reports the mean; 1 = no change at all);
* **prompt consistency** — CLIP cosine similarity of the prompt and each output frame
  (none without a prompt);
* **warp error** — the output frame t+1 warped onto frame t along the *input's* optical flow,
  mean squared RGB error over unoccluded pixels (:mod:`.flow`; 0 = the output moves exactly
  as the plate does);
* **structure fidelity** — the depth of the output against the depth of the plate (the
  preset's estimator on both), scale- and shift-invariant: the squared correlation of the
  two inverse depths (1 = the same structure up to scale and shift).

CLIP is the preset's ``clip`` part, depth its ``depth`` part. Frames are compared in display
space (sRGB-encoded, [0, 1]) at ``size`` pixels on the long side.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from ..errors import RecastError, SequenceError
from ..io.frames import FrameRange, SequencePattern

__all__ = ["Evaluation", "evaluate", "METRICS", "format_table"]

METRICS = ("frame_consistency", "prompt_consistency", "warp_error", "structure_fidelity")


@dataclass
class Evaluation:
    frames: list[int]
    per_frame: list[dict]  #: {'frame', and each metric (None where it does not apply)}
    means: dict  #: metric → shot mean (None where no frame has it)
    prompt: str
    chunk_boundaries: list[int] = field(default_factory=list)  #: last frames of chunks (a chunked render)
    sampled: dict = field(default_factory=dict)  #: frame → (plate, plate depth, result) display images
    plate: str = ""  #: the plate's pattern, as given
    result: str = ""  #: the measured render's pattern, as given

    def to_dict(self) -> dict:
        return {**self.means, "per_frame": self.per_frame, "frames": f"{self.frames[0]}-{self.frames[-1]}",
                "prompt": self.prompt, "chunk_boundaries": self.chunk_boundaries, "plate": self.plate,
                "result": self.result}


def _features(output) -> "object":
    return output.pooler_output if hasattr(output, "pooler_output") else output  # transformers 5 vs 4


def _clip_images(loader, images: list[np.ndarray]) -> np.ndarray:
    import torch

    proc, model = loader.clip()
    param = next(model.parameters())
    out = []
    for i in range(0, len(images), 8):
        inputs = proc(images=images[i:i + 8], return_tensors="pt", do_rescale=False)
        with torch.inference_mode():
            f = _features(model.get_image_features(pixel_values=inputs["pixel_values"].to(param.device, param.dtype)))
        out.append(torch.nn.functional.normalize(f.float(), dim=-1).cpu().numpy())
    return np.concatenate(out)


def _clip_text(loader, prompt: str) -> np.ndarray:
    import torch

    proc, model = loader.clip()
    inputs = proc(text=[prompt], return_tensors="pt", padding=True, truncation=True)
    param = next(model.parameters())
    with torch.inference_mode():
        f = _features(model.get_text_features(input_ids=inputs["input_ids"].to(param.device),
                                              attention_mask=inputs["attention_mask"].to(param.device)))
    return torch.nn.functional.normalize(f.float(), dim=-1).cpu().numpy()[0]


def _fidelity(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    if a.std() < 1e-12 or b.std() < 1e-12:
        return 1.0 if np.allclose(a, b) else 0.0
    return float(np.corrcoef(a, b)[0, 1] ** 2)


def _chunk_boundaries(result: SequencePattern, frames: list[int]) -> list[int]:
    from ..io.exrio import read_header

    bounds = set()
    for f in frames:
        try:
            text = read_header(result.path(f)).attribute("recast/chunks")
        except RecastError:
            continue
        for part in (text or "").split(", "):
            if part:
                chunk = FrameRange.parse(part.rsplit(":", 1)[0])
                if chunk.last < frames[-1]:
                    bounds.add(chunk.last)
    return sorted(bounds)


def evaluate(plate: str, result: str, frames: FrameRange | None, prompt: str, loader, colorspace: str | None = None,
             size: int = 224, samples: int = 6, reporter=None, cancel=None) -> Evaluation:
    """Measure the render ``result`` (a pattern) against its ``plate`` (a pattern) over ``frames``."""
    from ..pipeline.depth import estimate_disparity
    from ..shot.display import display_frame
    from .flow import flow_pair, warp_error

    plate_seq, result_seq = SequencePattern.parse(plate), SequencePattern.parse(result)
    if frames is None:
        from ..shot.plate import frames_on_disk

        frames = frames_on_disk(result_seq)
    for name, seq in (("plate", plate_seq), ("result", result_seq)):
        _, missing = seq.existing(frames)
        if missing:
            from ..io.frames import compress_frames

            raise SequenceError(f"{seq.pattern}: {len(missing)} {name} frame(s) of {frames} are missing: "
                                f"{compress_frames(missing)}")
    fs = list(frames)
    plates, results = [], []
    for i, f in enumerate(fs):
        if cancel is not None:
            cancel.check("while reading frames")
        plates.append(display_frame(plate_seq.path(f), colorspace, size))
        results.append(display_frame(result_seq.path(f), colorspace, size))
        if reporter is not None:
            reporter.progress("read", i + 1, len(fs))
    if plates[0].shape != results[0].shape:
        raise SequenceError(f"plate and result frames differ in shape: {plates[0].shape} vs {results[0].shape}")

    emb = _clip_images(loader, results)
    text = _clip_text(loader, prompt) if prompt.strip() else None
    depth_model, depth_proc = loader.depth_estimator()
    plate_depth = estimate_disparity(plates, depth_model, depth_proc)
    result_depth = estimate_disparity(results, depth_model, depth_proc)

    per_frame = []
    for i, f in enumerate(fs):
        if cancel is not None:
            cancel.check("while measuring")
        row = {"frame": f,
               "frame_consistency": float(emb[i] @ emb[i - 1]) if i else None,
               "prompt_consistency": float(emb[i] @ text) if text is not None else None,
               "warp_error": None,
               "structure_fidelity": _fidelity(result_depth[i], plate_depth[i])}
        if i + 1 < len(fs):
            fwd, bwd = flow_pair(plates[i], plates[i + 1])
            row["warp_error"] = warp_error(results[i], results[i + 1], fwd, bwd)
        per_frame.append(row)
        if reporter is not None:
            reporter.progress("measure", i + 1, len(fs))
    means = {}
    for m in METRICS:
        values = [r[m] for r in per_frame if r[m] is not None and not math.isnan(r[m])]
        means[m] = float(np.mean(values)) if values else None
    picks = sorted({fs[round(k * (len(fs) - 1) / max(1, samples - 1))] for k in range(samples)})
    lo, hi = min(float(d.min()) for d in plate_depth), max(float(d.max()) for d in plate_depth)
    at = {f: i for i, f in enumerate(fs)}
    sampled = {f: (plates[at[f]], np.repeat(((plate_depth[at[f]] - lo) / max(hi - lo, 1e-9))[..., None], 3, -1),
                   results[at[f]]) for f in picks}
    return Evaluation(fs, per_frame, means, prompt, _chunk_boundaries(result_seq, fs), sampled, plate, result)


def format_table(ev: Evaluation) -> str:
    def fmt(v, digits=4):
        return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"

    lines = [f"frames {ev.frames[0]}-{ev.frames[-1]}   prompt: {ev.prompt or '(none)'}",
             "", f"{'metric':<22}{'shot mean':>12}"]
    lines += [f"{m:<22}{fmt(ev.means[m]):>12}" for m in METRICS]
    if ev.chunk_boundaries:
        lines += ["", "chunk boundaries after frames " + ", ".join(map(str, ev.chunk_boundaries))]
    lines += ["", f"{'frame':>6} {'frame cons.':>12} {'prompt cons.':>13} {'warp error':>11} {'structure':>10}"]
    lines += [f"{r['frame']:>6} {fmt(r['frame_consistency']):>12} {fmt(r['prompt_consistency']):>13} "
              f"{fmt(r['warp_error'], 5):>11} {fmt(r['structure_fidelity']):>10}" for r in ev.per_frame]
    return "\n".join(lines)


def report_folder_for(result_pattern: str) -> str:
    """``recast_report/<render name>`` beside the result's folder (numbered ``_v001``… when written): two
    renders in one folder, or one render measured twice, never share a report."""
    seq = SequencePattern.parse(result_pattern)
    name = os.path.basename(seq.head).rstrip("._- ") or os.path.splitext(seq.tail)[0].strip("._- ") or "render"
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(result_pattern))), "recast_report", name)
