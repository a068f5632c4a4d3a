"""Long shots: Recast end to end against diffusers' stock pipeline with FreeNoise; and the fast tier against the
default one.

(a) ``--compare stock``: a 48- and a 96-frame shot (tiny preset, 128 px, 4 steps, windows of 16 frames sliding by
12). Recast is ``recast render`` in its own process. "stock" is, in its own process, what a pipeline TD would
write around diffusers' ``AnimateDiffVideoToVideoControlNetPipeline`` with ``enable_free_noise(context_length=16,
context_stride=12)`` on the same parts: read the plate's EXRs and show them to the model as Recast does, estimate
depth with the same estimator (batched), run the pipeline from noise, write the frames as float EXRs. Both walls
run from process start to exit (imports and loading included); peak RSS of each process.

(b) ``--compare tiers``: the same shot through ``tiny-fast`` (AnimateLCM wiring: its preset's 4 steps at guidance
1.5, one UNet pass a window) and ``tiny`` at the default tier's 20 steps and guidance 7.5 (two passes), both as
``recast render``; wall and UNet calls (windows × steps × passes).

Each pair runs alternately ``--runs`` times; medians and the spread (max - min).

    python bench/long_shot.py [--compare stock|tiers|both] [--frames 48,96] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from tables import WITH_RSS, row

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE, WINDOW, OVERLAP = 128, 16, 4


def _plate(folder: str, frames: int) -> str:
    from recast.core.shot.synthetic import write_synthetic_plate

    pattern = os.path.join(folder, "plate", "p.####.exr")
    write_synthetic_plate(pattern, 1001, frames, width=SIZE, height=SIZE * 9 // 16)
    return pattern


def _job(folder: str, frames: int, model: str, tag: str, steps=None, guidance=None) -> str:
    data = {"input": {"pattern": "plate/p.####.exr", "frames": f"1001-{1000 + frames}", "colorspace": "ACEScg"},
            "output": {"pattern": f"{tag}/r.####.exr"}, "prompt": "a claymation street at dusk", "model": model,
            "device": "cpu", "resolution": SIZE, "window": {"length": WINDOW, "overlap": OVERLAP}, "seed": 7}
    if steps is not None:
        data.update(steps=steps, guidance_scale=guidance)
    path = os.path.join(folder, f"{tag}.json")
    with open(path, "w") as fh:
        json.dump(data, fh)
    return path


def run_recast(job: str) -> dict:
    import shutil

    shutil.rmtree(os.path.join(os.path.dirname(job), os.path.splitext(os.path.basename(job))[0]), ignore_errors=True)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", WITH_RSS, "render", "--job", job, "--json"], capture_output=True,
                          text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"recast render failed: {done.stderr.strip().splitlines()[-2:]}")
    ev = [json.loads(line) for line in done.stdout.splitlines()]
    start = ev[0]
    return {"wall": wall, "rss": float(done.stderr.strip().splitlines()[-1].split()[-1]), "steps": start["steps"],
            "windows": start["windows"]}


def stock_side(args) -> None:
    """The stock pipeline with FreeNoise, in this (child) process; prints its figures as JSON."""
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
    import numpy as np
    import torch
    from stock import stock_pipeline

    from recast.core.io.exrio import Frame, Header, Window, write_frame
    from recast.core.io.frames import SequencePattern
    from recast.core.models.loader import Loader
    from recast.core.models.presets import load_preset
    from recast.core.pipeline.depth import estimate_disparity, normalise_shot
    from recast.core.shot.display import display_rgb
    from recast.core.shot.model_frames import ModelFrames
    from recast.core.shot.plate import scan_plate

    plate = scan_plate(SequencePattern.parse(args.plate), None)
    w, h = plate.canvas.width, plate.canvas.height
    src = ModelFrames(plate, "ACEScg", (w, h), None, [], plate.layers[0], "filmic", plate.canvas)
    frames = [np.clip(display_rgb(src.canvas_rgb(f), "ACEScg", "filmic"), 0, 1) for f in plate.frames]
    loader = Loader(load_preset("tiny"), "cpu")
    model, processor = loader.depth_estimator()
    depth, _ = normalise_shot(estimate_disparity(frames, model, processor, 4))
    pipe = stock_pipeline(loader)
    pipe.enable_free_noise(context_length=WINDOW, context_stride=WINDOW - OVERLAP)
    out = pipe(video=frames, prompt="a claymation street at dusk", conditioning_frames=[
        np.repeat(d[..., None], 3, axis=2) for d in depth], strength=1.0, num_inference_steps=args.steps,
        guidance_scale=7.5, height=h, width=w, output_type="np", decode_chunk_size=8,
        generator=torch.Generator().manual_seed(7)).frames[0]
    seq = SequencePattern.parse(os.path.join(os.path.dirname(os.path.dirname(args.plate)), "stock", "s.####.exr"))
    os.makedirs(seq.folder, exist_ok=True)
    header = Header(path="", channels=("R", "G", "B"), formats=("float",) * 3, data_window=Window(0, 0, w, h),
                    display_window=Window(0, 0, w, h))
    for f, img in zip(plate.frames, out):
        write_frame(seq.path(f), Frame(header, np.asarray(img, np.float32)))
    print(json.dumps({"rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def run_stock(args, plate: str) -> dict:
    started = time.monotonic()
    done = subprocess.run([sys.executable, __file__, "--side", "stock", "--plate", plate, "--steps", str(args.steps)],
                          capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"stock side failed: {done.stderr.strip().splitlines()[-3:]}")
    return {"wall": wall, "rss": json.loads(done.stdout.strip().splitlines()[-1])["rss"]}




def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--compare", choices=["stock", "tiers", "both"], default="both")
    p.add_argument("--frames", default="48,96")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--side", choices=["stock"], help=argparse.SUPPRESS)
    p.add_argument("--plate", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.side == "stock":
        stock_side(args)
        return
    from recast.core.models.tiny import ensure_tiny

    ensure_tiny()
    for frames in (int(v) for v in args.frames.split(",")):
        folder = tempfile.mkdtemp(prefix="recast-long-")
        plate = _plate(folder, frames)
        if args.compare in ("stock", "both"):
            job = _job(folder, frames, "tiny", "recast", args.steps, 7.5)
            recast, stock = [], []
            for _ in range(args.runs):  # alternating: drift on a shared machine hits both sides alike
                recast.append(run_recast(job))
                stock.append(run_stock(args, plate))
            print(f"\n### {frames} frames, {SIZE} px, {args.steps} steps, windows {WINDOW}/{OVERLAP}: Recast vs stock "
                  f"FreeNoise (context {WINDOW}, stride {WINDOW - OVERLAP}), median of {args.runs} alternating runs\n")
            print("| | Recast | stock + FreeNoise | Recast / stock |\n|---|---:|---:|---:|")
            print(row("process wall time (s)", recast, stock, "wall", ".2f"))
            print(row("peak RSS (MB)", recast, stock, "rss", ".0f"))
        if args.compare in ("tiers", "both"):
            fast_job, slow_job = _job(folder, frames, "tiny-fast", "fast"), _job(folder, frames, "tiny", "slow", 20, 7.5)
            fast, slow = [], []
            for _ in range(args.runs):
                fast.append(run_recast(fast_job))
                slow.append(run_recast(slow_job))
            # UNet passes per window and step: 2 with guidance ≠ 1 (classifier-free), 1 at guidance 1
            for r, g in [(r, 1.5) for r in fast] + [(r, 7.5) for r in slow]:
                r["unet"] = r["windows"] * r["steps"] * (2 if g != 1.0 else 1)
            print(f"\n### {frames} frames, {SIZE} px: the fast tier (tiny-fast, its preset's {fast[0]['steps']} steps, "
                  f"guidance 1.5) vs the default tier (tiny, 20 steps, guidance 7.5), median of {args.runs} "
                  "alternating runs\n")
            print("| | fast | default | fast / default |\n|---|---:|---:|---:|")
            print(row("process wall time (s)", fast, slow, "wall", ".2f"))
            print(row("UNet calls (windows × steps × guidance passes)", fast, slow, "unet", ".0f"))


if __name__ == "__main__":
    main()
