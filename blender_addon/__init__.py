"""Recast for Blender's Video Sequencer (a Blender 4.2+ extension).

Select a strip, set a prompt (or a reference image) in the sidebar's Recast tab, press
"Recast strip": the shot renders in the separate Recast worker (Blender's Python has no
torch) and comes back as an image strip above the original.
"""

from . import props, ui


def register():
    import bpy

    for cls in props.classes + ui.classes:
        bpy.utils.register_class(cls)
    props.register_scene()


def unregister():
    import bpy

    for run in list(ui.running.values()):
        run.cancel()
    for fetch in list(ui.models_ui.fetching.values()):
        fetch.cancel()
    for run in (list(ui.training.training.values()) + list(ui.matte_ui.matting.values())
                + list(ui.review_ui.reviewing.values()) + list(ui.cutting.values())):
        run.cancel()
    props.unregister_scene()
    for cls in reversed(props.classes + ui.classes):
        bpy.utils.unregister_class(cls)
