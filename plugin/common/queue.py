"""The host's list of Recast renders, shared by the node that starts them and the queue panel.

Neither Qt nor a host module is imported here: an entry only wraps a
:class:`~recast.plugin.common.worker.RenderProcess` (or anything with its attributes) with the name
and folder the artist knows it by.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field

__all__ = ["QueuedRender", "RenderQueue", "RENDERS"]

_ids = itertools.count(1)


@dataclass
class QueuedRender:
    name: str  #: what the artist calls it (the node's or strip's name)
    process: object  #: a RenderProcess: state, progress, frames_done, total, elapsed, eta, error, cancel()
    folder: str  #: the output folder ("open folder")
    id: int = field(default_factory=lambda: next(_ids))

    @property
    def running(self) -> bool:
        return self.process.state == "running"

    def cancel(self) -> None:
        if self.running:
            self.process.cancel()


class RenderQueue:
    """Renders in the order they were started; thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: list[QueuedRender] = []

    def add(self, name: str, process, folder: str) -> QueuedRender:
        entry = QueuedRender(name, process, folder)
        with self._lock:
            self._entries.append(entry)
        return entry

    def entries(self) -> list[QueuedRender]:
        with self._lock:
            return list(self._entries)

    def clear_finished(self) -> None:
        with self._lock:
            self._entries = [e for e in self._entries if e.running]


RENDERS = RenderQueue()  #: the process-wide queue the hosts add to and the panel shows
