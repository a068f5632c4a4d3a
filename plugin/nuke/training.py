"""The Recast node's Train LoRA button: ``recast customize`` on the plate's frames in the background; the LoRA
goes in the first free LoRA slot when done."""

from __future__ import annotations

from ..common import customize, messages
from . import knobs
from .base import NodeError, nuke, press, tell, worker
from .render import Render
from .runs import ACTIVE, TRAINING, Job

__all__ = ["train_lora", "Train"]


def train_lora(node) -> None:
    """The Train LoRA button: ``recast customize`` on the plate's frames in the background; the LoRA goes in the
    first free LoRA slot when done."""
    press(node, lambda: Train(node).start())


class Train(Job):
    """One training of a LoRA on the node's plate frames."""

    doing = "training a LoRA"

    def __init__(self, node):
        self.nuke = nuke()
        self.node = node
        self.name = node.fullName()
        self.render = Render(node)

    def start(self) -> None:
        if self.name in TRAINING or self.name in ACTIVE:
            raise NodeError("busy: a render or a training of this node is running; cancel it first")
        r = self.render
        command = worker(r.values)
        first, last = r.frame_range()
        paths = r.file_paths()
        token, steps = self.node["train_token"].getText().strip(), int(self.node["train_steps"].value())
        out = customize.lora_path(paths.folder, self.node.name(), token or "lora")
        if not token:
            raise NodeError(messages.NO_LORA_TOKEN)
        r.write_inputs(paths, first, last, only=("plate_write",))
        self.process = customize.start_customize(self.node.name(), paths.plate, f"{first}-{last}", out, token, steps,
                                                 r.values, command, paths.logs, on_event=self._from_worker)
        self.out = out
        self._begin(TRAINING, self.name, f"Recast {self.name}: training LoRA", f"training a LoRA on {first}-{last}…",
                    f"train-{self.name}")

    def _forget(self) -> None:
        TRAINING.pop(self.name, None)

    def _finish(self, state: str) -> None:
        try:
            if state == "done":
                slot = customize.free_slot(knobs.knob_values(self.node), self.out)
                if slot is not None:
                    self.node[slot[0]].setValue(self.out)
                    self.node[slot[1]].setValue(1.0)
                self._status(messages.lora_trained(self.out, slot and slot[0],
                                                   self.node["train_token"].getText().strip()))
            elif state == "cancelled":
                self._status(messages.resumes("nuke", "train"))
            else:
                self._status(f"training failed: {self.process.error}")
                tell(self.node, messages.training_failed(self.process.error))
        except ValueError:  # the node was deleted meanwhile
            pass
