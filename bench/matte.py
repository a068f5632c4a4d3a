"""Matte: seconds per frame and peak memory of `recast matte` against transformers' own SAM 2.1 video session.

"stock" is transformers' ``Sam2VideoInferenceSession`` holding the whole prepared video and every frame's outputs,
driven by its ``propagate_in_video_iterator`` (forward, then backward) on the same prepared frames, prompts and
model; "Recast" is ``recast matte`` end to end (plate read, colour, preparation on demand, the bounded session,
half-float EXR writes). Each side runs in its own process, alternately, ``--runs`` times; medians and the spread
(max - min). Both clocks start after the imports (transformers' SAM 2 module takes ~5 s to import here) and
include loading the model. Configs: ``tiny`` (the tiny preset's SAM 2.1, 128 px input) and ``large`` (the full-size
``sam2.1-hiera-large`` architecture, 1024 px input, with seeded random weights saved once under
``$RECAST_CACHE/bench``: nothing is downloaded).

    python bench/matte.py [--config tiny|large|both] [--runs 3] [--frames N] [--device cpu]
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

from tables import row

DEFAULTS = {"tiny": {"frames": 48, "size": (256, 144)}, "large": {"frames": 4, "size": (512, 288)}}
CLICK = "{f}:{x},{y}"


def _plate(folder: str, frames: int, size) -> str:
    from recast.core.shot.synthetic import write_synthetic_plate

    pattern = os.path.join(folder, "plate", "p.####.exr")
    write_synthetic_plate(pattern, 1001, frames, width=size[0], height=size[1])
    return pattern


def _large_preset() -> str:
    """A preset whose matte part is SAM 2.1 hiera-large's architecture (published config values) with seeded random
    weights, built once; the other parts are the tiny preset's."""
    from recast.core.io.cache import cache_root
    from recast.core.models.tiny import ensure_tiny

    tiny = os.path.dirname(ensure_tiny())
    root = os.path.join(cache_root(), "bench", "sam2.1-large-random")
    preset = os.path.join(root, "preset.toml")
    if not os.path.isfile(preset):
        import torch
        from transformers import Sam2VideoConfig, Sam2VideoModel
        from transformers.models.sam2.configuration_sam2 import Sam2HieraDetConfig, Sam2VisionConfig

        backbone = Sam2HieraDetConfig(hidden_size=144, num_attention_heads=2, blocks_per_stage=[2, 6, 36, 4],
                                      embed_dim_per_stage=[144, 288, 576, 1152],
                                      num_attention_heads_per_stage=[2, 4, 8, 16], window_size_per_stage=[8, 4, 16, 8],
                                      global_attention_blocks=[23, 33, 43])
        config = Sam2VideoConfig(vision_config=Sam2VisionConfig(backbone_config=backbone,
                                                                backbone_channel_list=[1152, 576, 288, 144]))
        torch.manual_seed(0)
        model = Sam2VideoModel(config).eval()
        with torch.no_grad():  # as the tiny model: the object is found (random weights would call it absent)
            model.mask_decoder.pred_obj_score_head.proj_out.bias.fill_(8.0)
        model.save_pretrained(os.path.join(root, "matte"), safe_serialization=True)
        with open(os.path.join(tiny, "preset.toml"), encoding="utf-8") as fh:
            text = fh.read().replace('source = "./', f'source = "{tiny}/').replace(f'"{tiny}/matte"', '"./matte"')
        with open(preset, "w", encoding="utf-8") as fh:
            fh.write(text.replace('name = "tiny"', 'name = "sam2.1-large-random"'))
    return preset


def _prompts(args):
    w, h = args.size
    mid = 1001 + args.frames // 2
    return [("object", "a"), ("points", CLICK.format(f=mid, x=w // 2, y=h * 2 // 3)),
            ("object", "b"), ("box", f"{mid}:0,0,{w - 1},{h // 3}")]


def recast_side(args) -> None:
    import transformers.models.sam2_video.modeling_sam2_video  # noqa: F401 (imports before the clock, as the stock side)

    from recast.core.job.prompts import group_prompts
    from recast.core.matte.run import MatteRequest, run_matte
    from recast.core.progress import CancelFlag, Reporter

    out = os.path.join(tempfile.mkdtemp(prefix="recast-bench-"), "m.####.exr")
    request = MatteRequest(input=args.plate, output=out, objects=tuple(group_prompts(_prompts(args))),
                           model=args.preset, device=args.device)
    started = time.monotonic()
    result = run_matte(request, Reporter(open(os.devnull, "w")), CancelFlag(), checkpoint_seconds=1e9)
    seconds = time.monotonic() - started
    print(json.dumps({"per_frame": seconds / len(result.frames), "kept": result.kept_frames,
                      "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def stock_side(args) -> None:
    import torch
    from transformers.models.sam2_video.modeling_sam2_video import Sam2VideoInferenceSession

    from recast.core.io.frames import SequencePattern
    from recast.core.matte.frames import model_pixels, prompt_tensors, soft_mattes
    from recast.core.job.prompts import group_prompts
    from recast.core.models.loader import Loader
    from recast.core.models.presets import load_preset
    from recast.core.shot.display import display_rgb
    from recast.core.shot.model_frames import ModelFrames
    from recast.core.shot.plate import scan_plate

    plate = scan_plate(SequencePattern.parse(args.plate), None)
    started = time.monotonic()
    model, mean, std = Loader(load_preset(args.preset), args.device).matte()
    size, canvas = model.config.image_size, plate.canvas
    src = ModelFrames(plate, "ACEScg", (canvas.width, canvas.height), None, [], plate.layers[0], "filmic", canvas)
    frames = list(plate.frames)
    video = torch.stack([model_pixels(display_rgb(src.canvas_rgb(f), "ACEScg", "filmic"), size, mean, std)
                         for f in frames])
    session = Sam2VideoInferenceSession(video=video, video_height=canvas.height, video_width=canvas.width,
                                        dtype=torch.float32)
    objects = group_prompts(_prompts(args))
    with torch.inference_mode():
        for k, o in enumerate(objects):
            f = o.frames[0]
            coords, labels = prompt_tensors(o, f, (0, 0), (canvas.width, canvas.height), size)
            session.add_point_inputs(session.obj_id_to_idx(k), frames.index(f),
                                     {"point_coords": coords, "point_labels": labels})
            session.obj_with_new_inputs = [k]
            model(inference_session=session, frame_idx=frames.index(f))
        for reverse in (False, True):
            for out in model.propagate_in_video_iterator(session, reverse=reverse):
                soft_mattes(out.pred_masks, size, (canvas.width, canvas.height))
    seconds = time.monotonic() - started
    print(json.dumps({"per_frame": seconds / len(frames), "kept": sum(
        len(o["cond_frame_outputs"]) + len(o["non_cond_frame_outputs"]) for o in session.output_dict_per_obj.values()),
        "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _child(side: str, args, preset: str, plate: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--side", side, "--preset", preset, "--plate", plate,
                           "--frames", str(args.frames), "--size", f"{args.size[0]}x{args.size[1]}",
                           "--device", args.device], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{side} side failed: {done.stderr.strip().splitlines()[-3:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])




def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", choices=["tiny", "large", "both"], default="both")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--frames", type=int, default=None, help="default: 48 (tiny), 4 (large)")
    p.add_argument("--size", default=None, help="plate WxH; default 256x144 (tiny), 512x288 (large)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--side", choices=["recast", "stock"], help=argparse.SUPPRESS)
    p.add_argument("--preset", help=argparse.SUPPRESS)
    p.add_argument("--plate", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.size:
        args.size = tuple(int(v) for v in args.size.lower().split("x"))
    if args.side:
        {"recast": recast_side, "stock": stock_side}[args.side](args)
        return
    for config in (["tiny", "large"] if args.config == "both" else [args.config]):
        a = argparse.Namespace(**vars(args))
        a.frames = a.frames or DEFAULTS[config]["frames"]
        a.size = a.size or DEFAULTS[config]["size"]
        plate = _plate(tempfile.mkdtemp(prefix="recast-bench-"), a.frames, a.size)
        if config == "tiny":
            from recast.core.models.tiny import ensure_tiny

            preset = ensure_tiny()
        else:
            preset = _large_preset()
        recast, stock = [], []
        for _ in range(a.runs):  # alternating, so drift on a shared machine hits both sides alike
            recast.append(_child("recast", a, preset, plate))
            stock.append(_child("stock", a, preset, plate))
        print(f"\n### {config}: {a.frames} frames of {a.size[0]}x{a.size[1]}, 2 objects prompted mid-shot "
              f"(forward and backward), {a.device}, median of {a.runs} alternating runs (± spread)\n")
        print("| | Recast | stock session | Recast / stock |\n|---|---:|---:|---:|")
        print(row("seconds per frame (load included)", recast, stock, "per_frame", ".3f"))
        print(row("peak RSS (MB)", recast, stock, "rss", ".0f"))
        print(row("most frames' outputs held at once (all objects)", recast, stock, "kept", ".0f"))


if __name__ == "__main__":
    main()
