"""Cache hooks and several devices on the tiny-wan preset (CPU): what a cache does to chunk agreement and resume, and
what two worker processes cost against one.

(a) ``--part cache``: a 33-frame shot (windows of 9, overlap 4), rendered whole and as two ``--frames`` sub-ranges with
their handles (what a farm chunk renders), with no cache, a First-Block cache (threshold 0.2) and TaylorSeer
(interval 2, warm-up 2); max and mean |Δ| (RGB, scene-linear) of the sub-ranges against the whole render, and of each
cached render against the uncached one; then a cached render stopped after step 4 and run again, against the
uninterrupted one.

(b) ``--part devices``: wall time of one process against ``devices: ["cpu", "cpu"]`` (two worker processes): a
33-frame shot (7 windows a step: dealt out) and a 9-frame shot (one window: split by context parallelism); the
worker start-up (spawn, import, models) is part of the wall time and given apart.

    python bench/scale.py [--part cache|devices|both] [--steps 8]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


class _Quiet:
    def __new__(cls, stop_at=None, flag=None):
        from recast.core.progress import Reporter

        class Quiet(Reporter):
            def __init__(self):
                super().__init__(stream=open(os.devnull, "w"))
                self.events = []

            def emit(self, event, **fields):
                self.events.append({"event": event, "_t": time.perf_counter(), **fields})
                if stop_at is not None and fields.get("stage") == "denoise" and fields.get("step") == stop_at:
                    flag.set()
        return Quiet()


def _job(folder, out, frames, steps, **extra):
    from recast.core.job import SCHEMA, Job

    return Job.from_dict({"schema": SCHEMA, "input": {"pattern": "plate/p.####.exr", "frames": frames,
                                                      "colorspace": "ACEScg", "depth_channel": "depth.Z"},
                          "output": {"pattern": f"{out}/x.####.exr"}, "prompt": "a claymation street at dusk",
                          "model": "tiny-wan", "device": "cpu", "resolution": 64, "steps": steps,
                          "guidance_scale": 5.0, "window": {"length": 9, "overlap": 4}, "handles": 4, **extra}, folder)


def _rgb(job, first, last):
    from recast.core.io.exrio import read_frame

    return np.stack([read_frame(job.output_sequence.path(f)).pixels[:, :, :3] for f in range(first, last + 1)])


def _plate(folder, count):
    from recast.core.shot.synthetic import write_synthetic_plate

    write_synthetic_plate(os.path.join(folder, "plate", "p.####.exr"), 1001, count, width=64, height=40)


def part_cache(steps: int) -> None:
    from recast.core.errors import Cancelled
    from recast.core.io.frames import FrameRange
    from recast.core.models.loader import loader_for
    from recast.core.pipeline.render import render
    from recast.core.progress import CancelFlag

    folder = tempfile.mkdtemp(prefix="recast-scale-")
    _plate(folder, 33)
    loader = loader_for(_job(folder, "x", "1001-1033", steps))
    caches = {"none": None, "First-Block 0.2": {"method": "first_block", "threshold": 0.2},
              "TaylorSeer (interval 2, warm-up 2)": {"method": "taylorseer", "interval": 2, "warmup": 2}}
    whole = {}
    print(f"\n### tiny-wan, 33 frames (windows 9/4), {steps} steps, guidance 5: chunks and resume with a cache hook\n")
    print("| cache | whole render s | vs uncached: max / mean abs delta | sub-ranges 1001-1017 + 1018-1033 vs whole: "
          "max / mean abs delta | stopped after step 4, rerun: max abs delta vs uninterrupted | rerun s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, cache in caches.items():
        tag = name.split()[0].lower()
        job = _job(folder, f"whole-{tag}", "1001-1033", steps, cache=cache)
        began = time.perf_counter()
        render(job, reporter=_Quiet(), loader=loader)
        seconds = time.perf_counter() - began
        whole[name] = _rgb(job, 1001, 1033)
        parts = _job(folder, f"parts-{tag}", "1001-1033", steps, cache=cache)
        for a, b in ((1001, 1017), (1018, 1033)):
            render(parts, FrameRange(a, b), reporter=_Quiet(), loader=loader, context=True)
        d = np.abs(_rgb(parts, 1001, 1033) - whole[name])
        vs = np.abs(whole[name] - whole["none"])
        resume = "-"
        rerun_s = "-"
        if cache:
            stopped = _job(folder, f"stopped-{tag}", "1001-1033", steps, cache=cache)
            flag = CancelFlag()
            try:
                render(stopped, reporter=_Quiet(5, flag), cancel=flag, loader=loader)
            except Cancelled:
                pass
            began = time.perf_counter()
            render(stopped, reporter=_Quiet(), loader=loader)
            rerun_s = f"{time.perf_counter() - began:.1f}"
            resume = f"{np.abs(_rgb(stopped, 1001, 1033) - whole[name]).max():.2g}"
        print(f"| {name} | {seconds:.1f} | {vs.max():.3f} / {vs.mean():.4f} | {d.max():.3f} / {d.mean():.4f} | "
              f"{resume} | {rerun_s} |", flush=True)


def part_devices(steps: int) -> None:
    from recast.core.pipeline.render import render

    folder = tempfile.mkdtemp(prefix="recast-scale-")
    _plate(folder, 33)
    print(f"\n### tiny-wan on the CPU, {steps} steps: one process vs two worker processes "
          "(`devices: [\"cpu\", \"cpu\"]`)\n")
    print("| shot | split | one process s | two workers s | of which worker start-up s | max abs delta |")
    print("|---|---|---:|---:|---:|---:|")
    for frames, label in (("1001-1033", "33 frames, 7 windows"), ("1001-1009", "9 frames, 1 window")):
        last = int(frames[-4:])
        one = _job(folder, f"one-{last}", frames, steps)
        began = time.perf_counter()
        render(one, reporter=_Quiet())
        t_one = time.perf_counter() - began
        two = _job(folder, f"two-{last}", frames, steps, devices=["cpu", "cpu"])
        rep = _Quiet()
        began = time.perf_counter()
        render(two, reporter=rep)
        t_two = time.perf_counter() - began
        ready = [e for e in rep.events if e.get("part") == "device workers"]
        load = [e["_t"] for e in rep.events if e.get("stage") == "load" and e.get("done") == 0]
        up = f"{ready[-1]['_t'] - load[0]:.1f}" if ready and load else "-"  # models announced → last worker ready
        split = ready[-1]["split"] if ready else "-"
        delta = np.abs(_rgb(one, 1001, last) - _rgb(two, 1001, last)).max()
        print(f"| {label} | {split} | {t_one:.1f} | {t_two:.1f} | {up} | {delta:.2g} |", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=["cache", "devices", "both"], default="both")
    p.add_argument("--steps", type=int, default=8)
    args = p.parse_args()
    if args.part in ("cache", "both"):
        part_cache(args.steps)
    if args.part in ("devices", "both"):
        part_devices(max(2, args.steps // 2))


if __name__ == "__main__":
    main()
