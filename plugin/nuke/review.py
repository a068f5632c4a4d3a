"""The Recast node's Review and Use approved buttons.

**Review** runs ``recast review`` on the node's render, previews and variants in the background
(:mod:`recast.plugin.common.review`) and opens the page in the default browser when it is written. **Use approved**
reads the decisions exported from the page (the ``decisions file`` knob, else a file chooser) and switches the
node's ``show`` menu to the approved preview or variant, or its ``version`` to the approved render.
"""

from __future__ import annotations

import os

from ..common import review as common
from . import knobs
from .base import NodeError, nuke, output_folder, press, show_frames, tell, worker
from .live import SHOW, choose_look, show_look
from .runs import Job

__all__ = ["review", "use_approved", "Review", "REVIEWING"]

REVIEWING: dict = {}  # node full name → Review (main thread only)


def review(node) -> None:
    """The Review button."""
    press(node, lambda: Review(node).start())


class Review(Job):
    """One ``recast review`` of the node's work, the page opened when done."""

    doing = "writing the review"

    def __init__(self, node):
        self.nuke = nuke()
        self.node = node
        self.name = node.fullName()
        self.url = None  #: the page's URL, once opened

    def start(self) -> None:
        if self.name in REVIEWING:
            raise NodeError("the review of this node is being written already")
        values = knobs.knob_values(self.node, ["output_folder", "worker"])
        folder = output_folder(self.node, values)
        self.process = common.ReviewProcess(folder, self.node.name(), worker(values),
                                            os.path.join(folder, "logs"), on_event=self._from_worker)
        self._begin(REVIEWING, self.name, f"Recast {self.name}: review", "writing the review…", f"review-{self.name}")

    def _forget(self) -> None:
        REVIEWING.pop(self.name, None)

    def _finish(self, state: str) -> None:
        try:
            if state == "done" and self.process.page:
                self.url = common.open_page(self.process.page)
                self._status(f"review: {self.process.page} (opened in the browser)")
            elif state == "cancelled":
                self._status("review cancelled")
            else:
                self._status(f"review failed: {self.process.error}")
                tell(self.node, f"the review failed: {self.process.error}")
        except ValueError:  # the node was deleted meanwhile
            pass


def _picks(node) -> str | None:
    """The decision file: the knob's, else one the artist chooses (None: the chooser was cancelled)."""
    knob = node.knob("decisions")
    given = knob.getText().strip() if knob is not None else ""
    if given:
        return os.path.abspath(os.path.expanduser(given))
    return nuke().getFilename("Recast: the decisions exported from the review (recast_picks.json)", "*.json")


def use_approved(node) -> None:
    """The Use approved button: the node shows the version the review's decisions approve."""
    def use():
        picks = _picks(node)
        if not picks:
            return
        folder = output_folder(node, knobs.knob_values(node, ["output_folder"]))
        pick = common.approved_version(picks, folder, node.name())
        if pick.kind != "render":
            choose_look(node, pick.look)
            show_look(node, pick.look)
            shown = pick.look
        else:
            first, last = pick.frames
            show_frames(node.node("result"), pick.output, first, last)
            node["version"].setValue(pick.version)
            choose_look(node, "render")
            node.node("show")["which"].setValue(SHOW["render"])
            shown = f"render v{pick.version:03d}"
        node["status"].setValue(f"showing the approved {shown}" + (f" — note: {pick.note}" if pick.note else ""))

    press(node, use)
