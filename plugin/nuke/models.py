"""The Recast node's Check models and Fetch models buttons: which parts of the node's preset the worker has
(the 'models' line), and fetching the missing ones in the background with a progress bar and a row in the
queue panel."""

from __future__ import annotations

import threading

from ..common import messages, models
from ..common.host_job import HostError
from . import knobs
from .base import NodeError, nuke, press, set_knob, tell, worker
from .runs import FETCHING, KNOWN, Job

__all__ = ["check_models", "fetch_models", "Fetch"]


def check_models(node, again: bool = True) -> None:
    """The Check models button (and the panel opening, or another model chosen, with ``again=False``): ask the
    worker, in the background, which parts of the node's preset it has; the answer goes to the 'models' line."""
    n = nuke()
    try:
        values = knobs.knob_values(node)
        preset = models.preset_name(values["model"], values["model_file"])
        command = worker(values)
    except HostError as exc:
        node["models"].setValue(str(exc))
        return
    if preset in FETCHING:
        return  # the fetch says how far it is
    if not again and preset in KNOWN:
        node["models"].setValue(KNOWN[preset])
        return
    node["models"].setValue(f"checking '{models.preset_label(preset)}'…")

    def ask():  # a worker thread: the worker takes a second or two to answer
        try:
            line = models.check_models(values["model"], values["model_file"], command).summary
            KNOWN[preset] = line
        except HostError as exc:
            line = f"cannot check the models: {exc}"
        n.executeInMainThread(set_knob, args=(node, "models", line))

    threading.Thread(target=ask, name="recast-check-models", daemon=True).start()


def fetch_models(node) -> None:
    """The Fetch models button: download the preset's missing parts in the background, with a progress bar
    (whose cancel stops it) and a row in the queue panel; the 'models' line says how far it is."""
    press(node, lambda: Fetch(node).start())


class Fetch(Job):
    """One fetch of a preset's missing parts."""

    doing = "fetching"

    def __init__(self, node):
        self.nuke = nuke()
        self.node = node
        values = knobs.knob_values(node)
        self.model, self.model_file = values["model"], values["model_file"]
        self.preset = models.preset_name(self.model, self.model_file)
        self.label = models.preset_label(self.preset)
        self.command = worker(values)

    def start(self) -> None:
        if self.preset in FETCHING:
            raise NodeError(messages.fetching_already(self.label))
        self.process = models.fetch_models(self.model, self.model_file, self.command, on_event=self._from_worker)
        KNOWN.pop(self.preset, None)
        self._begin(FETCHING, self.preset, f"Recast: fetching models '{self.label}'", "fetching…",
                    f"fetch-{self.preset}", message="asking the hub")

    def _status(self, text: str) -> None:
        set_knob(self.node, "models", f"models '{self.label}': {text}")

    def _forget(self) -> None:
        FETCHING.pop(self.preset, None)

    def _finish(self, state: str) -> None:
        if state == "done":
            check_models(self.node)
        elif state == "cancelled":
            self._status(messages.resumes("nuke", "fetch"))
        else:
            self._status(f"fetch failed: {self.process.error}")
            tell(self.node, f"fetching the models failed: {self.process.error}")
