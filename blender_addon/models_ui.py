"""The panel's Models box: which parts of the chosen preset the worker has, and fetching the missing
ones in the background (a modal operator on a window timer, like a render; Esc cancels).

Both go through :mod:`recast.plugin.common.models` (the worker's own ``recast models check`` and
``recast models pull``), shared with the Nuke node.
"""

import bpy

from recast.plugin.common import messages, models
from recast.plugin.common.host_job import HostError

from . import compat
from .modal import BackgroundRun, ModalRun

__all__ = ["Fetch", "RECAST_OT_check_models", "RECAST_OT_fetch_models", "RECAST_OT_cancel_fetch", "draw", "classes",
           "known", "fetching"]

known: dict = {}  # preset → the last check's line
fetching: dict = {}  # preset → Fetch: one fetch of a preset at a time


def worker(context) -> str:
    """The add-on preference naming the worker ('' : $RECAST_WORKER, else 'recast' on PATH)."""
    addon = context.preferences.addons.get(__package__)
    return addon.preferences.worker if addon is not None else ""


def _choice(context):
    """(model, model_file) of the scene's settings, the file made absolute."""
    s = compat.editing_scene(context).recast
    return s.model, bpy.path.abspath(s.model_file) if s.model_file else ""


def _preset(context) -> str:
    return models.preset_name(*_choice(context))


def check(model: str, model_file: str, command) -> str:
    """Ask the worker now; the line is kept for the panel. HostError when it cannot answer."""
    line = models.check_models(model, model_file, command=command).summary
    known[models.preset_name(model, model_file)] = line
    return line


class RECAST_OT_check_models(bpy.types.Operator):
    """Ask the Recast worker which parts of the chosen model preset it has"""

    bl_idname = "recast.check_models"
    bl_label = "Check models"

    def execute(self, context):
        from recast.plugin.common.worker import worker_command

        try:
            line = check(*_choice(context), worker_command(worker(context).strip() or None))
        except HostError as exc:
            self.report({"ERROR"}, f"Recast: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Recast: {line}")
        return {"FINISHED"}


class Fetch(BackgroundRun):
    """One fetch of the chosen preset's missing parts; :meth:`poll` is the timer's work (tests call it too)."""

    registry = fetching

    def __init__(self, model, model_file, command):
        self.model, self.model_file, self.command = model, model_file, command
        self.preset = models.preset_name(model, model_file)
        self.label = models.preset_label(self.preset)
        self.message = f"Recast: fetching the models of '{self.label}'"

    @classmethod
    def start(cls, context) -> "Fetch":
        from recast.plugin.common.worker import worker_command

        run = cls(*_choice(context), worker_command(worker(context).strip() or None))
        if run.preset in fetching:
            raise HostError(messages.fetching_already(run.label))
        run.process = models.fetch_models(run.model, run.model_file, command=run.command)
        known.pop(run.preset, None)
        return run._register(run.preset)

    def _running(self) -> str:
        return f"Recast: fetching: {self.progress_line()}"

    def _finished(self, p) -> None:
        """``message`` says how it went (and the Models box shows the new check)."""
        if p.state == "done":
            try:
                self.message = f"Recast: {check(self.model, self.model_file, self.command)}"
            except HostError as exc:
                self.message, self.level = f"Recast: fetched, but the check failed: {exc}", "ERROR"
        elif p.state == "cancelled":
            self.message, self.level = messages.resumes("blender", "fetch", label=self.label), "WARNING"
        else:
            self.message, self.level = f"Recast: fetching the models of '{self.label}' failed: {p.error}", "ERROR"


class RECAST_OT_fetch_models(ModalRun, bpy.types.Operator):
    """Download the missing parts of the chosen model preset in the background (Esc cancels; a later fetch
    resumes)"""

    bl_idname = "recast.fetch_models"
    bl_label = "Fetch models"

    run_class = Fetch


class RECAST_OT_cancel_fetch(bpy.types.Operator):
    """Stop fetching the models of the chosen preset (a later fetch resumes)"""

    bl_idname = "recast.cancel_fetch"
    bl_label = "Cancel fetching models"

    def execute(self, context):
        run = fetching.get(_preset(context)) if _has_preset(context) else None
        if run is None:
            self.report({"WARNING"}, "Recast: no models are being fetched")
            return {"CANCELLED"}
        run.cancel()
        return {"FINISHED"}


def _has_preset(context) -> bool:
    try:
        _preset(context)
        return True
    except HostError:
        return False


def draw(layout, context) -> None:
    """The Models box: the last check's line (or the fetch's progress) and its buttons."""
    box = layout.box()
    try:
        preset = _preset(context)
    except HostError as exc:
        box.label(text=str(exc), icon="ERROR")
        return
    run = fetching.get(preset)
    if run is not None:
        row = box.row()
        row.label(text=f"fetching: {run.progress_line()}", icon="IMPORT")
        row.operator(RECAST_OT_cancel_fetch.bl_idname, text="Cancel", icon="CANCEL")
        return
    line = known.get(preset)
    box.label(text=line or f"models '{models.preset_label(preset)}': not checked",
              icon="CHECKMARK" if line and "all" in line and "present" in line else "QUESTION" if not line else "ERROR")
    row = box.row()
    row.operator(RECAST_OT_check_models.bl_idname, icon="FILE_REFRESH")
    row.operator(RECAST_OT_fetch_models.bl_idname, icon="IMPORT")


classes = (RECAST_OT_check_models, RECAST_OT_fetch_models, RECAST_OT_cancel_fetch)
