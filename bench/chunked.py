"""A shot rendered as one process vs. as farm chunks through the OpenJD bundle (``openjd run``).

Reports, on the same job:

* compute: frames rendered (handles included) ÷ frames delivered, and wall time of each way;
* per chunk: the time spent loading models vs. rendering, through the step environment's
  server (the first chunk on a host loads, the others should not);
* the seam: mean |frame t+1 − frame t| across each chunk boundary, against the median of the
  same change inside the chunks (1.0 = a boundary looks like any other cut between frames),
  for the chunked and the single-process output;
* how far the chunked output is from the single-process output, per frame (mean |Δ| of RGB).

    python bench/chunked.py                                  # tiny preset, 32 frames, chunks of 8
    python bench/chunked.py --frames 48 --chunk-size 12 --handles 4 --size 128
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

import numpy as np

BIN = os.path.dirname(sys.executable)


def _events(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        brace = line.find("{")
        if brace < 0:
            continue
        try:
            event = json.loads(line[brace:])
        except ValueError:
            continue
        if isinstance(event, dict) and "event" in event:
            out.append(event)
    return out


def _frames(pattern: str, first: int, last: int) -> np.ndarray:
    from recast.core.io.exrio import read_frame

    return np.stack([read_frame(pattern.replace("####", f"{f:04d}")).rgb() for f in range(first, last + 1)])


def _step_change(x: np.ndarray) -> np.ndarray:
    """Mean |frame t+1 - frame t| for each t."""
    return np.abs(np.diff(x.astype(np.float64), axis=0)).mean(axis=(1, 2, 3))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--chunk-size", type=int, default=8)
    p.add_argument("--handles", type=int, default=2)
    p.add_argument("--window", type=int, default=8)
    p.add_argument("--overlap", type=int, default=2)
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--model", default="tiny")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)

    from recast.core.shot.synthetic import write_synthetic_plate
    from recast.core.job import SCHEMA, Job

    first, last = 1001, 1000 + args.frames
    with tempfile.TemporaryDirectory() as tmp:
        write_synthetic_plate(os.path.join(tmp, "plate", "b.####.exr"), first, args.frames, width=args.size,
                              height=args.size * 5 // 8)
        base = {"schema": SCHEMA, "input": {"pattern": "plate/b.####.exr", "frames": f"{first}-{last}"},
                "prompt": "a claymation street at dusk", "model": args.model, "device": args.device,
                "resolution": args.size, "steps": args.steps, "seed": 7, "handles": args.handles,
                "window": {"length": args.window, "overlap": args.overlap}}
        paths = {}
        for way in ("single", "chunked"):
            job = Job.from_dict({**base, "output": {"pattern": f"{way}/b.####.exr"}}, tmp)
            paths[way] = os.path.join(tmp, f"{way}.json")
            job.save(paths[way])

        recast = os.path.join(BIN, "recast")
        t = time.monotonic()
        single = subprocess.run([recast, "render", "--job", paths["single"]], capture_output=True, text=True)
        single_s = time.monotonic() - t
        if single.returncode:
            sys.exit(single.stderr)
        made = subprocess.run([recast, "farm", "openjd", "--job", paths["chunked"], "--chunk-size",
                               str(args.chunk_size), "--out", os.path.join(tmp, "bundle")],
                              capture_output=True, text=True, check=True)
        run = shlex.split(made.stdout.strip().splitlines()[-1])
        t = time.monotonic()
        chunked = subprocess.run([os.path.join(BIN, run[0]), *run[1:]], capture_output=True, text=True)
        chunked_s = time.monotonic() - t
        if chunked.returncode:
            sys.exit(chunked.stdout[-3000:])

        starts = [e for e in _events(chunked.stdout) if e["event"] == "start" and "windows" in e]
        dones = [e for e in _events(chunked.stdout) if e["event"] == "done" and "timing" in e]
        chunks = next(e["chunks"] for e in _events(chunked.stdout) if e["event"] == "done" and "chunks" in e)
        rendered = sum(e["total"] for e in starts)
        a = _frames(os.path.join(tmp, "single", "b.####.exr"), first, last)
        b = _frames(os.path.join(tmp, "chunked", "b.####.exr"), first, last)
        bounds = [int(c.split("-")[1]) for c in chunks[:-1]]  # last frame of each chunk but the last
        idx = [f - first for f in bounds]  # change between frame f and f+1
        inside = [i for i in range(len(a) - 1) if i not in idx]
        diff = np.abs(a.astype(np.float64) - b).mean(axis=(1, 2, 3))

    print(f"# Recast: one process vs. OpenJD chunks ({args.frames} frames {args.size}px, {args.model}, "
          f"{args.steps} steps, window {args.window}/{args.overlap}, handles {args.handles}, "
          f"chunk size {args.chunk_size}, device {args.device})\n")
    print("| way | wall s | frames rendered | ÷ delivered |")
    print("|---|---:|---:|---:|")
    print(f"| one process | {single_s:.1f} | {args.frames} | 1.00 |")
    print(f"| chunks via openjd run ({len(chunks)}) | {chunked_s:.1f} | {rendered} | {rendered / args.frames:.2f} |")
    print("\n| chunk | rendered frames | load s (models) | conditions s (content, depth) | rest s | task s |")
    print("|---|---:|---:|---:|---:|---:|")
    for c, s, d in zip(chunks, starts, dones):
        load, cond = d["timing"].get("load", 0.0), d["timing"].get("conditions", 0.0)
        print(f"| {c} | {s['total']} | {load:.2f} | {cond:.2f} | {d['seconds'] - load - cond:.2f} | "
              f"{d['seconds']:.2f} |")
    for name, x in (("one process", a), ("chunks", b)):
        ch = _step_change(x)
        med = float(np.median(ch[inside]))
        print(f"\nseam, {name}: frame-to-frame change across boundaries / median inside = "
              + ", ".join(f"{bounds[k]}→{bounds[k] + 1}: {ch[i] / med:.2f}" for k, i in enumerate(idx)))
    print("\nchunked − one process, mean |Δ RGB| per frame: "
          f"mean {diff.mean():.4f}, max {diff.max():.4f} (frame {first + int(diff.argmax())}); "
          f"frame-to-frame change inside chunks is {float(np.median(_step_change(a))):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
