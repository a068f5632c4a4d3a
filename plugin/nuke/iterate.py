"""The Recast node's quick looks: the Preview and Variants buttons.

**Preview** renders the node's job with ``--preview`` (256 px, the preset's fast tier, the first window) as a new
version in ``recast_previews/`` beside the node's renders, and the node shows it when done. **Variants** renders
one quick look per line of the ``variant prompts`` knob (``recast variants``); beside the node it makes one Read
per variant (labelled with its values) behind a Switch, and a ContactSheet of them, each Read filled as its
frames arrive. Both run through the desk service when ``use desk service`` is on, and show live previews when
``live previews`` is on (:mod:`.live`), like a render.
"""

from __future__ import annotations

import math

from ..common.looks import Look, split_prompts, variant_label
from ..common.worker import RenderProcess, VariantsProcess
from . import knobs
from .base import nuke, press, set_knob, show_frames, show_state
from .live import SHOW, choose_look, end_live
from .render import Render

__all__ = ["preview", "variants", "Preview", "Variants"]


def preview(node) -> None:
    """The Preview button."""
    press(node, lambda: Preview(node).start())


def variants(node) -> None:
    """The Variants button."""
    press(node, lambda: Variants(node).start())


class _Look(Render):
    """A quick look: it never touches the node's render (its version, its stale mark)."""

    def _cancelled(self) -> None:
        end_live(self.node)
        show_state(self.node, "done" if self.node["recast_rendered"].value() else "new",
                   f"{self.kind} cancelled")
        self._status(f"{self.kind} cancelled")

    def _shown(self, label: str) -> None:
        seconds = self.process.elapsed
        from ..common.host_job import clock

        self._status(f"{label} in {clock(seconds)}")
        show_state(self.node, "done" if self.node["recast_rendered"].value() else "new", label)


class Preview(_Look):
    kind, doing = "preview", "previewing"

    def _process(self, paths, command):
        return RenderProcess(paths.job, command=command, log_dir=paths.logs, on_event=self._from_worker,
                             desk=bool(knobs.option(self.node, "use_desk")), preview=True,
                             live_previews=bool(knobs.option(self.node, "live_previews")))

    def _show_result(self) -> None:
        import os

        made = self.process.version or {}
        look = Look("preview", int(made.get("version", 0)), os.path.dirname(made.get("output", "")))
        frames = look.frames or (self.first, self.last)
        show_frames(self.node.node("look"), look.output, *frames)
        choose_look(self.node, look.name)
        self.node.node("show")["which"].setValue(SHOW["look"])
        self._shown(f"{look.name} {frames[0]}-{frames[1]}")


class Variants(_Look):
    kind, doing = "variants", "rendering variants"

    def _check(self):
        self.prompts = split_prompts(knobs.option(self.node, "variant_prompts"))
        return super()._check()

    def _process(self, paths, command):
        self.reads: list = []
        return VariantsProcess(paths.job, self.prompts, command=command, log_dir=paths.logs,
                               on_event=self._from_worker, desk=bool(knobs.option(self.node, "use_desk")),
                               preview=True, live_previews=bool(knobs.option(self.node, "live_previews")))

    def _on_event(self, event: dict) -> None:
        kind = event.get("event")
        if not self.finished:
            try:
                if kind == "variant":
                    self._variant(event)
                elif kind == "frame" and self.reads:
                    self.reads[-1]["reload"].execute()
            except ValueError:  # our nodes were deleted meanwhile: the variants still render, on disk
                pass
        super()._on_event(event)

    # --- the nodes beside the Recast node ----------------------------------------------
    def _beside(self):
        """The group the Recast node is in (the root, mostly): where its variant nodes go."""
        n = nuke()
        full = self.node.fullName()
        return n.toNode(full.rsplit(".", 1)[0]) if "." in full else n.root()

    def _named(self, suffix: str, cls: str):
        n, name = nuke(), f"{self.node.name()}_{suffix}"
        with self._beside() as parent:
            found = parent.node(name)
            return found if found is not None else getattr(n.nodes, cls)(name=name)

    def _variant(self, event: dict) -> None:
        """A ``variant`` event: its Read (beside the node, labelled with its values) behind the Switch and in the
        ContactSheet; the nodes of the node's earlier variants are replaced."""
        import os

        n = nuke()
        switch, sheet = self._named("variants", "Switch"), self._named("contact", "ContactSheet")
        if not self.reads:  # the first variant of this press: the earlier press's Reads go (their frames stay)
            old = [switch.input(i) for i in range(switch.inputs())]
            for i in range(switch.inputs()):
                switch.setInput(i, None)
                sheet.setInput(i, None)
            for read in old:
                if read is not None and read.Class() == "Read" and read.name().startswith(f"{self.node.name()}_v"):
                    n.delete(read)
        look = Look("variant", int(event["version"]), os.path.dirname(event["output"]))
        with self._beside():
            read = n.nodes.Read(name=f"{self.node.name()}_v{look.version:03d}")
        read["on_error"].setValue("black")  # filled frame by frame as the variant renders
        show_frames(read, event["output"], *(look.frames or (self.first, self.last)))
        label = variant_label(event.get("values") or {})
        read["label"].setValue(label)
        index = len(self.reads)
        self.reads.append(read)
        switch.setInput(index, read)
        sheet.setInput(index, read)
        switch["label"].setValue("\n".join(f"{i}: {r['label'].value()}" for i, r in enumerate(self.reads)))
        count = int(event.get("count") or len(self.reads))
        columns = math.ceil(math.sqrt(count))
        sheet["columns"].setValue(columns)
        sheet["rows"].setValue(math.ceil(count / columns))
        sheet["roworder"].setValue("TopBottom")  # the first variant top left, as the prompts were typed
        sheet["label"].setValue(f"{count} variants of {self.node.name()}")

    def _show_result(self) -> None:
        if not self.reads:
            self._shown("no variants made")
            return
        for read in self.reads:
            read["on_error"].setValue("error")  # every frame is there now: a missing one is an error again
            read["reload"].execute()
        sheet = self._named("contact", "ContactSheet")
        fmt = self.reads[0].format()
        sheet["width"].setValue(fmt.width() * int(sheet["columns"].value()))
        sheet["height"].setValue(fmt.height() * int(sheet["rows"].value()))
        self._named("variants", "Switch")["which"].setValue(0)
        end_live(self.node)
        choose_look(self.node, knobs.option(self.node, "look"))
        versions = [int(e["version"]) for e in self.process.variants]
        self._shown(f"{len(versions)} variants (v{versions[0]:03d}-v{versions[-1]:03d})")
        set_knob(self.node, "status", self.node["status"].value() + f" → {self.node.name()}_variants")
