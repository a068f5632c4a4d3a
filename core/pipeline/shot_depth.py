"""The shot's depth: from the plate's AOV or the preset's estimator, normalised over the shot, cached.

Depth is computed at the size the model runs at (:mod:`recast.core.io.resolution`) and cached
per shot in ``<output folder>/recast_cache/depth/``: raw per-frame inverse depth keyed by the
frame's content and the depth source (a changed frame is recomputed, the others are not; plate
frames are read ahead of the estimator, a batch at a time), a note of which raw depth each plate
file gave (by the file's size and time, with the source, size and colour: a re-render after a prompt
change reads neither the plate nor the estimator, only that note and the raw depth), and
the shot's normalised sequence ``depth.####.exr`` (channel ``depth.Z``, float, resized to the
plate's windows) keyed by all of them — open it in Nuke to see what the model saw. The maths
(conventions, normalisation, structure levels) is :mod:`.depth`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

from ..io.atomic import atomic_path
from ..io.exrio import Frame, Header, Window, read_frame, write_frame
from ..io.frames import SequencePattern
from ..io.layout import place
from ..io.resolution import resize
from ..shot.layers import find_channel
from ..io.cache import cache_folder, cache_key
from .depth import apply_structure_level, disparity_from_z, estimate_disparity, normalise_shot
from ..io.stamps import file_stamp

__all__ = ["ShotDepth", "shot_depth", "apply_structure_level"]


@dataclass
class ShotDepth:
    """Normalised inverse depth of every frame of a shot (level 0) at the model's size, and where it is cached."""

    frames: dict[int, np.ndarray]  #: frame → H×W float32 in [0, 1], 1 = near, at the model's size
    sequence: SequencePattern  #: the cached ``depth.####.exr`` files (the plate's windows)
    source: str  #: 'estimator:<model>' or 'aov:<channel>'
    range: tuple[float, float]  #: inverse depth mapped to 0 and 1
    computed: int  #: frames whose raw depth was computed (not found in the cache)
    plate_reads: int = 0  #: plate frames read for it (0 when the cache knew every frame by its file)


def _aov_raws(job, plate, size, reporter, cancel, layer, canvas):
    """Raw inverse depth from the plate's depth AOV (CG Z → 1/Z; the layer's own view's where it has one),
    placed on the canvas (far outside a frame's data window), at ``size``."""
    part, channel = find_channel(plate.parts, layer, job.input.depth_channel)
    source = f"aov:{channel}" + (f"@part{part}" if part else "")
    raws, keys = {}, {}
    for i, f in enumerate(plate.frames):
        cancel.check("while reading depth")
        frame = read_frame(plate.path(f), part)
        z = frame.channel(channel)
        on_canvas = place(disparity_from_z(z), frame.header.data_window, canvas, fill=0.0)
        raws[f] = resize(on_canvas, size[0], size[1], "triangle")
        keys[f] = cache_key(source, z, size, str(frame.header.data_window), str(canvas))
        reporter.progress("depth", i + 1, len(plate.frames))
    return source, raws, keys, len(raws), len(raws)


def _by_file(raw_dir, source, size, model_frames, plate):
    """The note of which raw depth each plate file gave (path of the note, and its keys when every raw file is
    still there): the plate's files by size and time, with what else shapes the model's view of them."""
    stamps = [file_stamp(plate.path(f)) for f in plate.frames]
    note = os.path.join(raw_dir, "by_file", cache_key(source, size, model_frames.space, model_frames.view,
                                                      model_frames.layer.key, str(model_frames.canvas),
                                                      str(plate.frames), *stamps) + ".json")
    try:
        with open(note, encoding="utf-8") as fh:
            keys = {int(f): k for f, k in json.load(fh).items()}
    except (OSError, ValueError):
        return note, None
    if set(keys) != set(plate.frames) or not all(os.path.isfile(os.path.join(raw_dir, k + ".exr"))
                                                 for k in keys.values()):
        return note, None
    return note, keys


def _estimated_raws(job, plate, model_frames, size, loader_factory, reporter, cancel):
    """Raw inverse depth from the preset's estimator, a batch at a time (the next batch's plate frames read
    meanwhile), each frame cached by its content; returns (source, raws, keys, computed, plate frames read)."""
    import contextlib

    from ..io.background import read_ahead

    loader = loader_factory()
    part = loader.preset.part("depth")
    source = f"estimator:{part.describe()}@{part.revision or 'main'}"
    raw_dir = os.path.join(cache_folder(job), "depth", "raw", cache_key(source))
    frames = list(plate.frames)
    note, known = _by_file(raw_dir, source, size, model_frames, plate)
    if known is not None:  # every plate file as it was: its raw depth, without reading the plate
        raws = {f: read_frame(os.path.join(raw_dir, known[f] + ".exr")).pixels[:, :, 0] for f in frames}
        reporter.progress("depth", len(frames), len(frames))
        return source, raws, known, 0, 0
    raws, keys, batch, computed = {}, {}, 4, 0
    with contextlib.closing(read_ahead(model_frames.get, frames, batch)) as reader:
        for i in range(0, len(frames), batch):
            cancel.check("while estimating depth")
            images = dict(next(reader) for _ in frames[i:i + batch])
            computed += _estimate(images, raws, keys, raw_dir, source, size, loader, batch)
            reporter.progress("depth", min(i + batch, len(frames)), len(frames))
    os.makedirs(os.path.dirname(note), exist_ok=True)
    with atomic_path(note) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump({str(f): k for f, k in keys.items()}, fh)
    return source, raws, keys, computed, len(frames)


def _estimate(images, raws, keys, raw_dir, source, size, loader, batch) -> int:
    """Raw depth of the frames of ``images`` (frame → model-space image) into ``raws`` and ``keys``: from the cache
    by content, else the estimator (loaded on first need); returns how many were computed."""
    width, height = size
    todo = []
    for f, image in images.items():
        keys[f] = cache_key(source, image, image.shape)
        path = os.path.join(raw_dir, keys[f] + ".exr")
        if os.path.isfile(path):
            raws[f] = read_frame(path).pixels[:, :, 0]
        else:
            todo.append(f)
    if todo:
        model, processor = loader.depth_estimator()
        os.makedirs(raw_dir, exist_ok=True)
        for f, d in zip(todo, estimate_disparity([images[f] for f in todo], model, processor, batch)):
            raws[f] = d
            write_frame(os.path.join(raw_dir, keys[f] + ".exr"), Frame(Header(
                path="", channels=("Z",), formats=("float",), data_window=Window(0, 0, width, height),
                display_window=Window(0, 0, width, height),
                attributes=(("recast/depth_source", "string", source),)), d[:, :, None]))
    return len(todo)


def _write_visible(plate, seq, manifest, frames, source, rng, size, keys, canvas) -> None:
    """The shot's normalised depth as ``depth.####.exr`` over the canvas, and its manifest."""
    os.makedirs(os.path.dirname(manifest), exist_ok=True)
    header = Header(path=seq.pattern, channels=("depth.Z",), formats=("float",), data_window=canvas,
                    display_window=plate.header.display_window, attributes=(("compression", "string", "zip"),))
    for f in plate.frames:
        extra = {"recast/depth_source": source, "recast/depth_range": f"{rng[0]:.9g} {rng[1]:.9g}",
                 "recast/depth_size": f"{size[0]}x{size[1]}",
                 "recast/depth_convention": "normalised inverse depth: 1 near, 0 far"}
        full = np.clip(resize(frames[f], canvas.width, canvas.height, "triangle"), 0.0, 1.0)
        write_frame(seq.path(f), Frame(header, full[:, :, None]), extra)
    with atomic_path(manifest) as tmp, open(tmp, "w") as fh:
        json.dump({"source": source, "frames": str(plate.frames), "size": list(size), "range": rng, "keys": keys}, fh)


def shot_depth(job, plate, model_frames, size: tuple[int, int], loader_factory, reporter, cancel) -> ShotDepth:
    """Depth for every frame of ``plate`` at ``size`` (width, height) for the layer ``model_frames`` shows:
    from the cache, the plate's AOV, or the estimator run on ``model_frames.get(f)`` (model-space frames on
    the canvas at ``size``, read one batch at a time)."""
    layer, canvas = model_frames.layer, model_frames.canvas
    if job.input.depth_channel:
        source, raws, keys, computed, reads = _aov_raws(job, plate, size, reporter, cancel, layer, canvas)
    else:
        source, raws, keys, computed, reads = _estimated_raws(job, plate, model_frames, size, loader_factory,
                                                              reporter, cancel)
    root = os.path.join(cache_folder(job), "depth")
    shot_key = cache_key(source, size, *[keys[f] for f in plate.frames])
    seq = SequencePattern.parse(os.path.join(root, shot_key, "depth.####.exr"))
    manifest = os.path.join(root, shot_key, "shot.json")
    ordered = list(plate.frames)
    normalised, rng = normalise_shot([raws[f] for f in ordered])
    frames = dict(zip(ordered, normalised))
    if not os.path.isfile(manifest):
        _write_visible(plate, seq, manifest, frames, source, rng, size, keys, canvas)
    return ShotDepth(frames, seq, source, rng, computed, reads)
