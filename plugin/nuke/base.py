"""What both Recast nodes do with Nuke: tell the artist, set a knob that may be gone, show a state on the tile,
find the output folder and the frame range, write an input, show a sequence in a Read, guard a button."""

from __future__ import annotations

import os

from ..common import messages
from ..common.host_job import HostError
from ..common.worker import worker_command

__all__ = ["NodeError", "nuke", "tell", "set_knob", "show_state", "output_folder", "plate_range", "write_input",
           "show_frames", "press", "cancel_run", "worker"]

# tile colours (0xRRGGBBAA): as built, rendering, rendered, stale, failed
COLOURS = {"new": 0x4B3C78FF, "rendering": 0x3C6EAAFF, "done": 0x5A3C8CFF, "stale": 0xC87820FF,
           "failed": 0xB4282DFF}


class NodeError(HostError):
    """Something to tell the artist in one line; nothing has been started."""


def nuke():
    import nuke

    return nuke


def tell(node, text: str) -> None:
    """One line to the artist: a message box in the GUI, the terminal otherwise."""
    n = nuke()
    line = f"{node.name()}: {' '.join(text.split())}"
    if getattr(n, "GUI", True):
        n.message(line)
    else:
        n.tprint(line)


def set_knob(node, name: str, text: str) -> None:
    try:
        node[name].setValue(text)
    except ValueError:  # the node was deleted meanwhile
        pass


def show_state(node, state: str, label: str) -> None:
    node["tile_color"].setValue(COLOURS[state])
    node["label"].setValue(label)


def press(node, action) -> None:
    """A button's work: ``action()``, and a HostError told to the artist in one line."""
    try:
        action()
    except HostError as exc:
        tell(node, str(exc))


def cancel_run(node, run, nothing: str) -> None:
    """A Cancel button: stop ``run`` (None: tell the artist ``nothing``)."""
    if run is None:
        tell(node, nothing)
        return
    run.process.cancel()
    node["status"].setValue(messages.CANCELLING)


def worker(values: dict) -> list:
    """The worker command of the node's 'worker command' knob (empty: $RECAST_WORKER, else 'recast')."""
    return worker_command(values["worker"].strip() or None)


def output_folder(node, values: dict) -> str:
    """The node's output folder (absolute): the knob's, else recast/<node name> beside the saved script."""
    folder = values["output_folder"].strip()
    if not folder:
        script = nuke().root()["name"].value()
        if not script:
            raise NodeError(messages.NO_OUTPUT_FOLDER)
        folder = os.path.join(os.path.dirname(script), "recast", node.name())
    return os.path.abspath(os.path.expanduser(folder))


def plate_range(node, values: dict) -> tuple[int, int]:
    """The frames to work on: the plate input's, or first/last."""
    plate = node.input(0)
    if plate is None:
        raise NodeError(messages.NO_PLATE)
    if values["use_input_range"]:
        first, last = plate.firstFrame(), plate.lastFrame()
    else:
        first, last = values["first_frame"], values["last_frame"]
    if first > last:
        raise NodeError(messages.empty_range(first, last))
    return first, last


def write_input(node, name: str, pattern: str, first: int, last: int, what: str) -> None:
    """Run the node's internal Write ``name`` into ``pattern`` over ``first..last`` (enabled for that alone)."""
    write = node.node(name)
    write["file"].setValue(pattern)
    write["disable"].setValue(False)
    try:
        nuke().execute(write, first, last, 1)
    except RuntimeError as exc:
        raise NodeError(f"could not write the {what}: {exc}") from None
    finally:
        write["disable"].setValue(True)


def show_frames(read, pattern: str, first: int, last: int) -> None:
    """Point a Read at frames ``first..last`` of ``pattern`` and reload it."""
    read["file"].setValue(pattern)
    for k, v in (("first", first), ("last", last), ("origfirst", first), ("origlast", last)):
        read[k].setValue(v)
    read["reload"].execute()
