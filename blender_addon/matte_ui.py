"""The panel's Matte box: clicks on a strip become a soft matte strip (``recast matte``, SAM 2.1 video), which a
Recast strip then uses as its mask (the panel's 'Mask strip', inverted to keep the actor and replace the world).

Each point is a row of the scene's settings (frame on the timeline, x and y in pixels from the image's top-left
corner, + on the object or − not on it, and the object it belongs to). "Matte strip" runs the worker in the
background (the modal operator of :mod:`.modal`: progress, Esc cancels, a second press with the same points
resumes) and adds the matte as a Non-Color image strip on a free channel above the source, in one step; the
new strip becomes the scene's mask strip.
"""

import json
import os

import bpy

from recast.core.io.frames import FrameRange
from recast.plugin.common import matte, messages
from recast.plugin.common.host_job import HostError
from recast.plugin.common.versions import choose_version, version_folder

from . import compat
from .modal import BackgroundRun, ModalRun
from .plates import _stem, plate_for
from .strip_render import StripError, add_image_strip, strip_folder, strip_work

__all__ = ["MatteRun", "RECAST_OT_matte_strip", "RECAST_OT_matte_point_add", "RECAST_OT_matte_point_remove",
           "draw", "classes", "matting", "mask_pattern"]

matting: dict = {}  # strip name → MatteRun


def prompt_text(points, strip_start: int, plate_first: int) -> str:
    """The scene's point rows as prompt lines, timeline frames turned into the plate's frame numbers."""
    return "\n".join(matte.point_line(plate_first + int(p.frame) - strip_start, p.x, p.y, p.positive, p.object)
                     for p in points)


class MatteRun(BackgroundRun):
    """One matte of one strip: ``poll()`` is the timer's work; when done the matte strip is added."""

    registry = matting
    events = ("progress", "frame")

    def __init__(self, scene_name, strip_name, process, plate, version):
        self.scene_name, self.strip_name, self.process, self.plate = scene_name, strip_name, process, plate
        self.version, self.result_strip = version, None
        self.message = f"Recast '{strip_name}': making a matte"

    @classmethod
    def start(cls, context) -> "MatteRun":
        scene, strip, s, values, command = strip_work(context, matting, "making a matte")
        if not len(s.matte_points):
            raise HostError("no prompt: add a point on the object (Add point), then set its x and y")
        values = {name: values[name] for name in ("model", "model_file", "device", "model_view")}
        folder = strip_folder(s.output_folder, strip)
        plate = plate_for(strip, scene, folder)
        text = prompt_text(s.matte_points, int(strip.frame_final_start), plate.first)
        try:  # the clicks' frames and form here; their position against the image's size the worker checks
            matte.prompt_objects(text, 10**9, 10**9, FrameRange(plate.first, plate.last))
        except HostError as exc:
            raise HostError(f"{exc} (the points' frames are timeline frames of the strip)") from None
        root = os.path.join(folder, "matte")
        key = json.dumps({"prompts": text, "values": values, "size": s.matte_size, "plate": plate.pattern,
                          "range": [plate.first, plate.last]}, sort_keys=True)
        version = choose_version(root, key)[0]
        out = os.path.join(version_folder(root, version), f"{_stem(strip.name)}_matte.####.exr")
        process = matte.start_matte(strip.name, plate.pattern, f"{plate.first}-{plate.last}", text, out, values,
                                    s.matte_size, command, os.path.join(folder, "logs"))
        return cls(scene.name, strip.name, process, plate, version)._register(strip.name)

    def _finished(self, p) -> None:
        if p.state == "done":
            try:
                scene = bpy.data.scenes[self.scene_name]
                name = add_image_strip(scene, self.strip_name, p.out, self.plate.first, self.plate.last,
                                       f"{self.strip_name} matte v{self.version:03d}", "Non-Color")
                strip = next(s for s in compat.all_strips(scene.sequence_editor) if s.name == name)
                strip["recast_matte"] = p.out  # its frames are the plate's numbers: a Recast strip's mask
                scene.recast.mask_strip = name
                self.result_strip = name
                self.message = f"Recast '{self.strip_name}': added matte strip '{name}' (the mask strip now)"
            except StripError as exc:
                self.message, self.level = f"Recast '{self.strip_name}' matte failed: {exc}", "ERROR"
        elif p.state == "cancelled":
            self.message, self.level = messages.resumes("blender", "matte"), "WARNING"
        else:
            self.message, self.level = f"Recast: the matte failed: {p.error}", "ERROR"


def mask_pattern(scene, plate) -> str | None:
    """The matte sequence of the scene's mask strip for ``plate`` (None without one); StripError when it cannot
    serve: not an EXR image strip, or without a frame for each of the plate's."""
    from recast.core.io.frames import SequencePattern

    name = scene.recast.mask_strip.strip()
    if not name:
        return None
    strip = next((s for s in compat.all_strips(scene.sequence_editor) if s.name == name), None)
    if strip is None:
        raise StripError(f"the mask strip '{name}' is not in the sequencer; choose another, or clear it")
    pattern = strip.get("recast_matte")
    if pattern is None:
        from .plates import _numbered_run

        run = _numbered_run(bpy.path.abspath(strip.directory), [e.filename for e in strip.elements]) \
            if strip.type == "IMAGE" else None
        if run is None:
            raise StripError(f"the mask strip '{name}' is not a numbered EXR sequence; use a matte strip (Matte strip) "
                             "or EXR frames")
        pattern = run[0]
    seq = SequencePattern.parse(pattern)
    missing = [f for f in range(plate.first, plate.last + 1) if not os.path.isfile(seq.path(f))]
    if missing:
        raise StripError(f"the mask strip '{name}' has no frame {missing[0]} for the plate's frame {missing[0]}; use a "
                         "matte made from this strip")
    return pattern


class RECAST_OT_matte_strip(ModalRun, bpy.types.Operator):
    """Make a soft matte of the active strip from the panel's points in the background (Esc cancels); it is added
    as a strip above and becomes the mask strip"""

    bl_idname = "recast.matte_strip"
    bl_label = "Matte strip"

    run_class = MatteRun


class RECAST_OT_matte_point_add(bpy.types.Operator):
    """Add a point at the current frame (set its x and y, from the image's top-left corner, after)"""

    bl_idname = "recast.matte_point_add"
    bl_label = "Add point"

    def execute(self, context):
        s = compat.editing_scene(context).recast
        point = s.matte_points.add()
        point.frame = compat.editing_scene(context).frame_current
        if len(s.matte_points) > 1:
            point.object = s.matte_points[-2].object
        return {"FINISHED"}


class RECAST_OT_matte_point_remove(bpy.types.Operator):
    """Remove this point"""

    bl_idname = "recast.matte_point_remove"
    bl_label = "Remove point"

    index: bpy.props.IntProperty(default=-1)

    def execute(self, context):
        points = compat.editing_scene(context).recast.matte_points
        if not len(points):
            return {"CANCELLED"}
        points.remove(self.index if 0 <= self.index < len(points) else len(points) - 1)
        return {"FINISHED"}


def draw(layout, context, strip) -> None:
    """The Matte box of the panel."""
    scene = compat.editing_scene(context)
    s = scene.recast
    box = layout.box()
    box.label(text="Matte", icon="MOD_MASK")
    for i, point in enumerate(s.matte_points):
        row = box.row(align=True)
        for name in ("frame", "x", "y"):
            row.prop(point, name, text="")
        row.prop(point, "positive", text="+" if point.positive else "−", toggle=True)
        row.prop(point, "object", text="")
        row.operator(RECAST_OT_matte_point_remove.bl_idname, text="", icon="X").index = i
    row = box.row()
    row.operator(RECAST_OT_matte_point_add.bl_idname, icon="ADD")
    row.prop(s, "matte_size", text="")
    run = matting.get(strip.name) if strip else None
    make = box.row()
    make.enabled = strip is not None and run is None
    make.operator(RECAST_OT_matte_strip.bl_idname, icon="MOD_MASK")
    if run is not None:
        box.label(text=run.message)
    mask = box.row()
    if scene.sequence_editor is not None:
        mask.prop_search(s, "mask_strip", scene.sequence_editor, "strips_all" if hasattr(
            scene.sequence_editor, "strips_all") else "sequences_all", text="Mask strip")
    invert = box.row()
    invert.enabled = bool(s.mask_strip.strip())
    invert.prop(s, "mask_invert")


classes = (RECAST_OT_matte_point_add, RECAST_OT_matte_point_remove, RECAST_OT_matte_strip)
