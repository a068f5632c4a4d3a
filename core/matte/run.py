"""``recast matte``: a soft matte sequence from a few clicks, as a readable sequence of stages.

1. check   — the plate (frames, layout; the edited part's hero view), the prompts against its display
             window and range, the matte model's presence, an output that names no plate frame, before
             any pixel is read or anything is written;
2. plan    — what makes these mattes (prompts, model, colour, range: the fingerprint) and which frames an
             earlier run already wrote (same fingerprint, same plate file);
3. load    — the preset's SAM 2.1 video model on the device;
4. track   — :func:`.track.track`: prompts, forward and backward passes in bounded memory, checkpointed;
5. write   — each frame when its last visit is done: the objects' soft mattes on the frame's own data window
             (``A``, or ``matte.<object>`` each and ``A`` their union), half float, atomically, with
             the prompts, model and range in the header.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field

from .. import __version__
from ..errors import JobError
from ..io.frames import FrameRange, SequencePattern
from ..job.prompts import check_objects, objects_to_data

__all__ = ["MatteRequest", "MatteResult", "run_matte"]


@dataclass(frozen=True)
class MatteRequest:
    """One matte run: what ``recast matte`` and a job's ``matte`` section ask for."""

    input: str  #: the plate's frame pattern (absolute)
    output: str  #: the matte's frame pattern (absolute, .exr)
    objects: tuple  #: :class:`~.prompts.MatteObject` each
    frames: str | None = None  #: 'A-B'; None: every frame on disk
    colorspace: str | None = None  #: the plate's; None: the file's, else Linear Rec.709
    part: str | None = None  #: a multi-part plate's part (by name)
    model: str = "default"  #: model preset (name or file)
    size: str | None = None  #: SAM 2.1 size (tiny, small, base-plus, large) for a public checkpoint
    device: str = "auto"
    precision: str = "auto"
    model_view: str = "filmic"  #: how the scene-linear plate is shown to the model (as in a render)
    root: str = "."  #: folder a relative preset file is read from


@dataclass
class MatteResult:
    frames: list[int] = field(default_factory=list)  #: frames written
    paths: list[str] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  #: frames an earlier run wrote
    resumed_after: int = -1  #: the visit a checkpoint resumed after
    kept_frames: int = 0  #: most frames' outputs the session held at once (all objects)
    seconds: float = 0.0


def _check(request: MatteRequest):
    from ..job.checks import _model_view
    from ..models.parts import locate
    from ..models.presets import load_preset, with_matte_size
    from ..shot.plate import scan_plate
    from ..shot.protect import check_spares

    if not request.output.lower().endswith(".exr"):
        raise JobError(f"matte output {request.output!r}: give an EXR frame pattern such as 'matte/sh010.####.exr'")
    out = SequencePattern.parse(request.output)
    plate_seq = SequencePattern.parse(request.input)
    plate = scan_plate(plate_seq, FrameRange.parse(request.frames) if request.frames else None, request.part)
    display = plate.header.display_window
    check_objects(request.objects, display.width, display.height, plate.frames)
    try:
        _model_view(request.model_view)
    except ValueError as exc:
        raise JobError(f"model view {request.model_view!r}: expected {exc}") from None
    check_spares(out, plate.frames, [("plate", plate_seq)], frame_range=plate.frames, doing="the matte")
    preset = with_matte_size(load_preset(request.model, request.root), request.size)
    locate(preset, "matte")  # a missing model is one line before anything is written
    return out, plate, preset


def _finished(out, frames, fingerprint: str, stamps: dict) -> list[int]:
    from ..errors import ImageError
    from ..io.exrio import read_header

    done = []
    for f in frames:
        if os.path.isfile(out.path(f)):
            try:
                h = read_header(out.path(f))
            except ImageError:
                continue
            if h.attribute("recast/matte/fingerprint") == fingerprint and h.attribute("recast/plate") == stamps[f]:
                done.append(f)
    return done


def run_matte(request: MatteRequest, reporter, cancel, checkpoint_seconds: float = 30.0) -> MatteResult:
    """Make the mattes of ``request``; returns what was written."""
    from ..io.colour import plate_colorspace
    from ..io.cache import cache_key
    from ..io.stamps import file_stamp
    from ..shot.plate import prepare_output

    started = time.monotonic()
    result = MatteResult()
    # 1-2. check, plan
    out, plate, preset = _check(request)
    space = plate_colorspace(request.colorspace, plate.header.colorspace)
    frames = list(plate.frames)
    prompts = json.dumps(objects_to_data(request.objects), separators=(",", ":"))
    model_id = preset.part("matte").describe()
    fingerprint = cache_key(prompts, model_id, space, request.model_view, plate.canvas, plate.layers[0].key,
                            plate.frames, __version__)
    stamps = {f: file_stamp(plate.path(f)) for f in frames}
    folder = prepare_output(out)
    result.skipped = _finished(out, frames, fingerprint, stamps)
    todo = set(frames) - set(result.skipped)
    reporter.start(job=None, frames=str(plate.frames), total=len(frames), output=out.pattern, stage="matte",
                   objects=[o.name for o in request.objects], model=model_id, skipped=len(result.skipped))
    for f in result.skipped:
        reporter.frame(f, os.path.abspath(out.path(f)), skipped=True)
    if todo:
        header = {"recast/matte/prompts": prompts, "recast/matte/model": model_id,
                  "recast/matte/frames": str(plate.frames), "recast/matte/fingerprint": fingerprint,
                  "recast/matte/colorspace": space, "recast/matte/model_view": request.model_view,
                  "recast/version": __version__}
        _make(request, preset, plate, space, frames, todo, out, folder, fingerprint, stamps, header, reporter, cancel,
              checkpoint_seconds, result)
    result.seconds = time.monotonic() - started
    reporter.done(frames=len(result.frames), skipped=len(result.skipped), output=out.pattern,
                  seconds=round(result.seconds, 3), resumed_after_visit=result.resumed_after)
    return result


def _make(request, preset, plate, space, frames, todo, out, folder, fingerprint, stamps, header, reporter, cancel,
          checkpoint_seconds, result) -> None:
    """Stages 3-5: load the model, track, write each frame on its last visit."""
    from ..io.exrio import read_header
    from ..models.loader import Loader
    from ..shot.display import display_rgb
    from ..shot.model_frames import ModelFrames
    from .frames import channel_names, model_pixels, prompt_tensors, soft_mattes, write_matte
    from .session import BoundedSession
    from .track import Checkpoint, plan_visits, track

    reporter.progress("load", 0, 1)
    loader = Loader(preset, request.device, request.precision)
    model, mean, std = loader.matte()
    size = int(model.config.image_size)
    canvas, layer = plate.canvas, plate.layers[0]
    source = ModelFrames(plate, space, (canvas.width, canvas.height), reporter, [], layer, request.model_view, canvas)

    def frame(index):
        return model_pixels(display_rgb(source.canvas_rgb(frames[index]), space, request.model_view), size, mean, std)

    display = plate.header.display_window
    offset = (display.x - canvas.x, display.y - canvas.y)
    objects = list(request.objects)
    names = channel_names(objects)

    def prompts(obj, index):
        return prompt_tensors(objects[obj], frames[index], offset, (canvas.width, canvas.height), size)

    def write(index, logits, object_ids):
        f = frames[index]
        result.kept_frames = max(result.kept_frames, session.kept_frames())
        if f not in todo:
            return
        order = [object_ids.index(k) for k in range(len(objects))]
        mattes = soft_mattes(logits[order], size, (canvas.width, canvas.height))
        part_header = read_header(plate.path(f), layer.part)
        write_matte(out.path(f), mattes, names, part_header, canvas, plate.window(f, layer.part),
                    {**header, "recast/frame": str(f), "recast/plate": stamps[f]})
        result.frames.append(f)
        result.paths.append(out.path(f))
        reporter.frame(f, os.path.abspath(out.path(f)))

    session = BoundedSession(frame, len(frames), canvas.height, canvas.width, loader.device, loader.dtype,
                             model.config)
    checkpoint = Checkpoint(os.path.join(folder, "recast_cache", "matte", fingerprint + ".safetensors"))
    visits = plan_visits(objects, frames)
    result.resumed_after = track(model, session, objects, visits, prompts, write, reporter, cancel, checkpoint,
                                 checkpoint_seconds)
    checkpoint.remove()
