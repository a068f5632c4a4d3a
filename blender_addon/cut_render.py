""""Recast selected strips": the selected strips rendered as one cut, each result a versioned strip above its strip.

The strips go to the worker as a cut (``recast cut --strips``: :mod:`recast.core.cut.strips`), so they are planned,
versioned and rendered by the engine that renders an editor's timeline: each strip a shot under
``<output folder>/recast_cut/shots/<strip>/v001``, ``v002`` …; a strip whose job is unchanged renders nothing new and
keeps its strip, a changed one renders a new version whose strip is added above (never over) the earlier ones. A strip
that fails is reported in one line and the others still come back. Blender never needs OpenTimelineIO.
"""

import json
import os

from recast.plugin.common.host_job import save_job, validate
from recast.plugin.common.worker import WorkerProcess, render_flags, worker_command

from . import compat
from .modal import BackgroundRun
from .plates import _stem, plate_for
from .strip_render import StripError, add_image_strip, panel_job, strip_folder

__all__ = ["CutRender", "cutting", "CUT"]

cutting: dict = {}  #: CUT → the cut rendering now (one at a time), for the panel's progress and Cancel
CUT = "selected strips"  #: the key of the cut in :data:`cutting` (what Cancel names)
_KINDS = ("IMAGE", "MOVIE", "SCENE")


def _selected(scene):
    editor = scene.sequence_editor
    chosen = [s for s in compat.all_strips(editor) if s.select] if editor is not None else []
    if not chosen:
        raise StripError("no selected strips: select the image, movie or scene strips to recast as a cut")
    for strip in chosen:
        if strip.type not in _KINDS:
            raise StripError(f"strip '{strip.name}' is a {strip.type.lower()} strip; Recast works on image-sequence, "
                             "movie and scene strips (deselect it)")
    return sorted(chosen, key=lambda s: (s.frame_final_start, s.channel))


class CutRender(BackgroundRun):
    registry = cutting
    events = ("progress",)
    strip_name = CUT

    def __init__(self, scene, shots, process):
        self.scene_name, self.shots, self.process = scene.name, shots, process
        self.added: list = []  #: names of the strips added
        self.message, self.level = "starting", "INFO"

    @classmethod
    def start(cls, context, worker: str = "", desk: bool = True) -> "CutRender":
        """Write the selected strips' plates, the template job and the strips file; start ``recast cut``."""
        if CUT in cutting:
            raise StripError("the selected strips are rendering as a cut already; cancel it or wait")
        scene = compat.editing_scene(context)
        chosen = _selected(scene)
        s = scene.recast
        root = os.path.join(os.path.dirname(strip_folder(s.output_folder, chosen[0])), "recast_cut")
        data, _ = panel_job(scene, root, "cut")
        validate(data, root)  # every value checked before a plate is written
        plates = [plate_for(strip, scene, strip_folder(s.output_folder, strip)) for strip in chosen]
        data["input"] = {"pattern": plates[0].pattern, "frames": None, "colorspace": plates[0].colorspace}
        template = save_job(validate(data, root), os.path.join(root, "template.recast.json"))
        doc = {"format": "recast-strips/1", "rate": scene.render.fps / scene.render.fps_base,
               "strips": [{"name": _stem(strip.name), "pattern": plate.pattern, "frames": [plate.first, plate.last],
                           "start": int(strip.frame_final_start),
                           "recast": {"input.colorspace": plate.colorspace, "input.depth_channel": plate.depth_channel}}
                          for strip, plate in zip(chosen, plates)]}
        path = os.path.join(root, "strips.json")
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=1)
        process = WorkerProcess(["cut", "--strips", path, "--job", template, "--out", os.path.join(root, "shots"),
                                 "--handles", "0"] + render_flags(desk), "cut", worker_command(worker.strip() or None),
                                os.path.join(root, "logs"))
        run = cls(scene, [(strip.name, plate) for strip, plate in zip(chosen, plates)], process)
        return run._register(CUT)

    @property
    def progress(self) -> float:
        """Through the whole cut (the shots' ``cut_done``), not one shot's share."""
        done = [e["cut_done"] for e in self.process.events if "cut_done" in e]
        return done[-1] if done else 0.0

    def _finished(self, process) -> None:
        """Add a strip above each strip whose shot rendered (a version it has no strip for yet)."""
        import bpy

        scene = bpy.data.scenes[self.scene_name]
        done = next((e for e in reversed(process.events) if e.get("event") == "done"), {})
        versions = done.get("versions") or {}
        names = {s.name for s in compat.all_strips(scene.sequence_editor)}
        failed = []
        for event in process.events:
            if event.get("event") != "shot" or event.get("status") not in ("done", "failed"):
                continue
            source, plate = self.shots[int(event["index"]) - 1]
            if event["status"] == "failed":
                failed.append(f"'{source}': {event.get('message')}")
                continue
            name = f"{source} recast v{int(versions.get(event['name'], 1)):03d}"
            if name in names:
                continue  # this version has its strip already: nothing changed, nothing rendered, nothing added
            try:
                self.added.append(add_image_strip(scene, source, event["output"], plate.first, plate.last, name,
                                                  plate.blender_space))
            except StripError as exc:
                failed.append(str(exc))
        for strip in compat.all_strips(scene.sequence_editor):  # the selection stays the cut's strips: a press
            if strip.name in self.added:                          # again renders what changed, not the results
                strip.select = False
        if process.state == "cancelled":
            self.message, self.level = f"Recast cut cancelled; added {len(self.added)} strip(s)", "WARNING"
        elif failed or process.state == "failed":
            why = "; ".join(failed) or process.error or "the worker failed"
            self.message, self.level = f"Recast cut: added {len(self.added)} strip(s); failed: {why}", "ERROR"
        else:
            self.message = (f"Recast cut: added {', '.join(repr(n) for n in self.added)}" if self.added else
                            "Recast cut: nothing changed, every strip has its newest version above it")
