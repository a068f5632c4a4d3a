"""DreamBooth-LoRA on the preset's SD 1.5 UNet: the recipe of diffusers' ``train_dreambooth_lora.py``, with
peft: LoRA (gaussian init, alpha = rank) on the spatial attention (to_q/k/v/out), optionally on the text
encoder; epsilon (or v) MSE, AdamW, constant learning rate, batch 1; optional prior preservation with
class images. The image UNet is trained, so the motion modules are never touched: a render fuses the
LoRA into the motion UNet's spatial layers, which carry the same names.

Deterministic: every step draws its image, noise and timestep from a generator seeded by (seed, step), so a
run resumed from a checkpoint (saved every ``checkpoint_every`` steps and on a cancel) continues exactly as
an uninterrupted one. The measured loss is on fixed noise and timesteps over every image, not a random
batch, so step 0 and the last step compare.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass

from ..errors import Cancelled, ModelError

__all__ = ["TrainSettings", "TrainResult", "train_lora"]

_UNET_TARGETS = ["to_k", "to_q", "to_v", "to_out.0"]
_TEXT_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]


@dataclass(frozen=True)
class TrainSettings:
    token: str = "sks"
    steps: int = 400
    rank: int = 8
    learning_rate: float = 1e-4
    resolution: int = 512
    seed: int = 0
    train_text_encoder: bool = False
    prior_weight: float = 1.0  #: weight of the class images' loss (prior preservation), when there are any
    class_prompt: str = ""
    checkpoint_every: int = 50


@dataclass
class TrainResult:
    loss_start: float  #: measured loss (fixed noise and timesteps) before the first step
    loss_end: float  #: the same after the last
    steps: int
    resumed_from: int  #: the checkpoint's step (0: from the start)
    unet_state: dict  #: the UNet's LoRA weights, diffusers names
    text_state: dict | None  #: the text encoder's, when trained
    base_cross_width: int
    seconds_per_step: float


def _key(settings: TrainSettings, images, classes, base: str) -> str:
    """What a checkpoint belongs to: the settings, the prepared pixels and captions, the base."""
    h = hashlib.sha256(json.dumps([asdict(settings), base], sort_keys=True).encode())
    for img in list(images) + list(classes):
        h.update(img.caption.encode())
        h.update(img.pixels.tobytes())
    return h.hexdigest()[:16]


class _Models:
    """The frozen base parts and the LoRA layers being trained."""

    def __init__(self, loader, settings: TrainSettings):
        import torch
        from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
        from peft import LoraConfig, inject_adapter_in_model
        from transformers import CLIPTextModel, CLIPTokenizer

        from ..models.parts import locate, use_safetensors

        self.device, self.dtype = loader.device, loader.dtype
        folder = locate(loader.preset, "base")
        kw = {"local_files_only": True, "use_safetensors": use_safetensors(loader.preset, folder)}
        try:
            self.unet = UNet2DConditionModel.from_pretrained(folder, subfolder="unet", **kw)
            self.vae = AutoencoderKL.from_pretrained(folder, subfolder="vae", **kw)
            self.tokenizer = CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer", local_files_only=True)
            self.text_encoder = CLIPTextModel.from_pretrained(folder, subfolder="text_encoder", **kw)
            self.scheduler = DDPMScheduler.from_pretrained(folder, subfolder="scheduler", local_files_only=True)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ModelError(f"model part 'base' cannot be loaded for training: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
        for m in (self.unet, self.vae, self.text_encoder):
            m.requires_grad_(False)
            m.to(self.device, dtype=self.dtype)
        self.vae.eval()
        self.unet.add_adapter(LoraConfig(r=settings.rank, lora_alpha=settings.rank, init_lora_weights="gaussian",
                                         target_modules=_UNET_TARGETS))
        if settings.train_text_encoder:  # peft itself (transformers' add_adapter wants a newer peft than diffusers)
            self.text_encoder = inject_adapter_in_model(
                LoraConfig(r=settings.rank, lora_alpha=settings.rank, init_lora_weights="gaussian",
                           target_modules=_TEXT_TARGETS), self.text_encoder)
        self.trained = [self.unet] + ([self.text_encoder] if settings.train_text_encoder else [])
        for m in self.trained:  # LoRA weights train in fp32 even when the base runs in half precision
            for p in m.parameters():
                if p.requires_grad:
                    p.data = p.data.float()
        self.params = [p for m in self.trained for p in m.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=settings.learning_rate, betas=(0.9, 0.999),
                                           weight_decay=1e-2, eps=1e-8)
        self.train_text = settings.train_text_encoder

    def lora_states(self):
        from peft import get_peft_model_state_dict

        return [get_peft_model_state_dict(m) for m in self.trained]

    def load_lora_states(self, states):
        from peft import set_peft_model_state_dict

        for m, state in zip(self.trained, states):
            set_peft_model_state_dict(m, state)

    def autocast(self):
        import contextlib

        import torch

        if self.device.type in ("cuda", "mps") and self.dtype != torch.float32:
            return torch.autocast(self.device.type, dtype=self.dtype)
        return contextlib.nullcontext()

    def latents(self, images, generator):
        """Each image's VAE latents (sampled once, with the run's generator: cached for every step)."""
        import numpy as np
        import torch

        out = []
        with torch.no_grad():
            for img in images:
                x = torch.from_numpy(np.ascontiguousarray(img.pixels.transpose(2, 0, 1)))[None] * 2.0 - 1.0
                dist = self.vae.encode(x.to(self.device, self.dtype)).latent_dist
                noise = torch.randn(dist.mean.shape, generator=generator, dtype=torch.float32).to(self.device)
                z = dist.mean.float() + dist.std.float() * noise
                out.append(z * self.vae.config.scaling_factor)
        return out

    def text(self, captions: list[str], grad: bool):
        import torch

        ids = self.tokenizer(captions, padding="max_length", max_length=self.tokenizer.model_max_length,
                             truncation=True, return_tensors="pt").input_ids.to(self.device)
        with (torch.enable_grad() if grad else torch.no_grad()), self.autocast():
            return self.text_encoder(ids)[0]

    def loss(self, latents, text, noise, t):
        import torch.nn.functional as F

        noisy = self.scheduler.add_noise(latents, noise, t)
        with self.autocast():
            pred = self.unet(noisy.to(self.dtype), t, text.to(self.dtype)).sample
        if self.scheduler.config.prediction_type == "v_prediction":
            target = self.scheduler.get_velocity(latents, noise, t)
        else:
            target = noise
        return F.mse_loss(pred.float(), target.float())


def _generator(seed: int, step: int):
    import torch

    return torch.Generator().manual_seed((seed * 1_000_003 + step) % (2**63))


def _measure(models, latents, texts, seed: int) -> float:
    """Mean loss over every image at fixed noise and timesteps spread over the schedule."""
    import torch

    g = _generator(seed, -1)
    total = models.scheduler.config.num_train_timesteps
    losses = []
    with torch.no_grad():
        for i, (z, text) in enumerate(zip(latents, texts)):
            for t in (int(total * 0.1), int(total * 0.5), int(total * 0.9)):
                noise = torch.randn(z.shape, generator=g).to(z.device)
                losses.append(float(models.loss(z, text, noise, torch.tensor([t], device=z.device))))
    return sum(losses) / len(losses)


def _save_checkpoint(folder: str, step: int, key: str, models) -> None:
    """LoRA weights, optimizer state and the step, replacing the previous checkpoint in one rename."""
    import torch
    from safetensors.torch import save_file

    tmp = folder + ".writing"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for i, state in enumerate(models.lora_states()):
        save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, os.path.join(tmp, f"lora_{i}.safetensors"))
    torch.save(models.optimizer.state_dict(), os.path.join(tmp, "optimizer.pt"))  # tensors only: weights_only loads it
    with open(os.path.join(tmp, "state.json"), "w", encoding="utf-8") as fh:
        json.dump({"step": step, "key": key}, fh)
    old = folder + ".old"
    shutil.rmtree(old, ignore_errors=True)
    if os.path.isdir(folder):
        os.rename(folder, old)
    os.rename(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)


def _load_checkpoint(folder: str, key: str, models) -> int:
    """The step of a checkpoint of this very run (0 when there is none, or it belongs to other settings)."""
    import torch
    from safetensors.torch import load_file

    try:
        with open(os.path.join(folder, "state.json"), encoding="utf-8") as fh:
            state = json.load(fh)
        if state.get("key") != key:
            return 0
        states = [load_file(os.path.join(folder, f"lora_{i}.safetensors")) for i in range(len(models.trained))]
        optimizer = torch.load(os.path.join(folder, "optimizer.pt"), weights_only=True)
    except (OSError, ValueError, RuntimeError):
        return 0  # a damaged checkpoint: start again
    models.load_lora_states(states)
    models.optimizer.load_state_dict(optimizer)
    return int(state["step"])


def train_lora(loader, images, settings: TrainSettings, checkpoint: str, reporter, cancel, classes=()) -> TrainResult:
    """Train; ``checkpoint`` is the run's checkpoint folder (resumed from when it matches)."""
    import torch

    from ..models.parts import locate

    torch.manual_seed(settings.seed)
    reporter.progress("load", 0, 1)
    models = _Models(loader, settings)
    reporter.progress("load", 1, 1)
    key = _key(settings, images, classes, locate(loader.preset, "base"))
    first = _generator(settings.seed, -2)
    latents = models.latents(images, first)
    class_latents = models.latents(classes, first) if classes else []
    captions = [img.caption for img in images]
    fixed_text = None if models.train_text else models.text(captions, grad=False)
    class_text = models.text([settings.class_prompt], grad=False) if classes else None

    def texts(grad):
        emb = models.text(captions, grad=grad) if models.train_text else fixed_text
        return [emb[i:i + 1] for i in range(len(captions))]

    loss_start = _measure(models, latents, texts(False), settings.seed)
    start = _load_checkpoint(checkpoint, key, models)
    total = models.scheduler.config.num_train_timesteps
    if start:
        # news, not a warning: the run picks up where a cancelled one stopped, as it should
        reporter.progress("train", start, settings.steps, resumed_from=start)
    began, step = time.monotonic(), start
    try:
        for step in range(start, settings.steps):
            cancel.check(f"at step {step}; the next run resumes from step {step}")
            g = _generator(settings.seed, step)
            i = int(torch.randint(len(images), (1,), generator=g))
            noise = torch.randn(latents[i].shape, generator=g).to(models.device)
            t = torch.randint(0, total, (1,), generator=g).to(models.device)
            text = texts(True)[i] if models.train_text else fixed_text[i:i + 1]
            loss = models.loss(latents[i], text, noise, t)
            if classes:
                j = int(torch.randint(len(classes), (1,), generator=g))
                c_noise = torch.randn(class_latents[j].shape, generator=g).to(models.device)
                loss = loss + settings.prior_weight * models.loss(class_latents[j], class_text, c_noise, t)
            loss.backward()
            models.optimizer.step()
            models.optimizer.zero_grad(set_to_none=True)
            reporter.progress("train", step + 1, settings.steps, loss=round(float(loss.detach()), 6))
            if settings.checkpoint_every and (step + 1) % settings.checkpoint_every == 0 and step + 1 < settings.steps:
                _save_checkpoint(checkpoint, step + 1, key, models)
        step = settings.steps
    except Cancelled:
        if step > start:
            _save_checkpoint(checkpoint, step, key, models)  # the steps done so far are kept for the resume
        raise
    seconds = (time.monotonic() - began) / max(1, settings.steps - start)
    from diffusers.utils import convert_state_dict_to_diffusers

    states = models.lora_states()
    return TrainResult(loss_start, _measure(models, latents, texts(False), settings.seed), settings.steps, start,
                       convert_state_dict_to_diffusers(states[0]),
                       convert_state_dict_to_diffusers(states[1]) if len(states) > 1 else None,
                       models.unet.config.cross_attention_dim, seconds)
