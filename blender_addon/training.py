"""'Train LoRA on strip': ``recast customize`` on the active strip's frames in the background (the
modal operator of :mod:`.modal`: progress, Esc cancels, a later run with the same settings resumes), the
LoRA put in the scene's first free LoRA slot when done."""

import os

import bpy

from recast.plugin.common import customize, messages
from recast.plugin.common.host_job import HostError

from .modal import BackgroundRun, ModalRun
from .plates import plate_for
from .strip_render import strip_folder, strip_work

__all__ = ["Training", "RECAST_OT_train_lora", "training"]

training: dict = {}  # strip name → Training


class Training(BackgroundRun):
    registry = training

    def __init__(self, scene_name, strip_name, process):
        self.scene_name, self.strip_name, self.process = scene_name, strip_name, process
        self.message = f"Recast '{strip_name}': training a LoRA"

    @classmethod
    def start(cls, context) -> "Training":
        scene, strip, s, values, command = strip_work(context, training, "training a LoRA")
        token = s.train_token.strip()
        if not token:
            raise HostError(messages.NO_LORA_TOKEN)
        folder = strip_folder(values["output_folder"], strip)
        plate = plate_for(strip, scene, folder)
        out = customize.lora_path(folder, strip.name, token)
        process = customize.start_customize(strip.name, plate.pattern, f"{plate.first}-{plate.last}", out, token,
                                            s.train_steps, values, command, os.path.join(folder, "logs"))
        return cls(scene.name, strip.name, process)._register(strip.name)

    def _finished(self, p) -> None:
        if p.state == "done":
            s = bpy.data.scenes[self.scene_name].recast
            slot = customize.free_slot({n: getattr(s, n) for slot in customize.LORA_SLOTS for n in slot}, p.out)
            if slot is not None:
                setattr(s, slot[0], p.out)
                setattr(s, slot[1], 1.0)
            self.message = f"Recast: {messages.lora_trained(p.out, slot and slot[0], s.train_token.strip())}"
        elif p.state == "cancelled":
            self.message, self.level = messages.resumes("blender", "train"), "WARNING"
        else:
            self.message, self.level = f"Recast: {messages.training_failed(p.error)}", "ERROR"


class RECAST_OT_train_lora(ModalRun, bpy.types.Operator):
    """Train a LoRA on the active strip's frames in the background (Esc cancels); it goes in the first free
    LoRA slot"""

    bl_idname = "recast.train_lora"
    bl_label = "Train LoRA on strip"

    run_class = Training


classes = (RECAST_OT_train_lora,)
