"""Worker runs followed from Nuke's main thread, and the registries of the runs in progress.

Threads: everything here runs on Nuke's main thread except the worker's event reader and a ticker, which reach
Nuke only through ``nuke.executeInMainThread`` (never called from the main thread: that hangs Nuke).
"""

from __future__ import annotations

import threading
import time

from ..common.host_job import progress_text
from .base import set_knob

__all__ = ["Followed", "Job", "ACTIVE", "TRAINING", "FETCHING", "KNOWN", "MATTING"]

ACTIVE: dict = {}  # node full name → Render (main thread only)
FETCHING: dict = {}  # preset → Fetch: one fetch of a preset at a time (main thread only)
KNOWN: dict = {}  # preset → the last check's line, so opening a panel does not ask the worker again
TRAINING: dict = {}  # node full name → Train (main thread only)
MATTING: dict = {}  # node full name → Matte (main thread only)


class Followed:
    """A worker run followed from Nuke's main thread: events and a ticker marshalled there, a ProgressTask
    whose cancel button stops the worker. Subclasses set ``process`` and ``task`` and define ``_on_event``;
    ``_status`` sets the node's status line."""

    finished = False
    cancelling = False
    task = None
    process = None

    def _follow(self, name: str) -> None:
        threading.Thread(target=self._tick_loop, name=f"recast-tick-{name}", daemon=True).start()

    def _tick_loop(self) -> None:  # worker thread: touches Nuke only through executeInMainThread
        while not self.finished:
            time.sleep(0.2)
            if not self.finished:
                self.nuke.executeInMainThread(self._tick)

    def _from_worker(self, event: dict) -> None:  # reader thread
        self.nuke.executeInMainThread(self._on_event, args=(event,))

    def _tick(self) -> None:
        if self.task is not None and self.task.isCancelled() and not self.cancelling:
            self.cancelling = True
            self.process.cancel()
            self._status("cancelling…")

    def _begin(self, registry: dict, key: str, title: str, status: str, follow: str,
               message: str = "starting the worker") -> None:
        """The run has started: its ProgressTask ``title`` saying ``message``, its entry in ``registry``,
        ``status`` shown, the ticker following it."""
        self.task = self.nuke.ProgressTask(title)
        self.task.setMessage(message)
        registry[key] = self
        self._status(status)
        self._follow(follow)

    def _status(self, text: str) -> None:
        set_knob(self.node, "status", text)  # the node may be deleted meanwhile: the run goes on, in the queue panel


class Job(Followed):
    """A background job that is not a render (a fetch, a training, a matte): its progress in the task and the
    status line (``doing`` says what it is), ``_finish(state)`` at the end, ``_forget()`` its registry entry."""

    doing = ""

    def _on_event(self, event: dict) -> None:
        if self.finished:
            return
        kind = event.get("event")
        if kind == "exit":
            self.finished, self.task = True, None
            self._forget()
            self._finish(event["state"])
        elif kind == "progress" and self.task is not None:
            text = progress_text(self.process, event)
            self.task.setMessage(text)
            self.task.setProgress(int(round(self.process.progress * 100)))
            self._status(f"{self.doing}: {text}")
