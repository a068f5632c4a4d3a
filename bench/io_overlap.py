"""I/O overlap: a 2K plate rendered with frames written behind the decoder (the writer thread) and in turn.

24 frames of 1920x1080 half-float RGBA EXRs, the tiny model at 256 px (so EXR reading, colour, resizing and
writing are most of the work, as on a GPU with a real model), strength 1. Each way runs in-process, alternately,
``--runs`` times (after one warm-up render); medians and the spread (max - min). "write" is the time spent writing
frames (read plate parts, resize, colour, composite, EXR encode, rename), wherever it ran; "removed from the critical
path" is (wall in turn − wall behind) ÷ write in turn.

    python bench/io_overlap.py [--frames 24] [--runs 3] [--size 1920x1080]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time


def _job(folder: str, frames: int, tag: str):
    from recast.core.job import SCHEMA, Job

    return Job.from_dict({"schema": SCHEMA, "input": {"pattern": "plate/p.####.exr", "frames": f"1001-{1000 + frames}",
                                                      "colorspace": "ACEScg"},
                          "output": {"pattern": f"{tag}/r.####.exr"}, "prompt": "a claymation street",
                          "model": "tiny", "device": "cpu", "resolution": 256, "steps": 2,
                          "window": {"length": 8, "overlap": 2}}, folder)


def _once(folder: str, frames: int, tag: str, behind: bool) -> dict:
    import shutil

    from recast.core.pipeline.render import render
    from recast.core.progress import Reporter

    shutil.rmtree(os.path.join(folder, tag), ignore_errors=True)
    started = time.perf_counter()
    result = render(_job(folder, frames, tag), reporter=Reporter(open(os.devnull, "w")), write_behind=behind)
    return {"wall": time.perf_counter() - started, "write": result.timing.get("write", 0.0)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--size", default="1920x1080")
    args = p.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    from recast.core.shot.synthetic import write_synthetic_plate

    folder = tempfile.mkdtemp(prefix="recast-io-")
    write_synthetic_plate(os.path.join(folder, "plate", "p.####.exr"), 1001, args.frames, width=width, height=height)
    _once(folder, args.frames, "warm", True)  # models built, depth and content cached: the runs time the rest
    behind, inline = [], []
    for _ in range(args.runs):
        behind.append(_once(folder, args.frames, "behind", True))
        inline.append(_once(folder, args.frames, "inline", False))
    med = {k: (statistics.median(x[k] for x in behind), statistics.median(x[k] for x in inline)) for k in ("wall", "write")}
    spread = {k: (max(x[k] for x in behind) - min(x[k] for x in behind), max(x[k] for x in inline) - min(x[k] for x in inline))
              for k in ("wall", "write")}
    print(f"\n### {args.frames} frames of {width}x{height} half EXR, tiny model at 256 px, 2 steps, "
          f"median of {args.runs} alternating runs (± spread)\n")
    print("| | writer thread | in turn | ratio |\n|---|---:|---:|---:|")
    for k, label in (("wall", "render wall time (s)"), ("write", "time writing frames (s)")):
        b, i = med[k]
        print(f"| {label} | {b:.2f} (±{spread[k][0]:.2f}) | {i:.2f} (±{spread[k][1]:.2f}) | {b / i:.2f} |")
    removed = (med["wall"][1] - med["wall"][0]) / med["write"][1]
    print(f"\nwrite time removed from the critical path: {removed:.0%} of {med['write'][1]:.2f} s")


if __name__ == "__main__":
    main()
