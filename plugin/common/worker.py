"""Running the Recast worker from a host (Nuke, Blender): start it, follow its events, cancel it.

Hosts' own Pythons have no torch, so the render runs in a separate process: ``recast render
--job FILE --json --control stdin``. Cancel is a ``cancel`` line on the worker's stdin (every OS;
a host that dies closes the pipe, which cancels too), with SIGTERM (POSIX) or CTRL_BREAK_EVENT
(Windows) as the fallback and a kill as the last resort. Which command starts it is configurable, in this order: the ``command`` given by
the host (e.g. from a preference), ``$RECAST_WORKER`` (a command line, e.g.
``/opt/recast/.venv/bin/recast`` or ``/opt/py311/bin/python -m recast.core``), else ``recast``
on ``PATH``. The worker's stdout is the JSON-lines progress protocol, read on a thread and
handed to ``on_event`` (on that thread: hosts marshal to their UI thread themselves); its
stderr goes to a log file whose path is part of every error message.

No host module and no torch is imported here.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from recast.core.progress.events import overall

from .host_job import HostError

__all__ = ["WorkerError", "worker_command", "WorkerProcess", "RenderProcess", "VariantsProcess", "render_flags"]



class WorkerError(HostError):
    """The worker cannot be found, started or followed: one line for the artist."""


def worker_command(command: str | list[str] | None = None) -> list[str]:
    """The command line that starts the worker; :class:`WorkerError` when it cannot be found."""
    given = command or os.environ.get("RECAST_WORKER") or "recast"
    argv = shlex.split(given) if isinstance(given, str) else list(given)
    exe = argv[0]
    found = exe if os.path.isabs(exe) and os.access(exe, os.X_OK) else shutil.which(exe)
    if not found:
        raise WorkerError(f"the Recast worker '{exe}' was not found; install Recast in a Python 3.11 environment "
                          "and set RECAST_WORKER (or the host's Recast preference) to its 'recast' executable")
    return [found, *argv[1:]]


def _last_error_line(log_path: str) -> str | None:
    """The worker's own one line from its stderr log ('recast: error: ...', argparse's 'recast render: error:
    ...'), for a failure that sent no error event (bad arguments, a missing install)."""
    try:
        with open(log_path, encoding="utf-8", errors="replace") as fh:
            lines = [ln.strip() for ln in fh if ln.strip()]
    except OSError:
        return None
    for line in reversed(lines):
        if line.startswith("recast") and "error:" in line:
            return line.split("error:", 1)[1].strip()
    return None


class WorkerProcess:
    """One worker command that speaks the progress protocol (``--json --control stdin``), run in the
    background: ``state`` is 'running', 'done', 'failed' or 'cancelled'."""

    unit = "frames"  #: what ``frames_done`` / ``total`` count
    part = None  #: the model part being fetched (a fetch)

    def __init__(self, args: list[str], name: str, command=None, log_dir: str | None = None, on_event=None,
                 platform: str | None = None):
        #: 'posix' or 'windows': how the fallback of a cancel is sent (the stdin message works on both)
        self.platform = platform or ("windows" if os.name == "nt" else "posix")
        self.argv = worker_command(command) + list(args) + ["--json", "--control", "stdin"]
        log_dir = log_dir or tempfile.gettempdir()
        os.makedirs(log_dir, exist_ok=True)
        self.log_path = os.path.join(log_dir, f"recast_{name}_{time.strftime('%Y%m%d-%H%M%S')}_{os.getpid()}.log")
        self.on_event = on_event
        self.state = "running"
        self.error: str | None = None  #: the worker's one-line message, with the log's path
        self.error_kind: str | None = None  #: the error's class (e.g. ModelError: a model part is missing)
        self.events: list[dict] = []
        self.frames_done = 0
        self.total = 0
        self.progress = 0.0  #: 0..1 over the whole render
        self.started = time.monotonic()
        self.note: str | None = None  #: the worker's last warning, one line (e.g. the desk's fallback to a local render)
        self.request: str | None = None  #: the desk request's id (``queued``): ``recast desk attach ID`` follows it again
        self.version: dict | None = None  #: a preview's ``version`` event: its number and output pattern
        self.variants: list[dict] = []  #: the ``variant`` events so far (version, index, count, values, job, output)
        self.previews: dict[int, dict] = {}  #: frame → its latest ``preview`` event (path, step, steps)
        self._cancelled = False
        self._log = open(self.log_path, "w", encoding="utf-8")
        # Windows: its own process group, so CTRL_BREAK_EVENT (the fallback of a cancel) reaches it alone
        flags = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0) if os.name == "nt" else 0
        try:
            self._proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                          text=True, bufsize=1, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                          creationflags=flags)
        except OSError as exc:
            self._log.close()
            raise WorkerError(f"the Recast worker could not start ({exc.strerror}): {' '.join(self.argv)}") from None
        self._reader = threading.Thread(target=self._read, name="recast-worker-events", daemon=True)
        self._reader.start()

    # --- following -------------------------------------------------------------------
    def _read(self) -> None:
        for line in self._proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                self._log.write(f"[stdout] {line}")  # not protocol: keep it for the log
                continue
            self._apply(event)
            if self.on_event is not None:
                self.on_event(event)
        code = self._proc.wait()
        self._log.flush()
        if self._cancelled or code in (130, 143, -signal.SIGTERM, -signal.SIGKILL):
            self.state = "cancelled"
        elif code == 0:
            self.state, self.progress = "done", 1.0
        else:
            self.state = "failed"
            if self.error is None:
                self._log.flush()
                said = _last_error_line(self.log_path)
                self.error = (f"{said} (log: {self.log_path})" if said else
                              f"the Recast worker stopped with exit code {code}; see {self.log_path}")
        self._log.close()
        if self.on_event is not None:
            self.on_event({"event": "exit", "state": self.state, "code": code, "error": self.error})

    def _apply(self, event: dict) -> None:
        self.events.append(event)
        kind = event.get("event")
        if kind == "start":
            self.total = int(event.get("total", 0))
        elif kind == "frame":
            self.frames_done += 1
        elif kind == "progress":
            share = overall(event.get("stage"), event.get("done", 0), event.get("total", 0))
            if share is not None:
                self.progress = max(self.progress, share)
        elif kind == "warning":
            self.note = " ".join(str(event.get("message", "")).split())
        elif kind == "queued":
            self.request = event.get("id")
        elif kind == "version":
            self.version = event
        elif kind == "variant":
            self.variants.append(event)
        elif kind == "preview":
            self.previews[int(event.get("frame", 0))] = event
        elif kind == "error" and not event.get("cancelled"):
            self.error = f"{event.get('message', 'the worker failed')} (log: {self.log_path})"
            self.error_kind = event.get("kind")

    @property
    def finished(self) -> bool:
        """True once the worker has ended and every event (the final 'exit' too) was handed on."""
        return not self._reader.is_alive()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def eta(self) -> float | None:
        """Seconds left, from the progress so far (None until there is some)."""
        if self.state != "running" or self.progress <= 0.02:
            return None
        return self.elapsed * (1.0 - self.progress) / self.progress

    # --- controlling -------------------------------------------------------------------
    def cancel(self, grace: float = 30.0) -> None:
        """Ask the worker to stop after the window or frame in hand: a ``cancel`` line on its stdin, which
        works on every OS (SIGTERM is a hard kill on Windows). If it is still running after ``grace`` / 2 s,
        the platform's signal follows (SIGTERM; CTRL_BREAK_EVENT on Windows), and a kill after ``grace`` s."""
        if self._proc.poll() is not None:
            return
        self._cancelled = True
        try:
            self._proc.stdin.write("cancel\n")
            self._proc.stdin.flush()
        except (OSError, ValueError):
            pass  # the worker is ending anyway
        threading.Thread(target=self._escalate, args=(grace,), daemon=True).start()

    def _escalate(self, grace: float) -> None:
        try:
            self._proc.wait(timeout=grace / 2)
            return
        except subprocess.TimeoutExpired:
            pass
        try:
            if self.platform == "windows" and os.name == "nt":
                self._proc.send_signal(signal.CTRL_BREAK_EVENT)
            elif self.platform == "posix":
                self._proc.send_signal(signal.SIGTERM)
            self._proc.wait(timeout=grace / 2)
        except (OSError, subprocess.TimeoutExpired):
            self._proc.kill()

    def wait(self, timeout: float | None = None) -> str:
        """Block until the worker has ended and its events are read; returns ``state``."""
        self._reader.join(timeout)
        return self.state


def render_flags(desk: bool = False, preview: bool = False, live_previews: bool = False) -> list[str]:
    """The worker flags of the hosts' iteration options: ``--desk`` (render in the warm per-user desk service; the
    worker itself falls back to a local render, with a warning, when the desk cannot start), ``--preview`` (a quick
    look as a new version in ``recast_previews/``) and ``--live-previews`` (``preview`` events while denoising)."""
    return (["--desk"] if desk else []) + (["--preview"] if preview else []) + (["--live-previews"] if live_previews else [])


class RenderProcess(WorkerProcess):
    """One ``recast render --job FILE`` run (``frames``: a sub-range); ``desk``, ``preview``, ``live_previews``:
    :func:`render_flags`."""

    def __init__(self, job_path: str, frames: str | None = None, command=None, log_dir: str | None = None,
                 on_event=None, platform: str | None = None, desk: bool = False, preview: bool = False,
                 live_previews: bool = False):
        super().__init__(["render", "--job", job_path] + (["--frames", frames] if frames else [])
                         + render_flags(desk, preview, live_previews),
                         os.path.splitext(os.path.basename(job_path))[0], command, log_dir, on_event, platform)


class VariantsProcess(WorkerProcess):
    """One ``recast variants --job FILE --prompt A --prompt B …`` run: each variant a new version folder
    (``recast_variants/vNNN``), announced by a ``variant`` event before its frames."""

    def __init__(self, job_path: str, prompts=(), seeds=(), command=None, log_dir: str | None = None, on_event=None,
                 platform: str | None = None, desk: bool = False, preview: bool = True, live_previews: bool = False):
        args = ["variants", "--job", job_path]
        for prompt in prompts:
            args.append(f"--prompt={prompt}")  # one argument: a prompt that starts with "-" stays a prompt
        for seed in seeds:
            args += ["--seed", str(int(seed))]
        super().__init__(args + render_flags(desk, preview, live_previews),
                         os.path.splitext(os.path.basename(job_path))[0] + "_variants", command, log_dir, on_event,
                         platform)
