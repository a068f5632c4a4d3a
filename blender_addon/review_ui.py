"""'Review' and 'Use approved' in the Recast panel (:mod:`recast.plugin.common.review`).

**Review** runs ``recast review`` on the active strip's render, previews and variants in the background (the modal
operator of :mod:`.modal`) and opens the page in the default browser when it is written. **Use approved** reads
the decisions exported from the page (a file chooser) and shows the approved version: its strip (``<strip> recast
vNNN``, ``preview vNNN`` or ``variant vNNN …``) is unmuted and made active, and the other results of the strip
are muted, as Choose variant does. The active strip may be the source strip or one of its results.
"""

import os

import bpy

from recast.plugin.common import review as common
from recast.plugin.common.host_job import HostError
from recast.plugin.common.worker import worker_command

from . import compat
from .modal import BackgroundRun, ModalRun
from .plates import _stem

__all__ = ["Reviewing", "RECAST_OT_review_strip", "RECAST_OT_use_approved", "reviewing", "classes"]

reviewing: dict = {}  # source strip name → Reviewing
_RESULTS = (" recast v", " preview v", " variant v")  #: how a result strip's name follows its source's


def _source(context):
    """``(scene, source strip name, its output folder)`` of the active strip (a source strip or a result of one)."""
    scene = compat.editing_scene(context)
    strip = compat.active_strip(context)
    if strip is None:
        raise HostError("no active strip: select the strip that was rendered (or one of its results)")
    name = strip.name
    for marker in _RESULTS:
        if marker in name:
            name = name.split(marker, 1)[0]
            break
    setting = scene.recast.output_folder
    if setting.startswith("//") and not bpy.data.filepath:
        raise HostError("no output folder: save the .blend file first, or set an absolute output folder")
    base = bpy.path.abspath(setting) if setting else ""
    if not base:
        raise HostError("no output folder: set one in the Recast panel")
    return scene, name, os.path.join(os.path.abspath(base), _stem(name))


class Reviewing(BackgroundRun):
    registry = reviewing

    def __init__(self, strip_name, process):
        self.strip_name, self.process = strip_name, process
        self.message = f"Recast '{strip_name}': writing the review"
        self.url = None  #: the page's URL, once opened

    @classmethod
    def start(cls, context) -> "Reviewing":
        from .models_ui import worker

        _, name, folder = _source(context)
        if name in reviewing:
            raise HostError(f"the review of strip '{name}' is being written already")
        process = common.ReviewProcess(folder, _stem(name), worker_command(worker(context).strip() or None),
                                       os.path.join(folder, "logs"))
        return cls(name, process)._register(name)

    def _finished(self, p) -> None:
        if p.state == "done" and p.page:
            self.url = common.open_page(p.page)
            self.message = f"Recast: review of '{self.strip_name}' opened in the browser: {p.page}"
        elif p.state == "cancelled":
            self.message, self.level = f"Recast: the review of '{self.strip_name}' was cancelled", "WARNING"
        else:
            self.message, self.level = f"Recast: the review failed: {p.error}", "ERROR"


class RECAST_OT_review_strip(ModalRun, bpy.types.Operator):
    """Write the review of the active strip's render, previews and variants (a flipbook that plays and compares
    them) and open it in the default browser"""

    bl_idname = "recast.review_strip"
    bl_label = "Review"

    run_class = Reviewing


class RECAST_OT_use_approved(bpy.types.Operator):
    """Show the version the review's exported decisions (recast_picks.json) approve: its strip unmuted, the
    strip's other results muted"""

    bl_idname = "recast.use_approved"
    bl_label = "Use approved"

    filepath: bpy.props.StringProperty(subtype="FILE_PATH")
    filter_glob: bpy.props.StringProperty(default="*.json", options={"HIDDEN"})

    def invoke(self, context, event):
        context.window_manager.fileselect_add(self)  # the file chooser: where the browser saved the export
        return {"RUNNING_MODAL"}

    def execute(self, context):
        try:
            scene, name, folder = _source(context)
            if not self.filepath:
                raise HostError("no decisions file: choose the file the review page exported (recast_picks.json)")
            pick = common.approved_version(bpy.path.abspath(self.filepath), folder, _stem(name))
            editor = scene.sequence_editor
            results = [s for s in compat.all_strips(editor) if any(s.name.startswith(name + m) for m in _RESULTS)]
            marker = {"render": " recast v", "preview": " preview v", "variant": " variant v"}[pick.kind]
            wanted = f"{name}{marker}{pick.version:03d}"
            chosen = next((s for s in results if s.name == wanted or s.name.startswith(wanted + " ")), None)
            if chosen is None:
                raise HostError(f"the approved {pick.title} has no strip here (its frames: {pick.output}); "
                                "add it, then Use approved again")
        except HostError as exc:
            self.report({"ERROR"}, f"Recast: {exc}")
            return {"CANCELLED"}
        for strip in results:
            strip.mute = strip.name != chosen.name
        editor.active_strip = chosen
        self.report({"INFO"}, f"Recast: showing the approved '{chosen.name}'" + (f" — note: {pick.note}"
                                                                                 if pick.note else ""))
        return {"FINISHED"}


classes = (RECAST_OT_review_strip, RECAST_OT_use_approved)
