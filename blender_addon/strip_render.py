"""One "Recast strip" run, from the active strip to the new strip above it.

Each render with changed values goes to its own version folder (``render/v001``, ``v002``, …) and
comes back as its own strip (``<strip> recast v002``), so an earlier result strip never changes.

:meth:`StripRender.start` checks everything, writes the plate and the job, and starts the
worker; :meth:`StripRender.poll` is the timer's work (the modal operator calls it, and so do
tests, since headless Blender never fires timers); when the worker is done it adds the
result as an image strip in one step, so nothing half-added is ever left on the timeline.
The job file and the worker protocol are Recast's own modules (from the bundled wheel).
"""

import json
import os

import bpy

from recast.core.io.frames import SequencePattern
from recast.core.job import SCHEMA
from recast.plugin.common import messages
from recast.plugin.common.host_job import HostError, check_request, progress_text, save_job, submit_to_farm, \
    submit_to_onprem, validate
from recast.plugin.common.params import LORA_SLOTS, fill_job
from recast.plugin.common.versions import choose_version, version_folder
from recast.plugin.common.looks import look_output, split_prompts
from recast.plugin.common.worker import RenderProcess, VariantsProcess, worker_command

from . import compat
from .plates import plate_for, _stem

__all__ = ["StripRender", "StripError", "prepare", "panel_job", "usable_strip", "strip_work", "strip_folder",
           "add_image_strip"]


class StripError(HostError):
    """What the operator reports, in one line; nothing was added or started."""


class StripRender:
    """``state``: running, done, failed, cancelled."""

    def __init__(self, scene, strip, process, plate, job_path, output_pattern):
        self.scene_name, self.strip_name = scene.name, strip.name
        self.process, self.plate, self.job_path = process, plate, job_path
        self.output_pattern = output_pattern
        self.result_strip = None  #: name of the strip added when done
        self.version = 1  #: the render's version (v001, v002, ...: plugin/versions.py)
        self.error = None  #: one line when it failed
        self.message = "starting"

    # --- start -------------------------------------------------------------------------
    kind = "render"  #: 'render', 'preview' (a quick look in recast_previews/) or 'variants' (recast_variants/)
    live_strip = None  #: name of the strip showing the live previews, while there is one
    added = ()  #: the strips a preview or variants run added

    @classmethod
    def start(cls, context, worker: str = "", kind: str = "render", desk: bool = True,
              live_previews: bool = True) -> "StripRender":
        """Write the plate and the job, start the worker (``desk``, ``live_previews``: the add-on's preferences)."""
        prompts = None
        if kind == "variants":
            prompts = split_prompts(compat.editing_scene(context).recast.variant_prompts)
        prepared = prepare(context, worker, kind)
        logs = os.path.join(prepared.folder, "logs")
        if kind == "variants":
            process = VariantsProcess(prepared.job_path, prompts, command=prepared.command, log_dir=logs, desk=desk,
                                      preview=True, live_previews=live_previews)
        else:
            process = RenderProcess(prepared.job_path, command=prepared.command, log_dir=logs, desk=desk,
                                    preview=kind == "preview", live_previews=live_previews)
        run = cls(compat.editing_scene(context), prepared.strip, process, prepared.plate, prepared.job_path,
                  prepared.output)
        run.version, run.kind = prepared.version, kind
        return run

    @property
    def note(self) -> str:
        """The worker's last warning, one line (e.g. the desk could not start and the render ran here)."""
        return self.process.note or ""

    @staticmethod
    def submit(context, worker: str = ""):
        """Write the plate, the job and an OpenJD farm bundle (by the worker's own 'recast farm openjd')."""
        prepared = prepare(context, worker)
        return submit_to_farm(prepared.job_path, prepared.command,
                              compat.editing_scene(context).recast.farm_chunk_size)

    @staticmethod
    def submit_onprem(context, farm: str, worker: str = "", manager: str = "") -> str:
        """Write the plate and the job and submit them to Deadline 10 or Flamenco 3 (``manager``); what to tell."""
        prepared = prepare(context, worker)
        s = compat.editing_scene(context).recast
        return submit_to_onprem(prepared.job_path, farm, prepared.command, s.farm_chunk_size, s.deadline_pool,
                                s.deadline_group, s.deadline_priority, manager)

    # --- follow ------------------------------------------------------------------------
    @property
    def state(self) -> str:
        p = self.process
        if self.error is not None:
            return "failed"
        if not p.finished or (p.state == "done" and self.result_strip is None):
            return "running"  # a finished render's strip is added by the next poll
        return p.state

    @property
    def progress(self) -> float:
        return self.process.progress

    def poll(self) -> bool:
        """The timer's work: True once finished (done, failed or cancelled)."""
        p = self.process
        if not p.finished:
            self.message = f"Recast '{self.strip_name}': {progress_text(p)}"
            if p.previews:
                self._show_live()
            return False
        self._end_live()
        if p.state == "done" and self.result_strip is None and self.error is None:
            try:
                self.result_strip = self._add_strip()
                what = (f"added strip '{self.result_strip}'" if self.kind != "variants" else
                        f"added {len(self.added)} variant strips (muted but '{self.result_strip}')")
                self.message = f"Recast '{self.strip_name}': {what}" + (f" (note: {self.note})" if self.note else "")
            except StripError as exc:
                self.error = str(exc)
        elif p.state == "failed":
            self.error = p.error or "the worker failed"
            if p.error_kind == "ModelError":  # a model part is missing: the panel's Models box fetches it
                self.error += messages.model_missing_hint("blender")
        if self.error is not None:
            self.message = f"Recast '{self.strip_name}' failed: {self.error}"
        elif p.state == "cancelled":
            self.message = f"Recast '{self.strip_name}' cancelled; nothing was added"
        return True

    def cancel(self) -> None:
        """What Esc does: stop the worker (after the window in hand); nothing is added."""
        self.process.cancel()

    # --- live previews and quick looks: .live ------------------------------------------
    def _show_live(self) -> None:
        from .live import show_live

        show_live(self)

    def _end_live(self) -> None:
        from .live import end_live

        end_live(self)

    # --- the new strip -----------------------------------------------------------------
    def _add_strip(self) -> str:
        scene = bpy.data.scenes[self.scene_name]
        if self.kind != "render":
            from .live import add_look_strips

            return add_look_strips(self, scene)
        return add_image_strip(bpy.data.scenes[self.scene_name], self.strip_name, self.output_pattern,
                               self.plate.first, self.plate.last, f"{self.strip_name} recast v{self.version:03d}",
                               self.plate.blender_space)


def add_image_strip(scene, source_name: str, pattern: str, first: int, last: int, name: str, colorspace: str,
                    offset: int = 0) -> str:
    """Frames ``first..last`` of ``pattern`` as an image strip ``name`` on the lowest free channel above the source
    strip, starting where it starts, in one step (never half a strip on the timeline); returns its name."""
    editor = scene.sequence_editor
    source = next((s for s in compat.all_strips(editor) if s.name == source_name), None)
    if source is None:
        raise StripError(f"strip '{source_name}' was removed meanwhile; the frames are in {os.path.dirname(pattern)}")
    seq = SequencePattern.parse(pattern)
    files = [seq.path(f) for f in range(first, last + 1)]
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        raise StripError(f"the worker finished but {len(missing)} frame(s) are missing, e.g. {missing[0]}")
    start, length = int(source.frame_final_start) + offset, len(files)  # offset: frames into the source strip
    channel = _free_channel(editor, source.channel + 1, start, start + length)
    strip = compat.strips(editor).new_image(name, files[0], channel, start)
    try:
        for path in files[1:]:
            strip.elements.append(os.path.basename(path))
        strip.colorspace_settings.name = colorspace
    except Exception:
        compat.strips(editor).remove(strip)  # never leave half a strip on the timeline
        raise
    return strip.name


def _free_channel(editor, lowest: int, start: int, end: int) -> int:
    """The lowest channel from ``lowest`` up with nothing between frames ``start`` and ``end``."""
    channel = lowest
    while any(s.channel == channel and s.frame_final_start < end and s.frame_final_end > start
              for s in compat.strips(editor)):
        channel += 1
    return channel


class _Prepared:
    def __init__(self, strip, plate, job_path, command, folder, output):
        self.strip, self.plate, self.job_path = strip, plate, job_path
        self.command, self.folder, self.output = command, folder, output


def strip_work(context, busy: dict, doing: str):
    """What a background job on the active strip (a LoRA training, a matte) starts from: ``(scene, strip, settings,
    values, worker command)``, the preset file made absolute; HostError when that strip is ``doing`` it already."""
    from .models_ui import worker

    scene = compat.editing_scene(context)
    strip = usable_strip(context)
    if strip.name in busy:
        raise HostError(f"strip '{strip.name}' is {doing} already")
    s = scene.recast
    values = {name: getattr(s, name) for name in type(s).__annotations__}
    values["model_file"] = bpy.path.abspath(values["model_file"]) if values["model_file"].strip() else ""
    return scene, strip, s, values, worker_command(worker(context).strip() or None)


def usable_strip(context):
    """The active strip, when Recast can work on it; StripError otherwise."""
    strip = compat.active_strip(context)
    if strip is None:
        raise StripError("no active strip: select the image, movie or scene strip to recast")
    if strip.type not in ("IMAGE", "MOVIE", "SCENE"):
        raise StripError(f"strip '{strip.name}' is a {strip.type.lower()} strip; Recast works on "
                          "image-sequence, movie and scene strips")
    return strip


def prepare(context, worker: str = "", kind: str = "render") -> _Prepared:
    """Check the active strip and every value, then write its plate (when it must) and the job file."""
    scene = compat.editing_scene(context)
    strip = usable_strip(context)
    s = scene.recast
    check_request(s.prompt, bool(s.reference_image.strip()), s.model, s.model_file, "choose a reference image")
    command = worker_command(worker.strip() or None)
    folder = strip_folder(s.output_folder, strip)
    data, values = panel_job(scene, folder, _stem(strip.name))
    if s.mask_strip.strip():  # stands in for the mask strip's frames until the plate's range is known
        data["input"]["mask_pattern"] = os.path.join(folder, "mask", "mask.####.exr")
    validate(data, folder)  # every value checked before a frame is written
    plate = plate_for(strip, scene, folder)
    from .matte_ui import mask_pattern

    mask = mask_pattern(scene, plate)
    data["input"] = {"pattern": plate.pattern, "frames": f"{plate.first}-{plate.last}",
                     "colorspace": plate.colorspace, "depth_channel": plate.depth_channel,
                     "mask_pattern": mask, "mask_invert": bool(values["mask_invert"])}
    # a render with changed values (or another source) is a new version: the strips of earlier ones keep their frames
    if kind == "render":
        key = json.dumps({k: v for k, v in data.items() if k != "output"}, sort_keys=True)
        version = choose_version(os.path.join(folder, "render"), key)[0]
        data["output"] = {"pattern": os.path.join(version_folder(os.path.join(folder, "render"), version),
                                                  f"{_stem(strip.name)}.####.exr")}
        job_name = f"{_stem(strip.name)}.recast.json"
    else:  # a quick look: the worker makes its version folder beside this output (recast_previews/, …)
        version = 0
        data["output"] = {"pattern": look_output(folder, _stem(strip.name))}
        job_name = f"{_stem(strip.name)}.{kind}.recast.json"
    job_path = save_job(validate(data, folder), os.path.join(folder, job_name))
    prepared = _Prepared(strip, plate, job_path, command, folder, data["output"]["pattern"])
    prepared.version = version
    return prepared


def panel_job(scene, folder: str, stem: str) -> tuple[dict, dict]:
    """The job document the Recast panel's values make (the prompt or reference checked; the plate and output
    still placeholders under ``folder``), and the values, '//' paths made absolute."""
    s = scene.recast
    values = {name: getattr(s, name) for name in type(s).__annotations__}
    check_request(values["prompt"], bool(values["reference_image"].strip()), values["model"], values["model_file"],
                  "choose a reference image")
    data = {"schema": SCHEMA, "input": {"pattern": os.path.join(folder, "plate", "x.####.exr")},
            "output": {"pattern": os.path.join(folder, "render", f"{stem}.####.exr")},
            "reference_image": bpy.path.abspath(values["reference_image"]) if values["reference_image"] else None}
    for name in ("model_file",) + tuple(f for f, _ in LORA_SLOTS):  # '//' paths, relative to the .blend
        values[name] = bpy.path.abspath(values[name]) if values[name].strip() else ""
    fill_job(data, values)
    return data, values


def strip_folder(setting, strip) -> str:
    if setting.startswith("//") and not bpy.data.filepath:
        raise StripError("no output folder: save the .blend file first, or set an absolute output folder")
    base = bpy.path.abspath(setting) if setting else ""
    if not base:
        raise StripError("no output folder: set one in the Recast panel")
    return os.path.join(os.path.abspath(base), _stem(strip.name))
