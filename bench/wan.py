"""Wan 2.1 VACE: Recast's wan-vace backend against diffusers' stock WanVACEPipeline; and the cost of one step of the
1.3B-size transformer on this machine.

(a) ``--part stock``: the tiny-wan preset, a 17-frame shot at 128 px, 4 steps, one context window over the shot.
Recast is ``recast render`` in its own process; "stock" is, in its own process, what a pipeline TD would write
around ``WanVACEPipeline`` on the same parts: read the plate's EXRs and show them to the model as Recast does,
estimate depth with the same estimator, run the pipeline with that depth as the control video, write float EXRs.
Walls from process start to exit (imports and loading included), peak RSS of each process; alternately, ``--runs``
times; medians (± max − min).

(b) ``--part transformer``: ``WanVACETransformer3DModel`` with the published Wan2.1-VACE-1.3B configuration (30
layers, 12 heads of 128, FFN 8960, VACE blocks at every other layer) and seeded random weights, one forward pass
(one guidance branch) on a 480p latent (832x480 → 104x60) of ``--frames`` frames, fp32 on the CPU: seconds and
peak RSS.

(c) ``--part tiers``: the tiny Wan presets at each one's own defaults (``tiny-wan``: 30 steps at guidance 5, as the
real Wan presets; ``tiny-wan-fast``: the distillation LoRA, 4 steps without guidance; ``tiny-wan22``: two experts, 8
steps at guidance 4), the 17-frame shot at 128 px in one window, in one process: transformer passes and seconds
(forward hooks on the Wan transformer: what the tiers change) and render wall, medians of ``--runs`` alternating runs
after one warm-up render.

    python bench/wan.py [--part stock|transformer|tiers|both] [--runs 3] [--frames 5]
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

FRAMES, SIZE, STEPS = 17, 128, 4


def _setup(folder: str) -> str:
    from recast.core.shot.synthetic import write_synthetic_plate

    write_synthetic_plate(os.path.join(folder, "plate", "p.####.exr"), 1001, FRAMES, width=SIZE, height=SIZE * 9 // 16)
    job = os.path.join(folder, "job.json")
    with open(job, "w") as fh:
        json.dump({"input": {"pattern": "plate/p.####.exr", "frames": f"1001-{1000 + FRAMES}", "colorspace": "ACEScg"},
                   "output": {"pattern": "recast/r.####.exr"}, "prompt": "a claymation street at dusk",
                   "model": "tiny-wan", "device": "cpu", "resolution": SIZE, "steps": STEPS, "guidance_scale": 5.0,
                   "window": {"length": FRAMES, "overlap": 4}}, fh)
    return job


def run_recast(job: str) -> dict:
    import shutil

    shutil.rmtree(os.path.join(os.path.dirname(job), "recast"), ignore_errors=True)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", WITH_RSS, "render", "--job", job, "--json"], capture_output=True,
                          text=True)
    if done.returncode != 0:
        sys.exit(f"recast render failed: {done.stderr.strip().splitlines()[-2:]}")
    return {"wall": time.monotonic() - started, "rss": float(done.stderr.strip().splitlines()[-1].split()[-1])}


def stock_side(args) -> None:
    import numpy as np
    import torch
    from diffusers import WanVACEPipeline

    from recast.core.io.exrio import Frame, Header, Window, write_frame
    from recast.core.io.frames import SequencePattern
    from recast.core.models.loader import Loader
    from recast.core.models.presets import load_preset
    from recast.core.pipeline.depth import estimate_disparity, normalise_shot
    from recast.core.shot.model_frames import ModelFrames
    from recast.core.shot.plate import scan_plate

    plate = scan_plate(SequencePattern.parse(args.plate), None)
    w, h = plate.canvas.width, plate.canvas.height // 16 * 16
    src = ModelFrames(plate, "ACEScg", (w, h), None, [], plate.layers[0], "filmic", plate.canvas)
    frames = [src.get(f) for f in plate.frames]
    preset = load_preset("tiny-wan")
    model, processor = Loader(preset, "cpu").depth_estimator()
    depth, _ = normalise_shot(estimate_disparity(frames, model, processor, 4))
    folder = os.path.join(os.path.dirname(load_preset("tiny").path), "wan")
    pipe = WanVACEPipeline.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    out = pipe(video=[np.stack([np.repeat(d[..., None], 3, axis=2) for d in depth])], prompt="a claymation street at dusk",
               height=h, width=w, num_frames=len(frames), num_inference_steps=STEPS, guidance_scale=5.0,
               output_type="np", generator=torch.Generator().manual_seed(7)).frames[0]
    seq = SequencePattern.parse(os.path.join(os.path.dirname(os.path.dirname(args.plate)), "stock", "s.####.exr"))
    os.makedirs(seq.folder, exist_ok=True)
    header = Header(path="", channels=("R", "G", "B"), formats=("float",) * 3, data_window=Window(0, 0, w, h),
                    display_window=Window(0, 0, w, h))
    for f, img in zip(plate.frames, out):
        write_frame(seq.path(f), Frame(header, np.asarray(img, np.float32)))
    print(json.dumps({"rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def run_stock(plate: str) -> dict:
    started = time.monotonic()
    done = subprocess.run([sys.executable, __file__, "--side", "stock", "--plate", plate], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"stock side failed: {done.stderr.strip().splitlines()[-3:]}")
    return {"wall": time.monotonic() - started, "rss": json.loads(done.stdout.strip().splitlines()[-1])["rss"]}


def transformer_side(args) -> None:
    import torch
    from diffusers import WanVACETransformer3DModel

    torch.manual_seed(0)
    model = WanVACETransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128, in_channels=16, out_channels=16,
        text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=30, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024, vace_layers=list(range(0, 30, 2)),
        vace_in_channels=96).eval()
    params = sum(p.numel() for p in model.parameters())
    latent_frames = (args.frames - 1) // 4 + 1
    x = torch.randn(1, 16, latent_frames, 60, 104)
    control = torch.randn(1, 96, latent_frames, 60, 104)
    text = torch.randn(1, 512, 4096)
    started = time.monotonic()
    with torch.inference_mode():
        model(hidden_states=x, timestep=torch.tensor([500]), encoder_hidden_states=text, control_hidden_states=control,
              control_hidden_states_scale=torch.ones(15), return_dict=False)
    print(json.dumps({"seconds": time.monotonic() - started, "params": params, "tokens": latent_frames * 30 * 52,
                      "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


TIERS = ("tiny-wan", "tiny-wan-fast", "tiny-wan22")


def measure_tiers(folder: str, runs: int) -> dict:
    """``{preset: [{"passes", "transformer", "wall"}, …]}``: each tiny Wan preset rendered ``runs`` times (alternately,
    after a warm-up) at its own steps and guidance, its transformer passes counted and timed by forward hooks."""
    import shutil

    import torch
    from diffusers import WanVACETransformer3DModel

    from recast.core.job import Job
    from recast.core.pipeline.render import render
    from recast.core.progress.events import Reporter

    _setup(folder)
    with open(os.path.join(folder, "job.json")) as fh:
        base = {k: v for k, v in json.load(fh).items() if k not in ("steps", "guidance_scale")}
    clock = {"passes": 0, "seconds": 0.0, "began": 0.0}

    def pre(module, _args):
        if isinstance(module, WanVACETransformer3DModel):
            clock["began"] = time.perf_counter()

    def post(module, _args, _out):
        if isinstance(module, WanVACETransformer3DModel):
            clock["passes"] += 1
            clock["seconds"] += time.perf_counter() - clock["began"]

    hooks = [torch.nn.modules.module.register_module_forward_pre_hook(pre),
             torch.nn.modules.module.register_module_forward_hook(post)]
    out = {name: [] for name in TIERS}
    quiet = open(os.devnull, "w")
    try:
        for i in range(runs + 1):
            for name in TIERS:
                shutil.rmtree(os.path.join(folder, "recast"), ignore_errors=True)
                clock.update(passes=0, seconds=0.0)
                began = time.perf_counter()
                render(Job.from_dict({**base, "model": name}, folder), reporter=Reporter(quiet))
                if i:  # the first round warms up (imports, first loads, allocator)
                    out[name].append({"passes": clock["passes"], "transformer": clock["seconds"],
                                      "wall": time.perf_counter() - began})
    finally:
        for hook in hooks:
            hook.remove()
        quiet.close()
    return out


def print_tiers(results: dict) -> None:
    import statistics

    base = statistics.median(r["transformer"] for r in results["tiny-wan"])
    print(f"\n### the tiny Wan tiers at their own defaults: {FRAMES} frames at {SIZE} px, one window, median of "
          f"{len(results['tiny-wan'])} alternating runs (± spread)\n")
    print("| preset | transformer passes | transformer s | × tiny-wan's | render wall s |\n|---|---:|---:|---:|---:|")
    for name, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in ("passes", "transformer", "wall")}
        spread = max(r["transformer"] for r in runs) - min(r["transformer"] for r in runs)
        print(f"| {name} | {med['passes']:.0f} | {med['transformer']:.3f} (±{spread:.3f}) | "
              f"{med['transformer'] / base:.3f} | {med['wall']:.2f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=["stock", "transformer", "tiers", "both"], default="both")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--frames", type=int, default=5, help="(b): frames of the 480p latent (1 + 4k)")
    p.add_argument("--side", choices=["stock", "transformer"], help=argparse.SUPPRESS)
    p.add_argument("--plate", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.side:
        {"stock": stock_side, "transformer": transformer_side}[args.side](args)
        return
    if args.part in ("stock", "both"):
        from recast.core.models.tiny import ensure_tiny

        ensure_tiny()
        folder = tempfile.mkdtemp(prefix="recast-wan-")
        job = _setup(folder)
        plate = os.path.join(folder, "plate", "p.####.exr")
        recast, stock = [], []
        for _ in range(args.runs):
            recast.append(run_recast(job))
            stock.append(run_stock(plate))
        print(f"\n### tiny-wan: {FRAMES} frames at {SIZE} px, {STEPS} steps, one window, median of {args.runs} "
              "alternating runs (± spread)\n")
        print("| | Recast | stock WanVACEPipeline | Recast / stock |\n|---|---:|---:|---:|")
        print(row("process wall time (s)", recast, stock, "wall", ".2f"))
        print(row("peak RSS (MB)", recast, stock, "rss", ".0f"))
    if args.part == "tiers":
        from recast.core.models.tiny import ensure_tiny

        ensure_tiny()
        print_tiers(measure_tiers(tempfile.mkdtemp(prefix="recast-wan-tiers-"), args.runs))
    if args.part in ("transformer", "both"):
        done = subprocess.run([sys.executable, __file__, "--side", "transformer", "--frames", str(args.frames)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"transformer side failed: {done.stderr.strip().splitlines()[-3:]}")
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"\n### Wan2.1-VACE-1.3B-size transformer ({r['params'] / 1e9:.2f} B parameters, random weights), one "
              f"forward pass, {args.frames} frames at 480p ({r['tokens']} tokens), fp32, CPU\n")
        print(f"| seconds | peak RSS (MB) |\n|---:|---:|\n| {r['seconds']:.1f} | {r['rss']:.0f} |")


if __name__ == "__main__":
    main()
