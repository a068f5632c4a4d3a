"""The Recast node in Nuke: build it, and keep what it shows up to date as its knobs change.

The node is a Group with inputs **plate**, **ref** and **mask**. Inside, Writes put the inputs on disk as EXRs
and a Read brings the result back; a Switch shows the plate until a render has finished, then the result. Its
buttons are :mod:`.render` (Render, Cancel, Submit to farm), :mod:`.models` (Check models, Fetch models) and
:mod:`.training` (Train LoRA); the ``version`` knob points the Read at an earlier render (:mod:`.state`).

The knobs' scripts call ``recast.plugin.nuke_node``, the name saved scripts hold.
"""

from __future__ import annotations

import os

from . import knobs
from .base import nuke, show_state
from .models import check_models
from .live import show_look
from .state import mark_stale, show_version

__all__ = ["create", "build", "input_write", "knob_changed", "update_ui"]

_KNOB_CHANGED = ("try:\n    import recast.plugin.nuke_node as _recast\nexcept ImportError:\n    _recast = None\n"
                 "if _recast is not None:\n    _recast.knob_changed(nuke.thisNode(), nuke.thisKnob())\n")
# Nuke (before 17) runs knobChanged for a scripted setValue only while the panel is open, so staleness is also
# worked out where it cannot be missed: when the panel opens ('showPanel'), on every updateUI, and before a render
_UPDATE_UI = ("try:\n    import recast.plugin.nuke_node as _recast\nexcept ImportError:\n    _recast = None\n"
              "if _recast is not None:\n    _recast.update_ui(nuke.thisNode())\n")


def create(build_node=None):
    """The Nodes toolbar command: a Recast node (or what ``build_node`` makes of a Group) on the selected node."""
    n = nuke()
    selected = n.selectedNodes()
    node = n.createNode("Group", inpanel=False)
    (build_node or build)(node)
    if len(selected) == 1:
        node.setInput(0, selected[0])
    return node


def input_write(nuke, name: str, src, channels: str):
    """An internal Write that puts an input on disk as EXR: 32-bit float (lossless for plates, depth and mattes),
    every metadata attribute kept, disabled (only Recast runs it, never a Render All)."""
    write = nuke.nodes.Write(name=name, inputs=[src])
    write["file_type"].setValue("exr")
    write["channels"].setValue(channels)
    write["datatype"].setValue("32 bit float")
    write["compression"].setValue("Zip (1 scanline)")
    write["create_directories"].setValue(True)
    write["metadata"].setValue("all metadata")  # the plate's header attributes reach the result
    write["disable"].setValue(True)
    return write


def build(node) -> None:
    """Turn an empty Group into a Recast node."""
    n = nuke()
    node.setName("Recast1")
    with node:
        plate = n.nodes.Input(name="plate")
        ref = n.nodes.Input(name="ref")
        mask = n.nodes.Input(name="mask")
        for name, src, channels in (("plate_write", plate, "all"), ("ref_write", ref, "rgba"),
                                    ("mask_write", mask, "all")):
            input_write(n, name, src, channels)
        read = n.nodes.Read(name="result")
        read["on_error"].setValue("error")
        live, look = n.nodes.Read(name="live"), n.nodes.Read(name="look")  # live previews; a preview or variant
        for r in (live, look):
            r["on_error"].setValue("black")
        show = n.nodes.Switch(name="show", inputs=[plate, read, live, look])  # by input: live.SHOW
        n.nodes.Output(inputs=[show])
    knobs.add_knobs(node, n)
    for k in ("first_frame", "last_frame"):
        node[k].setEnabled(not node["use_input_range"].value())
    node["knobChanged"].setValue(_KNOB_CHANGED)
    node["updateUI"].setValue(_UPDATE_UI)
    show_state(node, "new", "not rendered: shows the plate")


def knob_changed(node, knob) -> None:
    """The Group's knobChanged: keep the frame range knobs and the stale mark up to date."""
    name = knob.name()
    if name == "use_input_range":
        for k in ("first_frame", "last_frame"):
            node[k].setEnabled(not knob.value())
    if name in knobs.JOB_KNOBS or name in ("inputChange", "showPanel"):
        mark_stale(node)
    if name == "version":
        show_version(node, int(knob.value()))
    if name == "look":
        show_look(node, knob.value())
    if name in ("model", "model_file", "showPanel"):
        check_models(node, again=False)


def update_ui(node) -> None:
    """The Group's updateUI (Nuke runs it as it redraws the node): the stale mark and the version shown,
    whatever changed the knobs (a script's setValue with the panel closed fires no knobChanged)."""
    mark_stale(node)
    current = node.node("result")["file"].value()
    shown = os.path.basename(os.path.dirname(current)) if current else ""
    if node["version"].value() >= 1 and shown != f"v{int(node['version'].value()):03d}":
        show_version(node, int(node["version"].value()))
