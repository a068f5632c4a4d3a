"""The Recast settings saved on the scene (so they travel with the .blend), and the preferences.

The job parameters come from :data:`recast.plugin.common.params.JOB_PARAMS`, the same table the
Nuke node uses: names, ranges, defaults and help texts cannot drift from the job schema.
"""

import bpy
from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty,
                       StringProperty)

from recast.plugin.common.matte import MATTE_SIZES
from recast.plugin.common.params import JOB_PARAMS, train_param

from . import compat

__all__ = ["RecastMattePoint", "RecastSettings", "RecastPreferences", "classes", "register_scene", "unregister_scene"]


_RELATIVE = compat.BLEND_RELATIVE  # '//' paths, relative to the .blend file
_TOKEN, _STEPS = train_param("train_token"), train_param("train_steps")  # Train LoRA: the job's training defaults


def _prop(p):
    name, doc, value = p.label.capitalize(), p.tooltip, p.default_value
    if p.kind in ("prompt", "text"):
        return StringProperty(name=name, description=doc, default=value or "")
    if p.kind == "file":
        return StringProperty(name=name, description=doc, default=value or "", subtype="FILE_PATH",
                              options=_RELATIVE)
    if p.kind == "int":
        return IntProperty(name=name, description=doc, default=value, min=int(p.lo), max=int(p.hi))
    if p.kind == "float":
        return FloatProperty(name=name, description=doc, default=value, min=p.lo, max=p.hi)
    if p.kind == "bool":
        return BoolProperty(name=name, description=doc, default=value)
    if p.kind == "choice":
        return EnumProperty(name=name, description=doc, default=value, items=[(i, i, "") for i in p.items])
    raise ValueError(f"no Blender property for kind {p.kind!r}")


class RecastMattePoint(bpy.types.PropertyGroup):
    """One click for Matte strip."""

    frame: IntProperty(name="Frame", default=1, description="the timeline frame the point is on")
    x: FloatProperty(name="X", default=0.0, min=0.0, description="pixels from the image's left edge")
    y: FloatProperty(name="Y", default=0.0, min=0.0, description="pixels from the image's top edge")
    positive: BoolProperty(name="On the object", default=True,
                           description="on: the point is on the object; off: it is not (takes a part away)")
    object: StringProperty(name="Object", default="matte",
                           description="the object the point belongs to (each gets its own channel matte.<object>)")


_annotations = {p.name: _prop(p) for p in JOB_PARAMS}
_annotations.update(
    reference_image=StringProperty(name="Reference image", subtype="FILE_PATH", default="", options=_RELATIVE,
                                   description="image whose look to follow (IP-Adapter); empty: the prompt alone"),
    output_folder=StringProperty(name="Output folder", subtype="DIR_PATH", default="//recast/", options=_RELATIVE,
                                 description="where plates, jobs, logs and renders go, one folder per strip "
                                             "('//' is the .blend file's folder)"),
    farm_chunk_size=IntProperty(name="Farm chunk size", default=16, min=1,
                                description="frames per render task when the strip is submitted to the farm "
                                            "(handles come on top)"),
    deadline_pool=StringProperty(name="Deadline pool", default="", description="empty: the repository's default"),
    deadline_group=StringProperty(name="Deadline group", default="", description="empty: the repository's default"),
    deadline_priority=IntProperty(name="Deadline priority", default=50, min=0, max=100,
                                  description="the Deadline jobs' priority, 0-100"),
    train_token=StringProperty(name="LoRA token", default=_TOKEN.default,
                               description="the word a trained LoRA learns for what the strip shows; use it in the "
                                           "prompt (e.g. 'sks person')"),
    train_steps=IntProperty(name="Training steps", default=_STEPS.default, min=int(_STEPS.lo), max=int(_STEPS.hi),
                            description=f"steps of Train LoRA ({_STEPS.default} suits a handful of frames on a GPU)"),
    show_advanced=BoolProperty(name="Advanced", default=False),
    matte_points=CollectionProperty(type=RecastMattePoint, name="Points"),
    matte_size=EnumProperty(name="SAM 2.1 size", default="preset", items=[(i, i, "") for i in MATTE_SIZES],
                            description="the SAM 2.1 model size ('preset': the model preset's own)"),
    variant_prompts=StringProperty(name="Variant prompts", default="",
                                   description="the prompts Variants renders as quick looks, separated by '|'"),
    mask_strip=StringProperty(name="Mask strip", default="",
                              description="a matte strip (Matte strip makes one) limiting the edit: 1 edits, 0 keeps "
                                          "the plate; empty: the whole frame is edited"),
)

RecastSettings = type("RecastSettings", (bpy.types.PropertyGroup,), {"__annotations__": _annotations})


class RecastPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    worker: StringProperty(
        name="Recast worker", subtype="FILE_PATH", default="",
        description="the 'recast' executable of a Python environment with torch (Blender's Python has none); "
                    "empty: $RECAST_WORKER, else 'recast' on PATH")

    use_desk: BoolProperty(
        name="Use desk service", default=True,
        description="render in your desk service, which keeps the models loaded between renders (started on "
                    "demand; renders in a worker of its own when it cannot start)")
    live_previews: BoolProperty(
        name="Live previews", default=True,
        description="while denoising, show a small picture of the frames in hand in a strip above the plate")

    def draw(self, context):
        self.layout.prop(self, "worker")
        self.layout.prop(self, "use_desk")
        self.layout.prop(self, "live_previews")


classes = (RecastMattePoint, RecastSettings, RecastPreferences)


def register_scene():
    bpy.types.Scene.recast = PointerProperty(type=RecastSettings)


def unregister_scene():
    del bpy.types.Scene.recast
