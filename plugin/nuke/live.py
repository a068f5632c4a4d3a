"""What a Recast node shows besides the plate and its render: the live previews of the render in hand and a
quick look (a preview or variant version, :mod:`recast.plugin.common.looks`).

Inside the Group the ``show`` Switch has, by input: 0 the plate, 1 the render (``result`` Read), 2 the live
previews (``live`` Read on the worker's ``preview.####.png``, reloaded as ``preview`` events arrive), 3 a look
(``look`` Read). The ``look`` knob lists the render and every preview and variant on disk; choosing one shows it.
A node saved before these existed gets its Reads the first time it needs them.
"""

from __future__ import annotations

from ..common.looks import live_pattern, looks
from . import knobs
from .base import NodeError, nuke, output_folder, show_frames

__all__ = ["SHOW", "show_live", "end_live", "choose_look", "show_look", "look_items"]

SHOW = {"plate": 0, "render": 1, "live": 2, "look": 3}  #: the ``show`` Switch's inputs


def _read(node, name: str):
    """The Group's Read ``name`` (``live`` or ``look``) on its input of ``show``, made when missing."""
    read = node.node(name)
    if read is None:
        with node:
            read = nuke().nodes.Read(name=name)
            read["on_error"].setValue("black")  # the live previews cover the window in hand only
    show = node.node("show")
    if show.input(SHOW[name]) is not read:
        for i in range(SHOW[name]):  # a Switch takes its inputs in order
            if show.input(i) is None:
                show.setInput(i, node.node("result"))
        show.setInput(SHOW[name], read)
    return read


def _rendered(node) -> int:
    return SHOW["render"] if node["recast_rendered"].value() else SHOW["plate"]


def show_live(node, event: dict, first: int, last: int) -> None:
    """A ``preview`` event: the node shows the live previews, this frame's picture reloaded."""
    read = _read(node, "live")
    pattern = live_pattern(event["path"])
    if read["file"].value() != pattern:
        show_frames(read, pattern, first, last)
    else:
        read["reload"].execute()
    node.node("show")["which"].setValue(SHOW["live"])


def end_live(node) -> None:
    """A run ended without its result (cancelled, failed): the node shows again what it showed before."""
    show = node.node("show")
    if int(show["which"].value()) == SHOW["live"]:
        show["which"].setValue(_rendered(node))


def _looks(node):
    try:
        return looks(output_folder(node, knobs.knob_values(node, ["output_folder"])))
    except NodeError:  # no output folder yet (an unsaved script): nothing made
        return []


def look_items(node) -> list[str]:
    """The ``look`` knob's items: the render, then every preview and variant on disk, oldest first."""
    return ["render"] + [look.name for look in _looks(node)]


def choose_look(node, name: str) -> None:
    """Refresh the ``look`` knob's list from disk and set it to ``name`` (showing nothing new)."""
    knob = node.knob("look")
    if knob is None:
        return
    items = look_items(node)
    knob.setValues(items)
    knob.setValue(name if name in items else "render")


def show_look(node, name: str) -> None:
    """The ``look`` knob changed: show the render, or that preview or variant's frames."""
    if name == "render":
        node.node("show")["which"].setValue(_rendered(node))
        return
    found = next((look for look in _looks(node) if look.name == name), None)
    if found is None or found.output is None or found.frames is None:
        node["status"].setValue(f"there is no {name} on disk any more")
        return
    show_frames(_read(node, "look"), found.output, *found.frames)
    node.node("show")["which"].setValue(SHOW["look"])
    node["status"].setValue(f"showing {name}")
