"""'Train LoRA on strip': ``recast customize`` on the active strip's frames in the background (the
modal operator of :mod:`.modal`: progress, Esc cancels, a later run with the same settings resumes), the
LoRA put in the scene's first free LoRA slot when done."""

import os

import bpy

from recast.plugin.common import customize
from recast.plugin.common.host_job import HostError, progress_text

from .modal import ModalRun
from .plates import plate_for
from .strip_render import strip_folder, strip_work

__all__ = ["Training", "RECAST_OT_train_lora", "training"]

training: dict = {}  # strip name → Training


class Training:
    def __init__(self, scene_name, strip_name, process):
        self.scene_name, self.strip_name, self.process = scene_name, strip_name, process
        self.message = f"Recast '{strip_name}': training a LoRA"
        self.level = "INFO"

    @classmethod
    def start(cls, context) -> "Training":
        scene, strip, s, values, command = strip_work(context, training, "training a LoRA")
        token = s.train_token.strip()
        if not token:
            raise HostError("no LoRA token: type the word the LoRA should learn (e.g. 'sks person')")
        folder = strip_folder(values["output_folder"], strip)
        plate = plate_for(strip, scene, folder)
        out = customize.lora_path(folder, strip.name, token)
        process = customize.start_customize(strip.name, plate.pattern, f"{plate.first}-{plate.last}", out, token,
                                            s.train_steps, values, command, os.path.join(folder, "logs"))
        run = cls(scene.name, strip.name, process)
        training[strip.name] = run
        return run

    @property
    def progress(self) -> float:
        return self.process.progress

    def cancel(self) -> None:
        self.process.cancel()

    def poll(self) -> bool:
        p = self.process
        if not p.finished:
            progress = [e for e in p.events if e.get("event") == "progress"]
            self.message = f"Recast '{self.strip_name}': {progress_text(p, progress[-1] if progress else None)}"
            return False
        training.pop(self.strip_name, None)
        if p.state == "done":
            s = bpy.data.scenes[self.scene_name].recast
            slot = customize.free_slot({n: getattr(s, n) for slot in customize.LORA_SLOTS for n in slot}, p.out)
            if slot is None:
                self.message = f"Recast: LoRA trained: {p.out} (every LoRA slot is in use: put it in one)"
            else:
                setattr(s, slot[0], p.out)
                setattr(s, slot[1], 1.0)
                self.message = (f"Recast: LoRA trained: {p.out}, in slot {slot[0].split('_')[1]}; use "
                                f"'{s.train_token.strip()}' in the prompt")
        elif p.state == "cancelled":
            self.message, self.level = "Recast: training cancelled; Train LoRA with the same settings resumes it", \
                "WARNING"
        else:
            self.message, self.level = f"Recast: training the LoRA failed: {p.error}", "ERROR"
        return True


class RECAST_OT_train_lora(ModalRun, bpy.types.Operator):
    """Train a LoRA on the active strip's frames in the background (Esc cancels); it goes in the first free
    LoRA slot"""

    bl_idname = "recast.train_lora"
    bl_label = "Train LoRA on strip"

    run_class = Training


classes = (RECAST_OT_train_lora,)
