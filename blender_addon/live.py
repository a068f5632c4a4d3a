"""Live previews and quick looks of a strip's run, on the timeline (:class:`~.strip_render.StripRender` calls here).

While a render runs with live previews, a strip ``<strip> recast live`` above the plate shows the worker's small
pictures of the frames in hand (``preview.####.png``, rewritten each step); it goes when the run ends. A finished
preview becomes ``<strip> preview vNNN``; variants become ``<strip> variant vNNN <values>`` strips stacked above
the plate, muted but the first (Choose variant picks another).
"""

import os

import bpy

from recast.plugin.common.looks import Look, live_pattern, variant_label

from . import compat
from .strip_render import StripError, add_image_strip

__all__ = ["show_live", "end_live", "add_look_strips"]


def show_live(run) -> None:
    """The live previews as a strip above the plate (``<strip> recast live``): made again when frames are added
    (the next window), its images reloaded as they are rewritten each step."""
    scene = bpy.data.scenes[run.scene_name]
    frames = sorted(run.process.previews)
    pattern = live_pattern(run.process.previews[frames[0]]["path"])
    shown = getattr(run, "_live_frames", None)
    if shown != frames:
        end_live(run)
        first = frames[0]
        last = first
        while last + 1 in run.process.previews:
            last += 1
        try:
            run.live_strip = add_image_strip(scene, run.strip_name, pattern, first, last,
                                              f"{run.strip_name} recast live", "sRGB",
                                              offset=first - run.plate.first)
            run._live_frames = frames
        except StripError:
            return
    for image in bpy.data.images:  # the sequencer's cache of the rewritten files
        if image.filepath.endswith(".png") and "preview" in image.filepath:
            image.reload()
    try:
        bpy.ops.sequencer.refresh_all()
    except RuntimeError:  # no sequencer in this context (headless): the strip reads the files when drawn
        pass


def end_live(run) -> None:
    """The live strip goes (the run ended: its result strip, if any, takes its place)."""
    if run.live_strip is None:
        return
    editor = bpy.data.scenes[run.scene_name].sequence_editor
    strip = next((s for s in compat.all_strips(editor) if s.name == run.live_strip), None)
    if strip is not None:
        compat.strips(editor).remove(strip)
    run.live_strip, run._live_frames = None, None


def add_look_strips(run, scene) -> str:
    """A finished preview's strip, or the variants' strips (stacked, muted but the first): the first's name."""
    if run.kind == "preview":
        made = run.process.version or {}
        look = Look("preview", int(made.get("version", 0)), os.path.dirname(made.get("output", "")))
        first, last = look.frames or (run.plate.first, run.plate.last)
        name = add_image_strip(scene, run.strip_name, look.output, first, last,
                               f"{run.strip_name} preview v{look.version:03d}", run.plate.blender_space,
                               offset=first - run.plate.first)
        run.added = (name,)
        return name
    added = []
    for k, event in enumerate(run.process.variants):
        look = Look("variant", int(event["version"]), os.path.dirname(event["output"]))
        first, last = look.frames or (run.plate.first, run.plate.last)
        name = add_image_strip(scene, run.strip_name, event["output"], first, last,
                               f"{run.strip_name} variant v{look.version:03d} "
                               f"{variant_label(event.get('values') or {})}"[:63],
                               run.plate.blender_space, offset=first - run.plate.first)
        strip = next(s for s in compat.all_strips(scene.sequence_editor) if s.name == name)
        strip.mute = k > 0  # stacked above the plate, the first one chosen
        added.append(name)
    run.added = tuple(added)
    if not added:
        raise StripError("the worker made no variants")
    return added[0]
