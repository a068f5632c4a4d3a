"""A strip's visible frames as an EXR plate the worker can read.

* Image strips of numbered EXR frames are used where they lie (no copy).
* Other image strips (PNG, JPEG, TIFF, EXRs that are not one numbered run) are written
  as EXR through Blender's own image I/O, which converts them to scene linear.
* Movie strips are rendered through a temporary scene holding only that strip.
* A converted plate is kept with a note of its source (files' sizes and times, range, offsets):
  a second press on an unchanged strip reuses it, so the worker resumes instead of starting over.
* Scene strips render their scene with the depth pass on, as multilayer EXR, so a CG shot
  steers Recast with its true depth ('ViewLayer.Depth.Z') instead of an estimate.

Blender's scene-linear space is Linear Rec.709 unless a strip says otherwise.
"""

import json
import os
import re

import bpy

from recast.core.io.frames import SequencePattern
from recast.plugin.common.host_job import HostError

from . import compat

__all__ = ["Plate", "PlateError", "plate_for"]

_BLENDER_SPACES = {"Linear Rec.709": "Linear Rec.709 (sRGB)", "Linear": "Linear Rec.709 (sRGB)",
                   "ACEScg": "ACEScg", "Linear Rec.2020": "Linear Rec.2020", "ACES2065-1": "ACES2065-1"}
LINEAR = "Linear Rec.709 (sRGB)"


class PlateError(HostError):
    """A strip Recast cannot use, in one line."""


class Plate:
    """EXR frames ``first..last`` of ``pattern``, in ``colorspace``, with an optional depth channel."""

    def __init__(self, pattern, first, last, colorspace, depth_channel=None, blender_space="Linear Rec.709"):
        self.pattern, self.first, self.last = pattern, first, last
        self.colorspace, self.depth_channel, self.blender_space = colorspace, depth_channel, blender_space


def _writable(folder: str) -> str:
    """``folder`` created if needed; PlateError, one line, when it cannot be (a file in the way, no rights)."""
    try:
        os.makedirs(folder, exist_ok=True)
        probe = os.path.join(folder, ".recast-probe")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as exc:
        raise PlateError(f"the plate cannot be written to {folder}: {exc.strerror or exc}; choose another output "
                         "folder in the Recast panel") from None
    return folder


def _stamp(paths) -> list:
    """What identifies source files: path, size and modification time of each."""
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append([p, st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([p, None, None])
    return out


def _reuse(folder: str, pattern: str, first: int, last: int, source: dict) -> bool:
    """True when the plate in ``folder`` was converted from this very ``source`` and every frame is there, so
    a second press (after a cancel, say) finds the same plate files and the worker resumes."""
    try:
        with open(os.path.join(folder, ".recast-source.json"), encoding="utf-8") as fh:
            if json.load(fh) != source:
                return False
    except (OSError, ValueError):
        return False
    seq = SequencePattern.parse(pattern)
    return all(os.path.isfile(seq.path(f)) for f in range(first, last + 1))


def _remember(folder: str, source: dict) -> None:
    tmp = os.path.join(folder, ".recast-source.json.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(source, fh)
    os.replace(tmp, os.path.join(folder, ".recast-source.json"))


def plate_for(strip, scene, folder: str) -> Plate:
    """The plate for ``strip`` (its visible frames); writes into ``folder``/plate when it must."""
    kind = strip.type
    if kind == "IMAGE":
        return _image(strip, scene, folder)
    if kind == "MOVIE":
        return _render_strip(strip, scene, folder)
    if kind == "SCENE":
        return _scene(strip, folder)
    raise PlateError(f"strip '{strip.name}' is a {kind.lower()} strip; Recast works on image-sequence, movie and "
                     "scene strips")


def _visible_elements(strip):
    start = int(round(strip.frame_offset_start))
    return list(strip.elements)[start:start + int(strip.frame_final_duration)]


def _image(strip, scene, folder):
    directory = bpy.path.abspath(strip.directory)
    names = [e.filename for e in _visible_elements(strip)]
    space = strip.colorspace_settings.name
    missing = [n for n in names if not os.path.isfile(os.path.join(directory, n))]
    if missing:
        raise PlateError(f"strip '{strip.name}': {len(missing)} frame(s) missing on disk, e.g. "
                         f"{os.path.join(directory, missing[0])}")
    run = _numbered_run(directory, names)
    if run is not None:
        pattern, first, last = run
        return Plate(pattern, first, last, _BLENDER_SPACES.get(space, space), blender_space=space)
    plate_dir = _writable(os.path.join(folder, "plate"))
    pattern = os.path.join(plate_dir, f"{_stem(strip.name)}.####.exr")
    first = int(strip.frame_final_start)
    source = {"kind": "image", "space": space, "first": first, "files": _stamp(os.path.join(directory, n)
                                                                              for n in names)}
    if not _reuse(plate_dir, pattern, first, first + len(names) - 1, source):
        for i, name in enumerate(names):
            _to_exr(os.path.join(directory, name), SequencePattern.parse(pattern).path(first + i), scene)
        _remember(plate_dir, source)
    return Plate(pattern, first, first + len(names) - 1, LINEAR)


def _numbered_run(directory, names):
    """(pattern, first, last) when ``names`` are EXRs numbered one after another, else None."""
    parts = [re.match(r"^(.*?)(\d+)(\.exr)$", n, re.IGNORECASE) for n in names]
    if not names or not all(parts) or len({(m.group(1), len(m.group(2)), m.group(3)) for m in parts}) != 1:
        return None
    numbers = [int(m.group(2)) for m in parts]
    if numbers != list(range(numbers[0], numbers[0] + len(numbers))):
        return None
    m = parts[0]
    return os.path.join(directory, f"{m.group(1)}{'#' * len(m.group(2))}{m.group(3)}"), numbers[0], numbers[-1]


def _to_exr(src, dst, scene):
    """One image written as a float EXR in scene linear, through Blender's image I/O."""
    image = bpy.data.images.load(src, check_existing=False)
    try:
        with compat.exr_output_for(scene.render.image_settings, multilayer=False):
            image.save_render(dst, scene=scene)
    finally:
        bpy.data.images.remove(image)
    if not os.path.isfile(dst):
        raise PlateError(f"could not convert {src} to EXR")


def _render_strip(strip, scene, folder):
    """Render a movie strip's visible frames through a temporary scene that holds only it."""
    tmp = bpy.data.scenes.new("recast_plate")
    try:
        editor = tmp.sequence_editor_create()
        copy = compat.strips(editor).new_movie(strip.name, bpy.path.abspath(strip.filepath), 1, int(strip.frame_start))
        copy.frame_offset_start, copy.frame_offset_end = strip.frame_offset_start, strip.frame_offset_end
        elem = copy.elements[0] if len(copy.elements) else None
        width, height = (elem.orig_width, elem.orig_height) if elem and elem.orig_width else (
            scene.render.resolution_x, scene.render.resolution_y)
        tmp.render.resolution_x, tmp.render.resolution_y, tmp.render.resolution_percentage = width, height, 100
        tmp.render.fps, tmp.render.fps_base = scene.render.fps, scene.render.fps_base
        first, last = int(strip.frame_final_start), int(strip.frame_final_end) - 1
        source = {"kind": "movie", "files": _stamp([bpy.path.abspath(strip.filepath)]), "first": first, "last": last,
                  "offsets": [strip.frame_offset_start, strip.frame_offset_end], "size": [width, height],
                  "fps": [scene.render.fps, scene.render.fps_base]}
        plate_dir = _writable(os.path.join(folder, "plate"))
        pattern = os.path.join(plate_dir, f"{_stem(strip.name)}.####.exr")
        if _reuse(plate_dir, pattern, first, last, source):
            return Plate(pattern, first, last, LINEAR)
        plate = _render(tmp, first, last, folder, strip.name, multilayer=False, use_sequencer=True)
        _remember(plate_dir, source)
        return plate
    finally:
        bpy.data.scenes.remove(tmp)


def _scene(strip, folder):
    """Render a scene strip's scene over its visible frames, with the depth pass."""
    source = strip.scene
    if source is None:
        raise PlateError(f"strip '{strip.name}' shows no scene")
    layer = source.view_layers[0]
    use_z = layer.use_pass_z
    layer.use_pass_z = True
    offset = int(round(strip.frame_offset_start))
    first = source.frame_start + offset
    last = first + int(strip.frame_final_duration) - 1
    try:
        plate = _render(source, first, last, folder, strip.name, multilayer=True, use_sequencer=False)
    finally:
        layer.use_pass_z = use_z
    plate.depth_channel = f"{layer.name}.Depth.Z"
    return plate


def _render(scene, first, last, folder, name, multilayer, use_sequencer):
    """Render ``scene`` frames ``first..last`` to ``folder``/plate as EXR; settings restored after."""
    pattern = os.path.join(_writable(os.path.join(folder, "plate")), f"{_stem(name)}.####.exr")
    r = scene.render
    saved = (scene.frame_start, scene.frame_end, r.filepath, r.use_sequencer, r.use_compositing,
             r.use_file_extension)
    try:
        scene.frame_start, scene.frame_end = first, last
        r.filepath, r.use_file_extension = pattern.replace("####.exr", "####"), True
        r.use_sequencer, r.use_compositing = use_sequencer, False
        with compat.exr_output_for(r.image_settings, multilayer):
            bpy.ops.render.render(animation=True, scene=scene.name)
    finally:
        (scene.frame_start, scene.frame_end, r.filepath, r.use_sequencer, r.use_compositing,
         r.use_file_extension) = saved
    seq = SequencePattern.parse(pattern)
    missing = [f for f in range(first, last + 1) if not os.path.isfile(seq.path(f))]
    if missing:
        raise PlateError(f"rendering '{name}' to EXR left {len(missing)} frame(s) missing, e.g. {seq.path(missing[0])}")
    return Plate(pattern, first, last, LINEAR)


def _stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "strip"
