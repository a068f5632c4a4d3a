"""``recast demo``: a generated shot rendered end to end, with a contact sheet and a review report.

The plate is synthetic and scene-linear (ACEScg): a checkered floor receding to a horizon,
a sky with a sun far above 1.0, and a shaded ball rolling across, with a true depth AOV
(``depth.Z``) and alpha. Nothing is downloaded: it renders with the ``tiny`` model preset.
"""

from __future__ import annotations

import os

import numpy as np

from .exrio import Frame, Header, Window, write_frame, write_image
from .job import SCHEMA, Job

__all__ = ["synthetic_frame", "write_synthetic_plate", "contact_sheet", "run_demo"]

DEMO_PROMPT = "a claymation street at dusk, warm light"


def synthetic_frame(t: float, width: int, height: int) -> dict[str, np.ndarray]:
    """One frame of the demo scene at time ``t`` (0..1): ``{'rgb', 'alpha', 'depth'}`` float32 arrays."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    u = (xs + 0.5) / width - 0.5
    v = (ys + 0.5) / height
    horizon = 0.4
    rgb = np.zeros((height, width, 3), np.float32)
    depth = np.full((height, width), np.inf, np.float32)
    # sky: gradient, and a sun far brighter than 1.0 (scene-linear highlights must survive)
    sky = v < horizon
    rgb[sky] = np.stack([0.25 + 0.3 * v, 0.35 + 0.3 * v, 0.6 + 0.2 * v], -1)[sky]
    sun = (u - 0.3) ** 2 + (v - 0.12) ** 2 < 0.004
    rgb[sun] = (12.0, 10.0, 7.0)
    # floor: camera 1.5 above a plane; distance grows toward the horizon
    floor = ~sky
    z = 1.5 / np.maximum(v - horizon, 1e-3)
    wx = u * z * 2.0 + t * 2.0
    checker = ((np.floor(wx) + np.floor(z)) % 2).astype(np.float32)
    shade = (0.18 + 0.5 * checker) * np.exp(-z / 40.0)
    rgb[floor] = np.stack([shade, shade * 0.9, shade * 0.8], -1)[floor]
    depth[floor] = z[floor]
    # ball: rolls left to right in front of the floor
    cx, cy, r = -0.3 + 0.6 * t, 0.65, 0.12
    d2 = ((u - cx) * width / height) ** 2 + (v - cy) ** 2
    ball = d2 < r * r
    nz = np.sqrt(np.clip(1 - d2 / (r * r), 0, 1))
    lambert = np.clip(0.3 * (u - cx) / r * -1 + 0.8 * nz, 0.05, 1)
    rgb[ball] = np.stack([0.8 * lambert, 0.12 * lambert, 0.08 * lambert], -1)[ball]
    depth[ball] = (3.0 - nz * r * 4)[ball]
    alpha = np.ones((height, width), np.float32)
    return {"rgb": rgb, "alpha": alpha, "depth": depth}


def write_synthetic_plate(pattern: str, first: int, count: int, width: int = 160, height: int = 96,
                          colorspace: str = "ACEScg") -> list[str]:
    """Write the demo scene as EXR frames ``first..first+count-1`` (RGBA half, depth.Z float)."""
    from .colour import convert

    header = Header(
        path=pattern, channels=("R", "G", "B", "A", "depth.Z"),
        formats=("half", "half", "half", "half", "float"),
        data_window=Window(0, 0, width, height), display_window=Window(0, 0, width, height),
        attributes=(("compression", "string", "zip"), ("oiio:ColorSpace", "string", colorspace)))
    from .frames import SequencePattern

    seq = SequencePattern.parse(pattern)
    os.makedirs(seq.folder, exist_ok=True)
    paths = []
    for i in range(count):
        f = synthetic_frame(i / max(count - 1, 1), width, height)
        rgb = convert(f["rgb"], "Linear Rec.709 (sRGB)", colorspace)
        pixels = np.concatenate([rgb, f["alpha"][..., None], f["depth"][..., None]], axis=2)
        path = seq.path(first + i)
        write_frame(path, Frame(header, pixels))
        paths.append(path)
    return paths


def contact_sheet(path: str, rows: list[tuple[str, list[np.ndarray]]]) -> None:
    """Write a PNG with one row per ``(label, [display RGB frames])``; frames side by side."""
    gap = 4
    h, w = rows[0][1][0].shape[:2]
    n = max(len(frames) for _, frames in rows)
    sheet = np.full((len(rows) * (h + gap) + gap, n * (w + gap) + gap, 3), 0.1, np.float32)
    for r, (_, frames) in enumerate(rows):
        for c, img in enumerate(frames):
            y, x = gap + r * (h + gap), gap + c * (w + gap)
            sheet[y:y + h, x:x + w] = img[:, :, :3]
    write_image(path, sheet)


def run_demo(out: str, count: int, reporter, cancel) -> list[str]:
    """Generate the plate, render it with the tiny preset, write a contact sheet; returns summary lines."""
    from .colour import convert
    from .exrio import read_frame
    from .render import render

    out = os.path.abspath(out)
    plate_pattern = os.path.join(out, "plate", "demo.####.exr")
    first = 1001
    write_synthetic_plate(plate_pattern, first, count)
    job = Job.from_dict({
        "schema": SCHEMA,
        "input": {"pattern": "plate/demo.####.exr", "frames": f"{first}-{first + count - 1}", "colorspace": "ACEScg"},
        "output": {"pattern": "render/demo_recast.####.exr"},
        "prompt": DEMO_PROMPT, "model": "tiny", "device": "cpu", "resolution": 128,
        "steps": 4, "seed": 1234, "window": {"length": 8, "overlap": 2}, "handles": 2,
    }, out)
    job_path = os.path.join(out, "job.json")
    job.save(job_path)
    result = render(job, None, reporter, cancel)
    picks = sorted({first + round(i * (count - 1) / 3) for i in range(4)}) if count > 1 else [first]
    to_display = lambda p: np.clip(convert(read_frame(p).rgb(), "ACEScg", "sRGB Encoded Rec.709 (sRGB)"), 0, 1)
    sheet = os.path.join(out, "contact_sheet.png")
    contact_sheet(sheet, [("plate", [to_display(job.input_sequence.path(f)) for f in picks]),
                          ("result", [to_display(job.output_sequence.path(f)) for f in picks])])
    report = _report(job, reporter, cancel)
    lines = [f"recast demo: {len(result.frames)} frames in {result.seconds:.1f} s",
             f"  job            {job_path}",
             f"  plate          {job.input_sequence.pattern}",
             f"  result         {job.output_sequence.pattern}",
             f"  contact sheet  {sheet}",
             f"  report         {report}"]
    lines += ["  model          tiny (seeded random weights: the pictures show the whole stack ran, not a real "
              "look; 'recast models pull' and model 'default' give real results)"]
    lines += [f"  note           {w}" for w in result.warnings]
    return lines


def _report(job, reporter, cancel) -> str:
    """Measure the demo render (Gen-1's metrics) and write the review report beside it."""
    from .evaluate import evaluate
    from .frames import FrameRange
    from .models import Loader
    from .presets import load_preset
    from .report import write_report

    loader = Loader(load_preset(job.model, job.root), job.device, "fp32")
    ev = evaluate(job.input_sequence.pattern, job.output_sequence.pattern, FrameRange.parse(job.input.frames),
                  job.prompt, loader, job.input.colorspace, reporter=reporter, cancel=cancel)
    return write_report(os.path.join(os.path.dirname(job.input_sequence.folder), "report"), ev, job)
