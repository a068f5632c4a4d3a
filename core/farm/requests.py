"""The server's requests and their queue: one render at a time per server (one device), in order of
priority (previews before full renders), then of arrival.

A :class:`Request` keeps every event line its render wrote, so any number of clients can follow it
from its first line — the one that asked for it, and a host that re-attaches by its id after a
crash (``{"attach": id}``). Finished requests are kept (the last :data:`KEEP_FINISHED`) for hosts
that re-attach after the end. A request is cancelled whether it waits in the queue (it ends at once
with a ``Cancelled`` error) or runs (its cancel flag: the render stops after the window in hand).
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections import OrderedDict

from ..errors import exit_code

__all__ = ["Request", "RequestQueue", "PREVIEW", "RENDER", "KEEP_FINISHED"]

PREVIEW, RENDER = 0, 1  #: priorities: a preview goes ahead of every full render waiting
KEEP_FINISHED = 64  #: finished requests kept for clients that re-attach later
SIGTERM = 15


class Request:
    """One client's render (or set of variants): its events, its cancel flag, where it stands."""

    _seq = itertools.count()

    def __init__(self, body: dict, priority: int = RENDER, persist: bool = False, rid: str | None = None):
        from ..progress import CancelFlag

        self.id = rid or secrets.token_hex(6)
        self.body, self.priority, self.persist = body, priority, persist
        self.order = next(self._seq)
        self.cancel = CancelFlag()
        self.state = "queued"  #: queued, running, done
        self.code: int | None = None
        self.submitted = time.time()
        self.progress: dict | None = None  #: the last progress event (what ``desk status`` shows)
        self.cancelled_because: str | None = None  #: why it was cancelled (the server's log says)
        self._lines: list[str] = []
        self._cond = threading.Condition()

    # --- what a render's Reporter writes to ------------------------------------------------
    def write(self, text: str) -> int:
        with self._cond:
            for line in text.splitlines():
                if line.strip():
                    self._lines.append(line)
                    if line.startswith('{"event": "progress"'):
                        try:
                            self.progress = json.loads(line)
                        except ValueError:
                            pass
            self._cond.notify_all()
        return len(text)

    def flush(self) -> None:
        pass

    def finish(self, code: int) -> None:
        with self._cond:
            if self.state == "done":
                return
            self.code, self.state = code, "done"
            self._lines.append(json.dumps({"event": "exit", "code": code, "id": self.id}))
            self._cond.notify_all()

    def lines_from(self, start: int, wait: float) -> tuple[list[str], bool]:
        """The event lines from index ``start`` (waiting up to ``wait`` seconds for one); and whether the request
        has ended (its exit line is among them)."""
        with self._cond:
            if len(self._lines) <= start and self.state != "done":
                self._cond.wait(wait)
            return self._lines[start:], self.state == "done"

    def describe(self) -> dict:
        job = self.body.get("job") if isinstance(self.body.get("job"), dict) else {}
        out = job.get("output") if isinstance(job.get("output"), dict) else {}
        about = {"id": self.id, "state": self.state, "kind": self.body.get("kind", "render"),
                 "preview": self.priority == PREVIEW, "output": out.get("pattern"), "prompt": job.get("prompt"),
                 "submitted": round(self.submitted, 3)}
        if self.progress is not None:
            about["progress"] = {k: self.progress.get(k) for k in ("stage", "done", "total")}
        if self.code is not None:
            about["code"] = self.code
        return about


class RequestQueue:
    """Requests waiting, the one running, and the finished ones kept for re-attaching."""

    def __init__(self):
        self._waiting: list[Request] = []
        self._known: OrderedDict[str, Request] = OrderedDict()
        self._cond = threading.Condition()
        self.running: Request | None = None
        self.closed = False

    def submit(self, request: Request) -> int:
        """Queue ``request`` (its ``queued`` event written); returns how many requests are ahead of it (the one
        running counts)."""
        with self._cond:
            if request.id in self._known:
                raise ValueError(f"a request with id {request.id!r} exists already")
            self._waiting.append(request)
            self._waiting.sort(key=lambda r: (r.priority, r.order))
            self._known[request.id] = request
            self._forget_old()
            ahead = self._waiting.index(request) + (self.running is not None)
            # its first event, before the runner can take it (under the lock): the id a host keeps to re-attach
            request.write(json.dumps({"event": "queued", "id": request.id, "ahead": ahead}) + "\n")
            self._cond.notify_all()
            return ahead

    def next(self, wait: float) -> Request | None:
        """The next request to run (now running), or None after ``wait`` seconds with none."""
        with self._cond:
            if not self._waiting:
                self._cond.wait(wait)
            if not self._waiting or self.closed:
                return None
            self.running = self._waiting.pop(0)
            self.running.state = "running"
            return self.running

    def ended(self, request: Request, code: int) -> None:
        with self._cond:
            request.finish(code)
            if self.running is request:
                self.running = None
            self._cond.notify_all()

    def cancel(self, rid: str, signum: int = SIGTERM, why: str = "cancelled") -> bool:
        """Cancel request ``rid``, waiting or running; False when no such request is waiting or running."""
        from ..errors import Cancelled

        with self._cond:
            request = self._known.get(rid)
            if request is None or request.state == "done":
                return False
            if request in self._waiting:
                request.cancelled_because = why
                self._waiting.remove(request)
                request.write(json.dumps({"event": "error", "message": f"{why} while waiting in the queue",
                                          "kind": "Cancelled", "cancelled": True}) + "\n")
                request.finish(exit_code(Cancelled(why, signum)))
                self._cond.notify_all()
                return True
        request.cancelled_because = request.cancelled_because or why
        request.cancel.set(signum)
        return True

    def refuse_waiting(self, message: str) -> None:
        """End every waiting request with ``message`` (the server is stopping)."""
        from ..errors import RecastError

        with self._cond:
            self.closed = True
            waiting, self._waiting = self._waiting, []
            for request in waiting:
                request.write(json.dumps({"event": "error", "message": message, "kind": "RecastError"}) + "\n")
                request.finish(exit_code(RecastError(message)))
            self._cond.notify_all()

    def get(self, rid: str) -> Request | None:
        with self._cond:
            return self._known.get(rid)

    @property
    def busy(self) -> bool:
        with self._cond:
            return self.running is not None or bool(self._waiting)

    def snapshot(self) -> dict:
        with self._cond:
            return {"current": self.running.describe() if self.running is not None else None,
                    "queued": [r.describe() for r in self._waiting]}

    def _forget_old(self) -> None:
        done = [rid for rid, r in self._known.items() if r.state == "done"]
        for rid in done[:max(0, len(done) - KEEP_FINISHED)]:
            del self._known[rid]
