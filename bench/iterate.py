"""The artist's loop: a re-render with another prompt through the desk service vs. a cold ``recast render``, four
prompt variants in one request vs. one cold render, and when the first live preview arrives.

Each way runs as its user runs it: a new ``python -m recast.core`` process (imports included), timed from its
start to its exit. The depth is cached before the clock for every way (the same output folder's
``recast_cache``), and every run uses a prompt no earlier run used, so each one encodes its prompt. Runs
alternate (cold, desk, variants, …) and the table shows medians with their spread (max − min).

    python bench/iterate.py                         # tiny, 16 frames, 128 px, 4 steps, 3 runs of each
    python bench/iterate.py --runs 5 --model default --device cuda --size 512 --steps 20
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

RECAST = [sys.executable, "-m", "recast.core"]


def _run(args: list[str], env: dict) -> tuple[float, list[tuple[float, dict]]]:
    """Wall seconds of one CLI process, and its events with their arrival times (seconds from its start)."""
    began = time.perf_counter()
    proc = subprocess.Popen(RECAST + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen = []
    for line in proc.stdout:
        try:
            seen.append((time.perf_counter() - began, json.loads(line)))
        except ValueError:
            pass
    err = proc.stderr.read()
    if proc.wait() != 0:
        sys.exit(f"iterate.py: {' '.join(args[:3])} failed: {err.strip().splitlines()[-1:]}")
    return time.perf_counter() - began, seen


def _stats(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), max(values) - min(values)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--size", type=int, default=128, help="the plate's and the model's long side")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--model", default="tiny")
    p.add_argument("--device", default="cpu")
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args(argv)

    from recast.core.job import SCHEMA, Job
    from recast.core.shot.synthetic import write_synthetic_plate

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "RECAST_DESK": os.path.join(tmp, "desk"), "PYTHONUNBUFFERED": "1"}
        write_synthetic_plate(os.path.join(tmp, "plate", "b.####.exr"), 1001, args.frames, width=args.size,
                              height=args.size * 5 // 8)
        job = Job.from_dict({"schema": SCHEMA, "input": {"pattern": "plate/b.####.exr",
                                                         "frames": f"1001-{1000 + args.frames}"},
                             "output": {"pattern": "render/b.####.exr"}, "prompt": "a claymation street",
                             "model": args.model, "device": args.device, "resolution": args.size,
                             "steps": args.steps, "window": {"length": 8, "overlap": 2}}, tmp)
        path = os.path.join(tmp, "job.json")
        job.save(path)
        prompts = (f"a street made of material number {n}" for n in range(10_000))
        base = ["--job", path, "--json"]
        _run(["render", *base], env)  # depth cached for every way below
        _run(["desk", "start"], env)
        _run(["render", *base, "--desk", "--prompt", next(prompts)], env)  # the desk loads its stack once
        cold, desk, variants, variants_desk, preview_at, window_at = [], [], [], [], [], []
        try:
            for _ in range(args.runs):
                cold.append(_run(["render", *base, "--prompt", next(prompts)], env)[0])
                wall, seen = _run(["render", *base, "--desk", "--live-previews", "--prompt", next(prompts)], env)
                desk.append(wall)
                windows = next(e["windows"] for _, e in seen if e["event"] == "start")
                preview_at.append(next(t for t, e in seen if e["event"] == "preview"))
                # the first window is finished after its last step: denoise progress (steps − 1)·windows + 1
                window_at.append(next(t for t, e in seen if e["event"] == "progress" and e["stage"] == "denoise"
                                      and e["done"] == (e["steps"] - 1) * windows + 1))
                four = [a for _ in range(4) for a in ("--prompt", next(prompts))]
                variants.append(_run(["variants", *base, *four], env)[0])
                variants_desk.append(_run(["variants", *base, "--desk", *four], env)[0])
        finally:
            subprocess.run(RECAST + ["desk", "stop"], env=env, capture_output=True)

    c, d = _stats(cold), _stats(desk)
    v, vd = _stats(variants), _stats(variants_desk)
    pa, wa = _stats(preview_at), _stats(window_at)
    print(f"### {args.model}: {args.frames} frames, {args.size} px, {args.steps} steps, {args.device}; "
          f"medians of {args.runs} alternating runs (± spread)\n")
    print("| way | wall s | ÷ cold render |")
    print("|---|---:|---:|")
    print(f"| cold `recast render`, another prompt | {c[0]:.2f} (±{c[1]:.2f}) | 1.00 |")
    print(f"| `recast render --desk`, another prompt (warm service) | {d[0]:.2f} (±{d[1]:.2f}) | {d[0] / c[0]:.2f} |")
    print(f"| `recast variants`, 4 prompts, one cold process | {v[0]:.2f} (±{v[1]:.2f}) | {v[0] / c[0]:.2f} |")
    print(f"| `recast variants --desk`, 4 prompts (warm service) | {vd[0]:.2f} (±{vd[1]:.2f}) | "
          f"{vd[0] / c[0]:.2f} |")
    print(f"\nfirst `preview` event {pa[0]:.2f} s (±{pa[1]:.2f}) after the desk render's start; its first window "
          f"finished at {wa[0]:.2f} s (±{wa[1]:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
