"""'Train LoRA' for the hosts: ``recast customize`` on the frames the artist picked, in the background like a
render (a row in the queue, progress, cancel, resume from its checkpoint), and the result put in the first
free LoRA slot. No host module is imported here.
"""

from __future__ import annotations

import os
import re

from .host_job import HostError
from .models import preset_name
from .params import LORA_SLOTS, customize_field
from .queue import RENDERS
from .worker import WorkerProcess

__all__ = ["CustomizeProcess", "lora_path", "free_slot", "start_customize"]


class CustomizeProcess(WorkerProcess):
    """``recast customize``: progress counts training steps."""

    unit = "steps"

    def __init__(self, args: list[str], name: str, out: str, command=None, log_dir=None, on_event=None):
        super().__init__(["customize", *args], name, command, log_dir, on_event)
        self.out = out  #: the LoRA file it writes

    def _apply(self, event: dict) -> None:
        super()._apply(event)
        if event.get("event") == "progress" and event.get("stage") == "train":
            self.frames_done, self.total = int(event.get("done", 0)), int(event.get("total", 0))


def lora_path(folder: str, name: str, token: str) -> str:
    """Where a host's training writes: ``<folder>/lora/<name>_<token>.safetensors`` (file-name safe)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{name}_{token}").strip("_") or "lora"
    return os.path.join(folder, "lora", f"{slug}.safetensors")


def free_slot(values: dict, path: str) -> tuple[str, str] | None:
    """The LoRA slot (file, weight names) to put ``path`` in: the one holding it already, else the first empty."""
    for slot in LORA_SLOTS:
        if os.path.normpath(values[slot[0]].strip() or "-") == os.path.normpath(path):
            return slot
    return next((slot for slot in LORA_SLOTS if not values[slot[0]].strip()), None)


def start_customize(name: str, images: str, frames: str | None, out: str, token: str, steps: int, values: dict,
                    command=None, log_dir: str | None = None, on_event=None) -> CustomizeProcess:
    """Start training on ``images`` (a frame pattern with ``frames``, or a folder); ``values`` are the host's
    parameters (model, device, resolution). HostError with one line for a value that cannot train."""
    if not token.strip():
        raise HostError("no token: type the word the LoRA should learn (e.g. 'sks person')")
    _, lo, hi = customize_field("steps")
    if not lo <= int(steps) <= hi:
        raise HostError(f"training steps {steps}: expected {lo}..{hi}")
    _, smallest, largest = customize_field("resolution")
    resolution = max(smallest, min(largest, int(values["resolution"]) // 8 * 8))
    args = ["--images", images, "--out", out, "--token", token.strip(), "--steps", str(int(steps)), "--model",
            preset_name(values["model"], values["model_file"]), "--device", values["device"], "--resolution",
            str(resolution), "--model-view", values.get("model_view") or "filmic"]
    if frames:
        args += ["--frames", frames]
    os.makedirs(os.path.dirname(out), exist_ok=True)
    process = CustomizeProcess(args, f"{name}_customize", out, command, log_dir, on_event)
    RENDERS.add(f"train LoRA '{os.path.basename(out)}'", process, os.path.dirname(out))
    return process
