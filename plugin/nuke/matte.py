"""The RecastMatte node in Nuke: clicks in the Viewer become a soft matte of the whole shot (SAM 2.1 video).

The node is a Group with one input, **plate**. Inside, a Write puts the plate on disk, a Read brings the
matte back and a Copy puts the matte's alpha into the chosen channel of the plate (alpha by default), so
the node's output can feed the Recast node's **mask** input directly; before a matte exists the plate
passes through. Each set of prompts renders into its own version folder (``matte/v001``, …).

Clicks: drag the **point** handle in the Viewer onto the object, choose + (on it) or − (not on it) and an
object name, and press **Add point**: the current frame and the point (Nuke's bottom-left origin turned into
the file's top-left) become a line of the **prompts** list, which may also be typed (``[object] F:X,Y[,+|-]``
or ``[object] box F:X0,Y0,X1,Y1``: :mod:`recast.plugin.common.matte`). **Matte** runs ``recast matte`` in the
background with progress (its cancel stops it) and a row in the queue panel. ``nuke`` is imported inside
functions, so this module imports without Nuke. The knobs' scripts call ``recast.plugin.nuke_matte``, the name
saved scripts hold.
"""

from __future__ import annotations

import json
import os

from recast.core.io.frames import FrameRange

from ..common import matte, messages
from ..common.models import preset_name
from ..common.params import Param, job_param
from ..common.versions import choose_version, version_folder
from . import knobs
from .base import NodeError, cancel_run, nuke, output_folder, plate_range, press, show_frames, show_state, tell, \
    worker, write_input
from .node import create as create_node, input_write
from .runs import MATTING, Job

__all__ = ["create", "build", "add_point", "remove_point", "clear_points", "render", "cancel", "KNOBS", "Matte"]


def _b(action):
    return f"import recast.plugin.nuke_matte as _matte\n_matte.{action}(nuke.thisNode())"


KNOBS: tuple[Param, ...] = (
    Param("prompts", "prompt", "prompts", default="",
          doc="one prompt a line: '[object] FRAME:X,Y[,+|-]' (a click; '-': not on the object) or '[object] box "
              "FRAME:X0,Y0,X1,Y1'; X, Y are pixels from the top left of the format. Add point fills it from the "
              "Viewer"),
    Param("point", "xy", "point", default=(0.0, 0.0), doc="drag this onto the object in the Viewer, then Add point"),
    Param("point_object", "text", "object", default="matte",
          doc="the object the next point belongs to (each object gets its own channel matte.<object>)"),
    Param("point_sign", "choice", "click", items=("+", "-"), default="+",
          doc="+ the point is on the object; - it is not (to take a wrongly matted part away)"),
    Param("add_point", "button", "Add point", command=_b("add_point"),
          doc="add the point at the current frame to the prompts"),
    Param("remove_point", "button", "Remove last", command=_b("remove_point"), doc="remove the last prompt line"),
    Param("clear_points", "button", "Clear", command=_b("clear_points"), doc="remove every prompt"),
    Param("output_channel", "choice", "output channel",
          items=("rgba.alpha", "mask.a", "rgba.red", "rgba.green", "rgba.blue"), default="rgba.alpha",
          doc="the channel of the node's output that holds the matte (every object's union)"),
    Param("range_divider", "divider", ""),
    Param("use_input_range", "bool", "use input range", default=True,
          doc="matte the plate input's whole frame range; untick to set first and last"),
    Param("first_frame", "int", "first", default=1001, doc="first frame to matte"),
    Param("last_frame", "int", "last", default=1100, doc="last frame to matte"),
    job_param("model"), job_param("model_file"), job_param("device"),
    Param("matte_size", "choice", "SAM 2.1 size", items=matte.MATTE_SIZES, default="preset",
          doc="the SAM 2.1 model size ('preset': the model preset's own, large for 'default')"),
    Param("output_folder", "file", "output folder", default="",
          doc="where the plate, logs and mattes go; empty: recast/<node name> beside the saved script"),
    Param("buttons_divider", "divider", ""),
    Param("render", "button", "Matte", command=_b("render"), doc="write the plate and make the matte in the background"),
    Param("cancel", "button", "Cancel", command=_b("cancel"), doc="stop this node's matte"),
    Param("status", "status", "status", default="no matte yet: shows the plate"),
    job_param("model_view"),
    Param("worker", "text", "worker command", default="", advanced=True,
          doc="command that runs Recast (a Python with torch); empty: $RECAST_WORKER, else 'recast' on PATH"),
)
_VALUES = ("prompts", "output_channel", "use_input_range", "first_frame", "last_frame", "model", "model_file",
           "device", "matte_size", "output_folder", "worker", "model_view")


def create():
    """The Nodes toolbar command: a RecastMatte node on the selected node."""
    return create_node(build)


def build(node) -> None:
    """Turn an empty Group into a RecastMatte node."""
    n = nuke()
    node.setName("RecastMatte1")
    with node:
        plate = n.nodes.Input(name="plate")
        input_write(n, "plate_write", plate, "rgba")
        read = n.nodes.Read(name="matte")
        read["on_error"].setValue("black")
        copy = n.nodes.Copy(name="copy", inputs=[plate, read])
        show = n.nodes.Switch(name="show", inputs=[plate, copy])
        n.nodes.Output(inputs=[show])
    knobs.add_knobs(node, n, KNOBS, "RecastMatte")
    show_state(node, "new", "no matte yet")


# --- the prompts -----------------------------------------------------------------------------

def add_point(node) -> None:
    """The Add point button: the Viewer point at the current frame becomes a prompt line."""
    plate = node.input(0)
    if plate is None:
        tell(node, messages.NO_PLATE)
        return
    height = plate.format().height()
    point = node["point"]
    line = matte.point_line(nuke().frame(), point.value(0), matte.top_down_y(point.value(1), height),
                            node["point_sign"].value() == "+", node["point_object"].getText())
    text = node["prompts"].getText().rstrip("\n")
    node["prompts"].setValue(f"{text}\n{line}" if text else line)


def remove_point(node) -> None:
    lines = node["prompts"].getText().rstrip("\n").splitlines()
    node["prompts"].setValue("\n".join(lines[:-1]))


def clear_points(node) -> None:
    node["prompts"].setValue("")


# --- making the matte ------------------------------------------------------------------------

def render(node) -> None:
    """The Matte button."""
    press(node, lambda: Matte(node).start())


def cancel(node) -> None:
    cancel_run(node, MATTING.get(node.fullName()), "not making a matte")


class Matte(Job):
    """One matte of one node, from the button press to the Copy showing it."""

    doing = "matting"

    def __init__(self, node):
        self.nuke = nuke()
        self.node = node
        self.name = node.fullName()
        self.values = knobs.knob_values(node, _VALUES, KNOBS)

    def start(self) -> None:
        if self.name in MATTING:
            raise NodeError("already making a matte; cancel it first")
        v = self.values
        first, last = plate_range(self.node, v)
        fmt = self.node.input(0).format()
        matte.prompt_objects(v["prompts"], fmt.width(), fmt.height(), FrameRange(first, last))
        preset_name(v["model"], v["model_file"])
        command = worker(v)
        folder = output_folder(self.node, v)
        stem = self.node.name()
        plate_pattern = os.path.join(folder, "plate", f"{stem}.####.exr")
        key = json.dumps({k: v[k] for k in _VALUES if k not in ("output_folder", "worker", "output_channel")} |
                         {"range": [first, last]}, sort_keys=True)
        version = choose_version(os.path.join(folder, "matte"), key)[0]
        out = os.path.join(version_folder(os.path.join(folder, "matte"), version), f"{stem}_matte.####.exr")
        write_input(self.node, "plate_write", plate_pattern, first, last, "plate")
        self.first, self.last, self.out, self.version = first, last, out, version
        self.process = matte.start_matte(self.name, plate_pattern, f"{first}-{last}", v["prompts"], out, v,
                                         v["matte_size"], command, os.path.join(folder, "logs"),
                                         on_event=self._from_worker)
        show_state(self.node, "rendering", f"matting {first}-{last}")
        self._begin(MATTING, self.name, f"RecastMatte {self.name}", f"matting {first}-{last}…", f"matte-{self.name}")

    def _forget(self) -> None:
        MATTING.pop(self.name, None)

    def _finish(self, state: str) -> None:
        try:
            if state == "done":
                show_frames(self.node.node("matte"), self.out, self.first, self.last)
                self.node.node("copy")["to0"].setValue(self.values["output_channel"])
                self.node.node("show")["which"].setValue(1)
                self._status(f"matte {self.first}-{self.last} (v{self.version:03d}) in "
                             f"{self.values['output_channel']} → {self.out}")
                show_state(self.node, "done", f"matte v{self.version:03d}")
            elif state == "cancelled":
                self._status(messages.resumes("nuke", "matte"))
                show_state(self.node, "new", "matte cancelled")
            else:
                self._status(f"failed: {self.process.error}")
                show_state(self.node, "failed", "matte failed")
                tell(self.node, self.process.error or "the matte failed")
        except ValueError:
            pass
