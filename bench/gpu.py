"""One GPU benchmark command: everything issue 32 asks to measure, in at most 8 minutes on one H200-class GPU, with
full-size architectures and seeded random weights (nothing downloaded), printed as one table for bench/RESULTS.md.

Cases, each in its own process (its own peak memory) under its own time budget, within one overall deadline: a case
that cannot run here, or would not finish in what is left, is a row that says why instead of a number.

* ``sd15``: the SD 1.5 stack (motion UNet, depth ControlNet, VAE, CLIP-L; :mod:`sd15_random`) at 512², 16 frames,
  20 steps: a whole Recast render against the stock diffusers pipeline on the same parts (:mod:`compare_stock`);
* ``sd15-fast``: the same stack at the fast tier's defaults (6 steps, guidance 1.5; an LCM LoRA costs nothing extra);
* ``wan13-33`` / ``wan13-81``: the Wan 2.1 VACE 1.3B transformer (the published config) at 480p (832×480), 33 and 81
  frames in one window, through Recast's Wan backend (:meth:`.Backend.predict`: CFG, cache contexts per window and
  branch, the attention dispatcher): ``sdpa`` against ``flash`` and ``sage`` where installed, a ``first_block`` and a
  ``taylorseer`` cache hook, and ``compile`` (diffusers' regional ``compile_repeated_blocks``); each timed over a few
  steps after a warm-up and given as seconds per step and for the preset's 30 steps; ``fast`` is the distilled tier's
  cost: 4 steps, no guidance (a step-distillation LoRA fused into the weights costs nothing extra);
* ``wan14``: one step (both guidance branches) of the 14B transformer at 480p, 81 frames, where memory allows.

Random weights have the real cost of every kernel but not the real model's features: a First-Block cache decides
to skip from how much the first block's output changes, so its skip rate (and speed-up) here is not the trained
model's; TaylorSeer skips on a fixed schedule, so its speed-up is.

    python bench/gpu.py                  # on a GPU: the table (≤ 8 minutes)
    python bench/gpu.py --smoke          # the same code at tiny sizes on the CPU (a test runs it)
    python bench/gpu.py --only wan13-33  # one case
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

#: the published transformer configs (Wan-AI/Wan2.1-VACE-*-diffusers, transformer/config.json)
WAN_1_3B = dict(patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128, in_channels=16, out_channels=16,
                text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=30, cross_attn_norm=True,
                qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024, vace_layers=list(range(0, 30, 2)),
                vace_in_channels=96)
WAN_14B = {**WAN_1_3B, "num_attention_heads": 40, "ffn_dim": 13824, "num_layers": 40,
           "vace_layers": list(range(0, 40, 5))}

#: case → (seconds it may take on the GPU, what it runs); in this order, so the first ones always get their time
CASES = {
    "sd15": 130, "sd15-fast": 50, "wan13-33": 90, "wan13-81": 130, "wan14": 100,
}
DEADLINE = 470  #: seconds for the whole command (8 minutes, less the table)
WAN_CONFIGS = ("sdpa", "flash", "sage", "first_block", "taylorseer", "fast", "compile")  #: compile last: it stays


# --- the cases' children ------------------------------------------------------------------------------------------

def _emit(**row) -> None:
    print("ROW " + json.dumps(row), flush=True)


def _sd15(args, fast: bool) -> None:
    """Recast (and, for the full tier, the stock pipeline) through compare_stock's sides, one process each."""
    frames, size, steps = (4, 64, 2) if args.smoke else (16, 512, 6 if fast else 20)
    config = "tiny" if args.smoke else "sd15"
    guidance = 1.5 if fast else 7.5
    sides = ["recast"] if fast else ["stock", "recast"]
    label = "SD 1.5 fast tier" if fast else "SD 1.5 + AnimateDiff + depth ControlNet"
    for side in sides:
        cmd = [sys.executable, os.path.join(HERE, "compare_stock.py"), "--side", side, "--config", config,
               "--frames", str(frames), "--size", str(size), "--steps", str(steps), "--device", args.device,
               "--precision", "auto", "--guidance", str(guidance)]
        r = subprocess.run(cmd, capture_output=True, text=True, env=_quiet_env())
        if r.returncode != 0:
            _emit(case=label, setting=side, frames=frames, size=f"{size}x{size}", note="failed: " + _last(r.stderr))
            continue
        out = json.loads(r.stdout.strip().splitlines()[-1])
        peak = out.get("peak_cuda_mb", out["peak_rss_mb"]) / 1024
        _emit(case=label, setting=("Recast render" if side == "recast" else "stock diffusers pipeline")
              + f", {steps} steps, guidance {guidance:g}", frames=frames, size=f"{size}x{size}",
              total_s=out["wall_s"], s_per_frame=out["wall_s"] / frames, peak_gb=peak,
              note="whole render: plate, depth, content, sampling, decode, EXRs" if side == "recast"
              else "the pipeline call alone (inputs already in memory)")


def _wan_model(cfg, device, dtype):
    import torch
    from diffusers import WanVACETransformer3DModel

    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # built at its size on the device: a 14B model never exists in fp32
    try:
        with torch.device(device):
            model = WanVACETransformer3DModel(**cfg)
    finally:
        torch.set_default_dtype(previous)
    return model.to(device, dtype).eval()


def _wan(args, which: str) -> None:
    """Recast's Wan backend around a full-size random transformer: per setting, steps timed after a warm-up."""
    import torch

    from recast.core.backends.wan_vace import WanConditions, WanVaceBackend
    from recast.core.errors import JobError
    from recast.core.job import Job
    from recast.core.models.loader import Loader
    from recast.core.models.presets import load_preset
    from recast.core.models.tiny import ensure_tiny

    ensure_tiny()  # the tiny-wan folder stands in for the scheduler config and the loader's preset
    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    big = which == "wan14"
    frames = 81 if which in ("wan13-81", "wan14") else 33
    width, height = 832, 480
    if args.smoke:  # the tiny preset's own transformer config, at a small size
        folder = os.path.join(os.path.dirname(load_preset("tiny").path), "wan", "transformer")
        with open(os.path.join(folder, "config.json")) as fh:
            cfg = {k: v for k, v in json.load(fh).items() if not k.startswith("_")}
        frames, width, height = (9 if frames == 81 else 5), 64, 32
    else:
        cfg = WAN_14B if big else WAN_1_3B
    label = f"Wan 2.1 VACE {'14B' if big else '1.3B'}{' (tiny config)' if args.smoke else ''}"
    size = f"{width}x{height}"
    if big and device.type == "cuda":
        free = torch.cuda.mem_get_info(device)[0]
        if free < 48 * 2**30:
            _emit(case=label, setting="one step", frames=frames, size=size,
                  note=f"skipped: needs ~48 GB free, the GPU has {free / 2**30:.0f} GB")
            return
    began = time.perf_counter()
    model = _wan_model(cfg, device, dtype)
    built = time.perf_counter() - began
    loader = Loader(load_preset("tiny-wan"), args.device)
    loader.built("wan:transformer", lambda: model)  # the backend finds the full-size model where it loads its own
    latent_frames, h, w = (frames - 1) // 4 + 1, height // 8, width // 8
    gen = torch.Generator().manual_seed(0)
    conditions = WanConditions(text=torch.randn(2, 512, cfg["text_dim"], generator=gen),
                               control=torch.randn(96, latent_frames, h, w, generator=gen), reference=None,
                               scale=torch.ones(len(cfg["vace_layers"])))
    configs = ("sdpa",) if big else WAN_CONFIGS
    timed_steps = 1 if big else (2 if args.smoke else 6)
    for name in configs:
        settings = {"attention": name if name in ("sdpa", "flash", "sage") else "auto",
                    "cache": {"first_block": "first_block:0.2", "taylorseer": "taylorseer"}.get(name),
                    "steps": 4 if name == "fast" else 30, "guidance_scale": 1.0 if name == "fast" else 5.0}
        setting = {"sdpa": "sdpa", "flash": "flash-attn", "sage": "SageAttention", "first_block": "sdpa + First-Block "
                   "cache 0.2", "taylorseer": "sdpa + TaylorSeer (interval 5, warm-up 3)", "compile": "sdpa + compile "
                   "(regional)", "fast": "fast tier: 4 steps, no guidance"}[name]
        if big:
            setting = "one step, both guidance branches (sdpa)"
        try:
            job = Job.from_dict({"input": {"pattern": "p/p.####.exr", "frames": f"1-{frames}"},
                                 "output": {"pattern": "o/o.####.exr"}, "prompt": "a street", "model": "tiny-wan",
                                 "device": args.device, "resolution": max(width, height),
                                 "window": {"length": frames, "overlap": 0}, **settings}, tempfile.gettempdir())
            WanVaceBackend.check_job(job)
        except JobError as exc:
            _emit(case=label, setting=setting, frames=frames, size=size, note="skipped: " + str(exc))
            continue
        backend = WanVaceBackend(loader, job)
        warmup = 0.0
        if name == "compile":
            began = time.perf_counter()
            # on the CPU (--smoke) the eager backend: the same call, without minutes of C++ compilation
            model.compile_repeated_blocks(fullgraph=False, **({"backend": "eager"} if args.smoke else {}))
        timesteps = backend.timesteps(settings["steps"], 1.0)
        timesteps = list(timesteps[:1]) * (0 if big else 1) + list(timesteps[:timed_steps])
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        latents = torch.randn(latent_frames, 16, h, w, generator=gen).to(device)
        window = slice(0, latent_frames)
        seconds = 0.0
        with backend.stage("denoise"):
            for k, t in enumerate(timesteps):
                _sync(device)
                t0 = time.perf_counter()
                eps = backend.predict(latents, t, conditions, window)
                latents = latents + 0.0 * eps.to(device)  # the prediction is used: nothing is optimised away
                _sync(device)
                if k == 0 and not big:  # the first step warms kernels (and compiles): not counted
                    warmup = time.perf_counter() - t0 + (t0 - began if name == "compile" else 0.0)
                else:
                    seconds += time.perf_counter() - t0
        per_step = seconds / timed_steps
        total = per_step * settings["steps"]
        peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else _rss_gb()
        note = (f"built in {built:.0f} s; " if name == configs[0] else "") + (
            f"first step {warmup:.1f} s (compiling)" if name == "compile" else
            "random weights: the skip rate is not the trained model's" if name == "first_block" else "")
        _emit(case=label, setting=setting, frames=frames, size=size, steps_timed=timed_steps, s_per_step=per_step,
              total_s=total, s_per_frame=total / frames, peak_gb=peak, steps=settings["steps"], note=note.strip("; "))
    del model, loader


def _sync(device) -> None:
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize(device)


def _rss_gb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _last(text: str) -> str:
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return lines[-1][:200] if lines else "no output"


def _quiet_env() -> dict:
    return {**os.environ, "DIFFUSERS_VERBOSITY": "error", "TRANSFORMERS_VERBOSITY": "error",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def run_case(args) -> None:
    if args.case in ("sd15", "sd15-fast"):
        _sd15(args, args.case == "sd15-fast")
    else:
        _wan(args, args.case)


# --- the command ----------------------------------------------------------------------------------------------------

def _child(case: str, args, timeout: float) -> list[dict]:
    """The case in its own process, killed at ``timeout``; the rows it printed (those before a kill are kept)."""
    cmd = [sys.executable, os.path.abspath(__file__), "--case", case, "--device", args.device,
           *(["--smoke"] if args.smoke else [])]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_quiet_env(),
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=max(1.0, timeout))
        killed = False
    except subprocess.TimeoutExpired:
        import signal

        os.killpg(proc.pid, signal.SIGKILL)  # the case and the processes it started
        out, err = proc.communicate()
        killed = True
    rows = [json.loads(line[4:]) for line in out.splitlines() if line.startswith("ROW ")]
    if killed:
        rows.append({"case": case, "setting": "(the rest)",
                     "note": f"skipped: over its time budget of {timeout:.0f} s"})
    elif proc.returncode != 0:
        rows.append({"case": case, "setting": "(the rest)", "note": "failed: " + _last(err)})
    return rows


def table(rows: list[dict], title: str) -> str:
    def num(row, key, fmt):
        return format(row[key], fmt) if isinstance(row.get(key), (int, float)) else "-"

    out = [title, "", "| case | setting | frames | size | s / step | s for the steps | s / frame | peak GB | note |",
           "|---|---|---:|---|---:|---:|---:|---:|---|"]
    for r in rows:
        out.append(f"| {r.get('case', '')} | {r.get('setting', '')} | {r.get('frames', '-')} | {r.get('size', '-')} | "
                   f"{num(r, 's_per_step', '.3f')} | {num(r, 'total_s', '.1f')} | {num(r, 's_per_frame', '.3f')} | "
                   f"{num(r, 'peak_gb', '.1f')} | {r.get('note', '')} |")
    return "\n".join(out)


def _device_line(device: str) -> str:
    import platform

    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        p = torch.cuda.get_device_properties(torch.device(device))
        name = f"{p.name}, {p.total_memory / 2**30:.0f} GiB"
    else:
        name = f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
    import diffusers

    return f"{name}; torch {torch.__version__}, diffusers {diffusers.__version__}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU: the same code, in seconds")
    p.add_argument("--device", default=None, help="default: cuda (cpu with --smoke)")
    p.add_argument("--only", action="append", choices=list(CASES), help="run only this case (repeatable)")
    p.add_argument("--budget", type=float, default=DEADLINE, help=f"seconds for all cases (default {DEADLINE})")
    p.add_argument("--case", choices=list(CASES), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.device = args.device or ("cpu" if args.smoke else "cuda")
    if args.case:
        run_case(args)
        return 0
    if not args.smoke and args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            print("bench/gpu.py: no CUDA GPU here; run it on a GPU machine, or `python bench/gpu.py --smoke`",
                  file=sys.stderr)
            return 1
    began = time.monotonic()
    rows = []
    for case in args.only or list(CASES):
        left = args.budget - (time.monotonic() - began)
        budget = left if args.smoke else min(CASES[case], left)
        if budget < 10:
            rows.append({"case": case, "note": "skipped: the command's 8 minutes are spent"})
            continue
        rows.extend(_child(case, args, budget))
    spent = time.monotonic() - began
    title = (f"### bench/gpu.py{' --smoke' if args.smoke else ''}: {_device_line(args.device)}; "
             f"{spent:.0f} s in all\n\n's for the steps': SD 1.5, the whole run; Wan, s / step × the setting's steps "
             "(30; the fast tier 4) of the denoising loop alone (both guidance branches, one window)")
    print(table(rows, title))
    return 0


if __name__ == "__main__":
    sys.exit(main())
