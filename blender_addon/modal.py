"""What every Recast operator that follows a background worker does: modal on a window timer so the UI
stays live (progress in the window manager and the status bar, Esc cancels), or, without a window
(``blender -b``, scripts), the same poll loop run to the end.

A run (a :class:`~.strip_render.StripRender`, a :class:`~.models_ui.Fetch`) has ``poll()`` (True once
finished), ``progress`` (0..1), ``message`` and ``cancel()``; the operator gives ``_start(context)`` (the
run, or None after reporting why) and ``_end(run)`` (the operator's return set); by default ``run_class.start``
and a report of the run's ``message`` at its ``level``.

:class:`BackgroundRun` is what the runs that are not a render (a training, a matte, a fetch) share: progress,
cancel, and a ``poll`` that words the progress while the worker runs and, once it ended, takes the run off its
registry and lets the run say how it went.
"""

import time

__all__ = ["ModalRun", "BackgroundRun"]


class BackgroundRun:
    """A background worker run: subclasses set ``process``, ``registry`` (the dict the panel reads, holding this
    run under ``key``), ``events`` (the kinds of event whose progress the message words) and ``_finished()``."""

    level = "INFO"  #: how the operator reports ``message`` at the end
    events = ("progress",)
    registry: dict = {}
    key = None
    process = None

    def _register(self, key):
        self.key = key
        self.registry[key] = self
        return self

    @property
    def progress(self) -> float:
        return self.process.progress

    def cancel(self) -> None:
        self.process.cancel()

    def progress_line(self) -> str:
        """What the worker is doing: the stage of its last event of ``events``, frames or steps, time left."""
        from recast.plugin.common.host_job import progress_text

        p = self.process
        seen = [e for e in p.events if e.get("event") in self.events]
        return progress_text(p, seen[-1] if seen else None)

    def _running(self) -> str:
        return f"Recast '{self.strip_name}': {self.progress_line()}"

    def poll(self) -> bool:
        """The timer's work: True once finished; ``message`` (and ``level``) say how it went."""
        if not self.process.finished:
            self.message = self._running()
            return False
        self.registry.pop(self.key, None)
        self._finished(self.process)
        return True

    def _finished(self, process) -> None:
        raise NotImplementedError


class ModalRun:
    _run = None
    _timer = None
    run_class = None  #: a class with ``start(context)`` (HostError: reported) whose runs have ``level``

    def _start(self, context):
        from recast.plugin.common.host_job import HostError

        try:
            return self.run_class.start(context)
        except HostError as exc:
            self.report({"ERROR"}, f"Recast: {exc}")
            return None

    def _end(self, run):
        self.report({run.level}, run.message)
        return {"FINISHED"} if run.level == "INFO" else {"CANCELLED"}

    def execute(self, context):
        run = self._start(context)
        if run is None:
            return {"CANCELLED"}
        while not run.poll():
            time.sleep(0.2)
        return self._end(run)

    def invoke(self, context, event):
        if context.window is None:
            return self.execute(context)
        self._run = self._start(context)
        if self._run is None:
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.25, window=context.window)
        wm.progress_begin(0, 100)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        run = self._run
        if event.type == "ESC" and event.value == "PRESS":
            run.cancel()
            return {"RUNNING_MODAL"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        finished = run.poll()
        wm = context.window_manager
        wm.progress_update(int(run.progress * 100))
        context.workspace.status_text_set(None if finished else f"{run.message} · Esc cancels")
        for area in context.screen.areas:
            if area.type == "SEQUENCE_EDITOR":
                area.tag_redraw()
        if not finished:
            return {"PASS_THROUGH"}
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        return self._end(run)
