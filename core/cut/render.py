"""Rendering the shots of a cut one after another: one progress for the cut, a ``shot`` event per shot.

Each shot renders through the desk service (``where``: its connection file) or here, with one model loader
kept across shots of the same preset. A shot's own events are passed on with ``shot`` (its name) added; its
``start`` and ``done`` become the cut's ``shot`` events (``status`` rendering, then done or failed), and its
``progress`` is also the cut's (``cut_done``: 0..1 through the whole cut). A shot that fails is reported and
the next one goes on; a cancel stops the cut.
"""

from __future__ import annotations

import contextlib
import io

from ..errors import Cancelled, RecastError

__all__ = ["ShotReporter", "render_shots"]


class ShotReporter:
    """The reporter a shot's render writes to: its events passed on to the cut's, named for the shot."""

    def __init__(self, reporter, shot, count: int):
        self.reporter, self.shot, self.count = reporter, shot, count
        self.failure: str | None = None  #: a render's error event (the desk's), taken as the shot's failure
        self.written = 0  #: frames written (not skipped)

    def emit(self, event: str, **fields) -> None:
        from ..progress.events import overall

        if event in ("start", "done"):
            return  # the cut's 'shot' events say it
        if event == "error":
            self.failure = fields.get("message") or "the render failed"
            return
        if event == "frame" and not fields.get("skipped"):
            self.written += 1
        if event == "progress":
            share = overall(fields.get("stage", ""), fields.get("done", 0), fields.get("total", 0))
            if share is not None:
                fields["cut_done"] = round((self.shot.index - 1 + share) / self.count, 4)
        if event == "warning":
            fields["message"] = f"shot {self.shot.name}: {fields.get('message', '')}"
        self.reporter.emit(event, shot=self.shot.name, **fields)

    def start(self, **fields):
        self.emit("start", **fields)

    def progress(self, stage, done, total, **fields):
        self.emit("progress", stage=stage, done=done, total=total, **fields)

    def frame(self, frame, path, **fields):
        self.emit("frame", frame=frame, path=path, **fields)

    def warning(self, message):
        self.emit("warning", message=message)

    def done(self, **fields):
        self.emit("done", **fields)

    def error(self, message, **fields):
        self.emit("error", message=message, **fields)

    def finish(self):
        pass


def render_shots(plan, reporter, cancel, where: str | None = None) -> dict[str, dict]:
    """Render every shot of ``plan``; returns shot name → {status: done|failed, message?, written}."""
    loaders: dict = {}

    def loader(job):
        from ..models.loader import loader_for

        key = (job.model, job.device, job.precision)
        if key not in loaders:
            loaders.clear()  # one model stack in memory at a time
            loaders[key] = loader_for(job)
        return loaders[key]

    results = {}
    count = len(plan.shots)
    for shot in plan.shots:
        if cancel.is_set:
            raise Cancelled("cancelled between the shots of the cut", cancel.signum)
        output = shot.job.output_sequence.pattern
        reporter.emit("shot", name=shot.name, index=shot.index, count=count, job=shot.job_file, output=output,
                      status="rendering")
        sub = ShotReporter(reporter, shot, count)
        message = None
        try:
            if where is not None:
                from ..farm.connection import render_in_server

                with contextlib.redirect_stderr(io.StringIO()):  # its error line: the cut says it once, at the end
                    code = render_in_server(where, shot.job, None, None, "default", sub, cancel)
                if code != 0:
                    message = sub.failure or f"the desk's render ended with exit {code}"
            else:
                from ..pipeline.render import render

                job = shot.job
                render(job, None, sub, cancel, loader=loader(job) if job.strength > 0.0 else None)
        except Cancelled as exc:  # the render's line is about this shot's render: say which shot it was
            raise Cancelled(f"shot {shot.name} ({shot.index} of {count}): {exc}", exc.signum) from None
        except RecastError as exc:
            message = " ".join(str(exc).split())
        status = "failed" if message else "done"
        results[shot.name] = {"status": status, "message": message, "written": sub.written}
        extra = {"message": message} if message else {"written": sub.written}
        reporter.emit("shot", name=shot.name, index=shot.index, count=count, job=shot.job_file, output=output,
                      status=status, **extra)
    return results
