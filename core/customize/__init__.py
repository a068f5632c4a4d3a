"""Customization (Gen-1's few-image fine-tuning): train a LoRA on a handful of images of a subject or style.

``images`` (the pictures, as the model sees them, and their captions) → ``train`` (DreamBooth-LoRA on the
preset's SD 1.5 UNet with peft, checkpoints, resume) → :mod:`recast.core.models.lora_file` (a diffusers LoRA
with Recast's metadata, written atomically). Renders use the result through the job's ``loras``.
"""
