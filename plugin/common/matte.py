"""'Matte' for the hosts: clicks typed or placed in the host become ``recast matte`` in the background, like a
render (a row in the queue, progress, cancel, resume), and the matte comes back as a sequence the host shows.

The host keeps its clicks as lines of text, one prompt a line (the Nuke node's point list, the Blender
panel's point rows), in the command line's own words::

    [OBJECT] FRAME:X,Y[,+|-]          a click (positive unless '-')
    [OBJECT] box FRAME:X0,Y0,X1,Y1    a box

X and Y are pixels of the plate's display window from its top-left corner. Lines without an object name
belong to the object of the line before (the first: 'matte'). Checked here, before anything is written,
against the plate's format and frame range. No host module is imported here.
"""

from __future__ import annotations

import os

from recast.core.errors import RecastError
from recast.core.job.sections import SAM_SIZES
from recast.core.matte.prompts import DEFAULT_OBJECT, check_objects, group_prompts

from .host_job import HostError
from .models import preset_name
from .queue import RENDERS
from .worker import WorkerProcess

__all__ = ["MatteProcess", "prompt_items", "prompt_objects", "point_line", "top_down_y", "start_matte",
           "MATTE_SIZES"]

MATTE_SIZES = ("preset", *SAM_SIZES)  #: the hosts' SAM 2.1 size menu ('preset': the preset's own)


class MatteProcess(WorkerProcess):
    """``recast matte``: progress counts frames written; ``out`` is the matte's frame pattern."""

    def __init__(self, args: list[str], name: str, out: str, command=None, log_dir=None, on_event=None):
        super().__init__(["matte", *args], name, command, log_dir, on_event)
        self.out = out


def prompt_items(text: str) -> list[tuple[str, str]]:
    """The host's prompt lines as ('object'|'points'|'box', value) items, in order."""
    items = []
    for n, raw in enumerate(text.splitlines(), 1):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        if ":" not in words[0] and words[0] != "box":
            items.append(("object", words.pop(0)))
        if words and words[0] == "box":
            if len(words) != 2:
                raise HostError(f"prompt line {n} ({raw.strip()!r}): a box is 'box FRAME:X0,Y0,X1,Y1'")
            items.append(("box", words[1]))
        elif len(words) == 1:
            items.append(("points", words[0]))
        else:
            raise HostError(f"prompt line {n} ({raw.strip()!r}): give one click 'FRAME:X,Y[,+|-]' or one box "
                            "'box FRAME:X0,Y0,X1,Y1', with the object's name in front if it is not the one before")
    return items


def prompt_objects(text: str, width: int, height: int, frames) -> list:
    """The objects of the host's prompt lines, checked against the plate (display ``width`` × ``height``, a
    FrameRange ``frames``); HostError with the one line to show."""
    try:
        objects = group_prompts(prompt_items(text))
        check_objects(objects, width, height, frames)
    except RecastError as exc:
        raise HostError(str(exc)) from None
    return objects


def point_line(frame: int, x: float, y: float, positive: bool = True, obj: str = "") -> str:
    """One click as a prompt line (``x``, ``y`` from the top left, rounded to a tenth of a pixel)."""
    name = obj.strip()
    head = f"{name} " if name and name != DEFAULT_OBJECT else ""
    return f"{head}{frame}:{round(x, 1):g},{round(y, 1):g},{'+' if positive else '-'}"


def top_down_y(y_up: float, height: int) -> float:
    """A y measured up from the bottom (Nuke's viewer, Blender's image space) as Recast's y down from the top."""
    return height - y_up


def start_matte(name: str, plate: str, frames: str, text: str, out: str, values: dict, size: str = "preset",
                command=None, log_dir: str | None = None, on_event=None) -> MatteProcess:
    """Start ``recast matte`` on ``plate`` (a frame pattern) over ``frames`` ('A-B') with the prompt lines ``text``
    (already checked with :func:`prompt_objects`), writing ``out``; ``values`` are the host's model, model
    file, device and model view. The run is in the host's render queue."""
    args = ["--input", plate, "--frames", frames, "--output", out, "--model",
            preset_name(values["model"], values["model_file"]), "--device", values["device"],
            "--model-view", values.get("model_view") or "filmic"]
    for kind, value in prompt_items(text):
        args += [{"object": "--object", "points": "--points", "box": "--box"}[kind], value]
    if size and size != "preset":
        args += ["--matte-size", size]
    os.makedirs(os.path.dirname(out), exist_ok=True)
    process = MatteProcess(args, f"{name}_matte", out, command, log_dir, on_event)
    RENDERS.add(f"matte '{name}'", process, os.path.dirname(out))
    return process
