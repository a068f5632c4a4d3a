"""What the artist clicked: points and boxes on frames of the plate, grouped by object.

Text forms (the command line, the job's ``matte`` section, the hosts):

* a click ``F:X,Y`` (positive), ``F:X,Y,+`` or ``F:X,Y,-`` (negative: "not this");
* a box ``F:X0,Y0,X1,Y1`` (two opposite corners, any order);
* ``--object NAME`` starts a new object: the clicks and boxes after it belong to it (before the first,
  to the object ``matte``).

Coordinates are pixels of the plate's **display window**, origin at its top-left corner, x to the right
and y down, as in the file (Nuke's viewer has its origin at the bottom left: the Nuke node converts).
Fractional values are kept (SAM 2 takes sub-pixel points). Checked here, before any pixel is read:
no prompt, a click outside the display window, a frame outside the range, a box of zero area, more
than :data:`MAX_OBJECTS` objects, and names that cannot be channel names each give one line.

Pure Python (no numpy, no torch): the hosts check prompts on Python 3.9 before they start a worker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import JobError

__all__ = ["Click", "Box", "MatteObject", "MAX_OBJECTS", "DEFAULT_OBJECT", "parse_clicks", "parse_box",
           "group_prompts", "objects_from_data", "objects_to_data", "check_objects", "describe_objects"]

MAX_OBJECTS = 16  #: objects per matte (each is tracked on its own; a channel each)
DEFAULT_OBJECT = "matte"  #: the object of prompts given before any ``--object``
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_CLICK = re.compile(rf"^\s*(-?\d+)\s*:\s*({_NUMBER})\s*,\s*({_NUMBER})\s*(?:,\s*([+-]))?\s*$")
_BOX = re.compile(rf"^\s*(-?\d+)\s*:\s*({_NUMBER})\s*,\s*({_NUMBER})\s*,\s*({_NUMBER})\s*,\s*({_NUMBER})\s*$")


@dataclass(frozen=True)
class Click:
    """One click: frame number, display-window pixel (origin top left), positive or negative."""

    frame: int
    x: float
    y: float
    positive: bool = True

    def text(self) -> str:
        return f"{self.frame}:{self.x:g},{self.y:g},{'+' if self.positive else '-'}"


@dataclass(frozen=True)
class Box:
    """A box on one frame: (x0, y0) top-left and (x1, y1) bottom-right corner, display-window pixels."""

    frame: int
    x0: float
    y0: float
    x1: float
    y1: float

    def text(self) -> str:
        return f"{self.frame}:{self.x0:g},{self.y0:g},{self.x1:g},{self.y1:g}"


@dataclass(frozen=True)
class MatteObject:
    """One object to matte: its name (its channel is ``matte.<name>``) and its prompts."""

    name: str
    clicks: tuple[Click, ...] = field(default_factory=tuple)
    boxes: tuple[Box, ...] = field(default_factory=tuple)

    @property
    def frames(self) -> list[int]:
        """The frames this object is prompted on, in order."""
        return sorted({c.frame for c in self.clicks} | {b.frame for b in self.boxes})


def parse_clicks(text: str) -> list[Click]:
    """One or more clicks ``F:X,Y[,+|-]`` separated by spaces or ';'."""
    clicks = []
    for item in [t for t in re.split(r"[;\s]+(?=-?\d+\s*:)", text.strip()) if t.strip()] or [text]:
        m = _CLICK.match(item)
        if not m:
            raise JobError(f"click {item.strip()!r} is not 'FRAME:X,Y' with an optional ',+' or ',-' "
                           "(e.g. '1001:640,360' or '1001:20,30,-')")
        clicks.append(Click(int(m.group(1)), float(m.group(2)), float(m.group(3)), m.group(4) != "-"))
    return clicks


def parse_box(text: str) -> Box:
    """A box ``F:X0,Y0,X1,Y1`` (corners in any order: they are sorted)."""
    m = _BOX.match(text)
    if not m:
        raise JobError(f"box {text.strip()!r} is not 'FRAME:X0,Y0,X1,Y1' (two opposite corners, e.g. "
                       "'1001:100,80,420,600')")
    f, x0, y0, x1, y1 = int(m.group(1)), *(float(m.group(i)) for i in range(2, 6))
    return Box(f, min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def group_prompts(items) -> list[MatteObject]:
    """``items``: ('object', NAME) / ('points', TEXT) / ('box', TEXT) in the order given → objects.
    Prompts before the first object name belong to :data:`DEFAULT_OBJECT`; a name given twice continues
    that object."""
    order: list[str] = []
    clicks: dict[str, list] = {}
    boxes: dict[str, list] = {}
    current = None

    def start(name):
        if name not in clicks:
            order.append(name)
            clicks[name], boxes[name] = [], []
        return name

    for kind, text in items:
        if kind == "object":
            current = start(_check_name(text))
            continue
        if current is None:
            current = start(DEFAULT_OBJECT)
        if kind == "points":
            clicks[current] += parse_clicks(text)
        elif kind == "box":
            boxes[current].append(parse_box(text))
        else:
            raise ValueError(kind)
    return [MatteObject(n, tuple(clicks[n]), tuple(boxes[n])) for n in order]


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise JobError(f"object name {name!r} cannot name a channel: use a letter, then letters, digits or '_' "
                       "(at most 32), e.g. 'actor' or 'car_2'")
    return name


def objects_from_data(data) -> list[MatteObject]:
    """The job's ``matte.objects``: ``[{"name": "actor", "points": ["1001:640,360", ...], "boxes": [...]}, ...]``."""
    if not isinstance(data, list):
        raise JobError("matte objects must be a list such as [{\"name\": \"actor\", \"points\": [\"1001:640,360\"]}]")
    items = []
    for i, obj in enumerate(data):
        if not isinstance(obj, dict) or set(obj) - {"name", "points", "boxes"}:
            raise JobError(f"matte object {i} must be an object with 'name', 'points' and/or 'boxes'")
        items.append(("object", obj.get("name", DEFAULT_OBJECT if i == 0 else f"object{i + 1}")))
        for key, kind in (("points", "points"), ("boxes", "box")):
            values = obj.get(key) or []
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise JobError(f"matte object {i}: '{key}' must be a list of texts such as \"1001:640,360\"")
            items += [(kind, v) for v in values]
    return group_prompts(items)


def objects_to_data(objects) -> list[dict]:
    """The JSON form of ``objects`` (what the job and the matte's header record)."""
    return [{"name": o.name, "points": [c.text() for c in o.clicks], "boxes": [b.text() for b in o.boxes]}
            for o in objects]


def check_objects(objects, width: int, height: int, frames) -> None:
    """JobError for: no prompt, more than :data:`MAX_OBJECTS` objects, an object without a prompt, a frame
    outside ``frames`` (a FrameRange), a click outside the display window (``width`` × ``height``), two boxes
    for one object on one frame, a box of zero area or reaching outside it."""
    if not objects or not any(o.clicks or o.boxes for o in objects):
        raise JobError("no prompt: give at least one click (--points 'FRAME:X,Y') or box (--box "
                       "'FRAME:X0,Y0,X1,Y1') on the object to matte")
    if len(objects) > MAX_OBJECTS:
        raise JobError(f"{len(objects)} objects: at most {MAX_OBJECTS} can be matted in one run; split them "
                       "over several runs")
    for obj in objects:
        if not obj.clicks and not obj.boxes:
            raise JobError(f"object {obj.name!r} has no click and no box; give it one, or leave it out")
        for f in obj.frames:
            if f not in frames:
                raise JobError(f"object {obj.name!r}: frame {f} is outside the range {frames}")
        for c in obj.clicks:
            if not (0 <= c.x <= width and 0 <= c.y <= height):
                raise JobError(f"object {obj.name!r}: click {c.text()} is outside the display window "
                               f"({width}x{height}; x 0..{width}, y 0..{height} from the top left)")
        boxed = [b.frame for b in obj.boxes]
        twice = sorted({f for f in boxed if boxed.count(f) > 1})
        if twice:
            raise JobError(f"object {obj.name!r} has {boxed.count(twice[0])} boxes on frame {twice[0]}: SAM 2 takes one "
                           "box per object and frame; keep one, add clicks, or make another object")
        for b in obj.boxes:
            if b.x1 - b.x0 <= 0 or b.y1 - b.y0 <= 0:
                raise JobError(f"object {obj.name!r}: box {b.text()} has zero area; give two opposite corners")
            if b.x0 < 0 or b.y0 < 0 or b.x1 > width or b.y1 > height:
                raise JobError(f"object {obj.name!r}: box {b.text()} reaches outside the display window "
                               f"({width}x{height})")


def describe_objects(objects) -> str:
    """One line: each object with its prompts' count and frames."""
    return "; ".join(f"{o.name}: {len(o.clicks)} click(s), {len(o.boxes)} box(es) on frames "
                     f"{', '.join(map(str, o.frames))}" for o in objects)
