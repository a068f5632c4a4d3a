"""Recast's renderer against diffusers' stock AnimateDiffVideoToVideoControlNetPipeline.

Same parts, same inputs, one context window covering the shot, ω_t = 1 (where both do the same
maths): the stock pipeline gets Recast's initial latents, text embeddings and depth conditioning.
Each side runs in its own process so that peak memory (RSS; on CUDA also the allocator's
peak) is its own. Recast is timed as a whole ``render()`` — reading the plate, depth, content,
sampling, decoding, writing EXRs — and broken down by part; the stock pipeline is timed around
its call alone (it starts from tensors already in memory and returns arrays).

    python bench/compare_stock.py                       # tiny preset and full-size SD 1.5 (random weights)
    python bench/compare_stock.py --config tiny --frames 16 --size 128 --steps 4
    python bench/compare_stock.py --config sd15 --frames 8 --size 192 --steps 2 --device cuda

Full size builds the SD 1.5 architecture (UNet, motion adapter with mid block, depth ControlNet,
VAE, CLIP-L text encoder) from configs with seeded random weights: the real cost, no download.
On the 2-core CPU machine a sd15 run at the defaults takes several minutes per side.
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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))  # tests/stock.py: the stock diffusers pipeline


def _job(folder: str, args):
    from recast.core.shot.synthetic import write_synthetic_plate
    from recast.core.job import SCHEMA, Job

    write_synthetic_plate(os.path.join(folder, "plate", "b.####.exr"), 1001, args.frames, width=args.size,
                          height=args.size)
    return Job.from_dict({
        "schema": SCHEMA, "input": {"pattern": "plate/b.####.exr", "frames": f"1001-{1000 + args.frames}",
                                    "colorspace": "ACEScg"},
        "output": {"pattern": "render/b.####.exr"}, "prompt": "a claymation street at dusk",
        "model": "tiny", "device": args.device, "resolution": args.size, "steps": args.steps,
        "temporal_guidance": 1.0, "guidance_scale": getattr(args, "guidance", 7.5), "strength": 1.0,
        "precision": args.precision,
        "memory": "fast", "window": {"length": min(args.frames, 32), "overlap": 0}}, folder)


def _loader(args):
    from recast.core.models.loader import Loader
    from recast.core.models.presets import load_preset

    preset = load_preset("tiny")
    if args.config == "tiny":
        return Loader(preset, args.device, args.precision)
    from sd15_random import FullSizeLoader

    return FullSizeLoader(preset, args.device, args.precision)


def _preloaded(args):
    """The loader with every diffusion part loaded (tiny) or built (sd15) before either clock starts."""
    loader = _loader(args)
    for part in (loader.unet, loader.motion_adapter, loader.controlnet, loader.vae, loader.text_encoder):
        part()
    return loader


def _peaks(device) -> dict:
    out = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if device.type == "cuda":
        import torch

        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return out


def run_recast(args) -> dict:
    from recast.core.progress import Reporter
    from recast.core.pipeline.render import render

    folder = tempfile.mkdtemp(prefix="recast-bench-")
    job = _job(folder, args)
    loader = _preloaded(args)
    started = time.perf_counter()
    result = render(job, reporter=Reporter(stream=open(os.devnull, "w")), loader=loader)
    wall = time.perf_counter() - started
    return {"side": "recast", "wall_s": wall, "timing": result.timing, **_peaks(loader.device)}


def run_stock(args) -> dict:
    import torch

    from stock import stock_frames, stock_pipeline
    from recast.core.backends.clip_content import encode_content
    from recast.core.pipeline.shot_depth import apply_structure_level, shot_depth
    from recast.core.shot.model_frames import ModelFrames
    from recast.core.progress import CancelFlag, Reporter
    from recast.core.pipeline.render import check_inputs
    from recast.core.pipeline.sampling import frame_noise

    folder = tempfile.mkdtemp(prefix="recast-bench-")
    job = _job(folder, args)
    loader = _preloaded(args)
    quiet = Reporter(stream=open(os.devnull, "w"))
    checked = check_inputs(job)
    frames = list(checked.plate.frames)
    size = (args.size, args.size)
    content = encode_content(job, loader, None)
    depth = shot_depth(job, checked.plate, ModelFrames(checked.plate, checked.colorspace, size, quiet, []), size,
                       lambda: loader, quiet, CancelFlag())
    cond = torch.stack([torch.from_numpy(apply_structure_level(depth.frames[f], job.structure_level))
                        for f in frames])[:, None].half().float()
    latents = frame_noise(frames, job.seed, (4, args.size // 8, args.size // 8))
    started = time.perf_counter()  # building the motion UNet counts on both sides
    pipe = stock_pipeline(loader)
    timing = {"load": time.perf_counter() - started, "unet": 0.0, "controlnet": 0.0, "vae": 0.0}
    _time_calls(pipe.unet, "forward", timing, "unet", loader.device)
    _time_calls(pipe.controlnet, "forward", timing, "controlnet", loader.device)
    _time_calls(pipe.vae, "decode", timing, "vae", loader.device)
    stock_frames(pipe, latents, torch.cat([content.negative_embeds, content.prompt_embeds]), None, cond,
                 steps=job.steps, guidance=job.guidance_scale, structure_weight=job.structure_weight)
    if loader.device.type == "cuda":
        torch.cuda.synchronize(loader.device)
    wall = time.perf_counter() - started
    return {"side": "stock", "wall_s": wall, "timing": timing, **_peaks(loader.device)}


def _time_calls(module, name, timing, key, device):
    """Accumulate the seconds spent in ``module.name`` (synchronised on CUDA)."""
    import torch

    inner = getattr(module, name)

    def timed(*args, **kwargs):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            timing[key] += time.perf_counter() - start
    setattr(module, name, timed)


def _child(args, side: str) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--side", side, "--config", args.config,
           "--frames", str(args.frames), "--size", str(args.size), "--steps", str(args.steps),
           "--device", args.device, "--precision", args.precision, "--guidance", str(args.guidance)]
    env = {**os.environ, "DIFFUSERS_VERBOSITY": "error", "TRANSFORMERS_VERBOSITY": "error",
           "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"{side} run failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _table(args, recast: dict, stock: dict) -> str:
    cfg = f"{args.config}: {args.frames} frames, {args.size}x{args.size}, {args.steps} steps, {args.device}/{args.precision}"
    rows = [f"### {cfg}", "", "| | Recast | stock | Recast / stock |", "|---|---:|---:|---:|",
            f"| wall time (s) | {recast['wall_s']:.2f} | {stock['wall_s']:.2f} | {recast['wall_s'] / stock['wall_s']:.2f} |",
            f"| peak RSS (MB) | {recast['peak_rss_mb']:.0f} | {stock['peak_rss_mb']:.0f} | "
            f"{recast['peak_rss_mb'] / stock['peak_rss_mb']:.2f} |"]
    if "peak_cuda_mb" in recast:
        rows.append(f"| peak CUDA memory (MB) | {recast['peak_cuda_mb']:.0f} | {stock['peak_cuda_mb']:.0f} | "
                    f"{recast['peak_cuda_mb'] / stock['peak_cuda_mb']:.2f} |")
    t = recast["timing"]
    sampler = recast["wall_s"] - t.get("conditions", 0.0) - t.get("write", 0.0)
    rows.insert(5, f"| sampling + decode (s), what the stock call covers | {sampler:.2f} | {stock['wall_s']:.2f} | "
                   f"{sampler / stock['wall_s']:.2f} |")
    other = recast["wall_s"] - sum(t.get(k, 0.0) for k in ("conditions", "load", "unet", "controlnet", "vae", "write"))
    st = stock["timing"]
    rows += ["", "Where the time goes (s):", "", "| | load | UNet | ControlNet | VAE | depth + content | EXR I/O | other |",
             "|---|---:|---:|---:|---:|---:|---:|---:|",
             f"| Recast | {t.get('load', 0):.2f} | {t.get('unet', 0):.2f} | {t.get('controlnet', 0):.2f} | {t.get('vae', 0):.2f} | "
             f"{t.get('conditions', 0):.2f} | {t.get('write', 0):.2f} | {other:.2f} |",
             f"| stock | {st['load']:.2f} | {st['unet']:.2f} | {st['controlnet']:.2f} | {st['vae']:.2f} | (before the clock) | - | "
             f"{stock['wall_s'] - sum(st.values()):.2f} |", ""]
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", choices=["tiny", "sd15", "both"], default="both")
    p.add_argument("--frames", type=int, default=None, help="default: 16 (tiny), 8 (sd15)")
    p.add_argument("--size", type=int, default=None, help="square plate and model size; default 128 (tiny), 192 (sd15)")
    p.add_argument("--steps", type=int, default=None, help="default: 4 (tiny), 2 (sd15)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="auto")
    p.add_argument("--guidance", type=float, default=7.5, help="content guidance (the fast tier: 1.5)")
    p.add_argument("--side", choices=["recast", "stock"], help=argparse.SUPPRESS)
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.side:
        print(json.dumps((run_recast if args.side == "recast" else run_stock)(args)))
        return
    configs = ["tiny", "sd15"] if args.config == "both" else [args.config]
    defaults = {"tiny": (16, 128, 4), "sd15": (8, 192, 2)}
    for config in configs:
        a = argparse.Namespace(**vars(args))
        a.config = config
        a.frames, a.size, a.steps = (given or d for given, d in zip((args.frames, args.size, args.steps),
                                                                    defaults[config]))
        # stock first, then Recast: neither gains from a warm page cache the other paid for
        stock = _child(a, "stock")
        recast = _child(a, "recast")
        print(_table(a, recast, stock), flush=True)


if __name__ == "__main__":
    main()
