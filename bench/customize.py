"""Customize: seconds per training step of `recast customize` against the stock diffusers recipe.

"stock" is the training step of diffusers' examples/dreambooth/train_dreambooth_lora.py reduced to its
loop (the same peft LoRA config on the same UNet, AdamW, batch 1, the VAE encoding the image every step as
that script does); Recast caches each image's latents once. Both run in their own process, alternately,
``--runs`` times; the table gives medians and the spread (max - min). Configs: ``tiny`` (the tiny preset)
and ``sd15`` (the full SD 1.5 UNet, VAE and text encoder with seeded random weights, saved once under
``$RECAST_CACHE/bench``: nothing is downloaded).

    python bench/customize.py [--config tiny|sd15|both] [--runs 3] [--device cpu]
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
#: the Recast side: the CLI in a child that prints its own peak RSS (MB) as its last stderr line
DEFAULTS = {"tiny": {"steps": 8, "resolution": 64}, "sd15": {"steps": 3, "resolution": 256}}


def _images(folder: str, count: int = 4) -> str:
    import numpy as np
    import OpenImageIO as oiio

    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        y, x = np.mgrid[0:96, 0:128]
        img = np.stack([x / 128 * (i + 1) / count, y / 96, np.full(x.shape, 0.2 * i)], -1).astype(np.float32)
        path = os.path.join(folder, f"im{i}.png")
        out = oiio.ImageOutput.create(path)
        out.open(path, oiio.ImageSpec(128, 96, 3, "uint8"))
        out.write_image(img)
        out.close()
    return folder


def _sd15_preset() -> str:
    """A preset whose base is SD 1.5-sized with random weights (built once), other parts the tiny preset's."""
    from recast.core.io.cache import cache_root
    from recast.core.models.tiny import ensure_tiny

    tiny = os.path.dirname(ensure_tiny())
    root = os.path.join(cache_root(), "bench", "sd15-random")
    preset = os.path.join(root, "preset.toml")
    if os.path.isfile(preset):
        return preset
    import shutil

    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    base = os.path.join(root, "base")
    torch.manual_seed(0)
    UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8).save_pretrained(
        os.path.join(base, "unet"), safe_serialization=True)
    AutoencoderKL(down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                  block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4, sample_size=512,
                  scaling_factor=0.18215).save_pretrained(os.path.join(base, "vae"), safe_serialization=True)
    CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                 num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu",
                                 projection_dim=768)).save_pretrained(os.path.join(base, "text_encoder"),
                                                                      safe_serialization=True)
    for sub in ("tokenizer", "scheduler"):
        shutil.copytree(os.path.join(tiny, "base", sub), os.path.join(base, sub))
    shutil.copy(os.path.join(tiny, "base", "model_index.json"), base)
    lines = ['name = "sd15-random"', '[parts.base]', 'source = "./base"']
    for part in ("controlnet", "motion_adapter", "image_encoder", "depth", "clip"):
        lines += [f"[parts.{part}]", f'source = "{os.path.join(tiny, part)}"']
    lines += ["[parts.ip_adapter]", f'source = "{os.path.join(tiny, "ip_adapter")}"',
              'weight_name = "ip-adapter_tiny.safetensors"']
    with open(preset, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    return preset


def run_recast(args, preset: str, images: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-c", WITH_RSS, "customize", "--images", images, "--out",
                               os.path.join(tmp, "b.safetensors"), "--model", preset, "--steps", str(args.steps),
                               "--resolution", str(args.resolution), "--device", args.device, "--rank", "8",
                               "--checkpoint-every", "0", "--json"], capture_output=True, text=True)
        wall = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"recast customize failed: {done.stderr.strip().splitlines()[-1:]}")
    end = json.loads(done.stdout.strip().splitlines()[-1])
    rss = float(done.stderr.strip().splitlines()[-1].split()[-1])
    return {"step": end["seconds_per_step"], "wall": wall, "rss": rss}


def stock_side(args) -> None:
    """The reduced diffusers recipe, in this (child) process; prints its figures as JSON."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from peft import LoraConfig
    from transformers import CLIPTextModel, CLIPTokenizer

    from recast.core.customize.images import find_images, load_training_images
    from recast.core.models.parts import locate
    from recast.core.models.presets import load_preset

    base = locate(load_preset(args.preset), "base")
    device = torch.device(args.device)
    unet = UNet2DConditionModel.from_pretrained(base, subfolder="unet").to(device)
    vae = AutoencoderKL.from_pretrained(base, subfolder="vae").to(device)
    text_encoder = CLIPTextModel.from_pretrained(base, subfolder="text_encoder").to(device)
    tokenizer = CLIPTokenizer.from_pretrained(base, subfolder="tokenizer")
    scheduler = DDPMScheduler.from_pretrained(base, subfolder="scheduler")
    for m in (unet, vae, text_encoder):
        m.requires_grad_(False)
    unet.add_adapter(LoraConfig(r=8, lora_alpha=8, init_lora_weights="gaussian",
                                target_modules=["to_k", "to_q", "to_v", "to_out.0"]))
    params = [p for p in unet.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=1e-2)
    images = load_training_images(find_images(args.images), args.resolution, "sks")
    ids = tokenizer(["sks"], padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt").input_ids.to(device)
    g = torch.Generator().manual_seed(0)
    started = time.monotonic()
    for step in range(args.steps):
        pixels = torch.from_numpy(np.ascontiguousarray(images[step % len(images)].pixels.transpose(2, 0, 1)))[None]
        latents = vae.encode(pixels.to(device) * 2 - 1).latent_dist.sample(g) * vae.config.scaling_factor
        noise = torch.randn(latents.shape, generator=g).to(device)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (1,), generator=g).to(device)
        text = text_encoder(ids)[0]
        pred = unet(scheduler.add_noise(latents, noise, t), t, text).sample
        loss = F.mse_loss(pred.float(), noise.float())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    print(json.dumps({"step": (time.monotonic() - started) / args.steps,
                      "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def run_stock(args, preset: str, images: str) -> dict:
    started = time.monotonic()
    done = subprocess.run([sys.executable, __file__, "--side", "stock", "--preset", preset, "--images", images,
                           "--steps", str(args.steps), "--resolution", str(args.resolution), "--device", args.device],
                          capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"stock side failed: {done.stderr.strip().splitlines()[-1:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return {"step": out["step"], "wall": wall, "rss": out["rss"]}




def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", choices=["tiny", "sd15", "both"], default="both")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--steps", type=int, default=None, help="default: 8 (tiny), 3 (sd15)")
    p.add_argument("--resolution", type=int, default=None, help="default: 64 (tiny), 256 (sd15)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--side", choices=["stock"], help=argparse.SUPPRESS)
    p.add_argument("--preset", help=argparse.SUPPRESS)
    p.add_argument("--images", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.side == "stock":
        stock_side(args)
        return
    images = _images(os.path.join(tempfile.mkdtemp(prefix="recast-bench-"), "images"))
    for config in (["tiny", "sd15"] if args.config == "both" else [args.config]):
        a = argparse.Namespace(**vars(args))
        for key, value in DEFAULTS[config].items():
            if getattr(a, key) is None:
                setattr(a, key, value)
        if config == "tiny":
            from recast.core.models.tiny import ensure_tiny

            preset = ensure_tiny()
        else:
            preset = _sd15_preset()
        recast, stock = [], []
        for _ in range(a.runs):  # alternating, so drift on a shared machine hits both sides alike
            recast.append(run_recast(a, preset, images))
            stock.append(run_stock(a, preset, images))
        print(f"\n### {config}: {a.steps} steps at {a.resolution}x{a.resolution}, rank 8, {a.device}, "
              f"median of {a.runs} alternating runs (± spread)\n")
        print("| | Recast | stock | Recast / stock |\n|---|---:|---:|---:|")
        print(row("seconds per step", recast, stock, "step", ".3f"))
        print(row("process wall time (s), load included", recast, stock, "wall", ".1f"))
        print(row("peak RSS (MB)", recast, stock, "rss", ".0f"))


if __name__ == "__main__":
    main()
