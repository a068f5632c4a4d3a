"""What changed in the sequencer API between Blender 4.2 LTS and 5.0, in one place.

4.2 has ``sequence_editor.sequences`` and ``Sequence`` types; 5.0 has ``strips`` and
``Strip`` types (4.4/4.5 have both); 5.0 picks multilayer EXR through ``media_type`` and
writes its layers as separate parts unless ``use_exr_interleave`` is set; 5.0's sequencer edits
``context.sequencer_scene``, which may not be ``context.scene``.
"""

from contextlib import contextmanager

import bpy

__all__ = ["strips", "all_strips", "editing_scene", "active_strip", "exr_output", "exr_output_for", "BLEND_RELATIVE"]

#: property option that lets a path start with '//' (5.0 warns without it; 4.2 does not know it)
BLEND_RELATIVE = {"PATH_SUPPORTS_BLEND_RELATIVE"} if bpy.app.version >= (5, 0, 0) else set()


def strips(editor):
    """The top-level strip collection (``new_image`` etc.)."""
    return editor.strips if hasattr(editor, "strips") else editor.sequences


def all_strips(editor):
    return editor.strips_all if hasattr(editor, "strips_all") else editor.sequences_all


def editing_scene(context):
    """The scene whose strips the Video Sequencer edits: 5.0's ``context.sequencer_scene`` (the Video Editing
    workspace may edit another scene than ``context.scene``), else ``context.scene``."""
    return getattr(context, "sequencer_scene", None) or context.scene


def active_strip(context):
    editor = editing_scene(context).sequence_editor
    return editor.active_strip if editor is not None else None


def exr_output(image_settings, multilayer: bool) -> None:
    """Render output as 32-bit float EXR (multilayer: every pass, e.g. the depth)."""
    if hasattr(image_settings, "media_type"):  # 5.0
        image_settings.media_type = "MULTI_LAYER_IMAGE" if multilayer else "IMAGE"
        image_settings.file_format = "OPEN_EXR_MULTILAYER" if multilayer else "OPEN_EXR"
    else:
        image_settings.file_format = "OPEN_EXR_MULTILAYER" if multilayer else "OPEN_EXR"
    if hasattr(image_settings, "use_exr_interleave"):  # 5.0 writes layers as parts unless told to interleave
        image_settings.use_exr_interleave = True
    image_settings.color_depth = "32"
    image_settings.exr_codec = "ZIP"
    if not multilayer:
        image_settings.color_mode = "RGBA"



_FORMAT_KEYS = ("media_type", "file_format", "color_depth", "exr_codec", "color_mode", "use_exr_interleave")


@contextmanager
def exr_output_for(image_settings, multilayer: bool):
    """:func:`exr_output` for the duration of a ``with`` block; the artist's settings restored after."""
    saved = {k: getattr(image_settings, k) for k in _FORMAT_KEYS if hasattr(image_settings, k)}
    try:
        exr_output(image_settings, multilayer)
        yield image_settings
    finally:
        for k, v in saved.items():  # media_type first: it decides which file formats are allowed
            setattr(image_settings, k, v)
