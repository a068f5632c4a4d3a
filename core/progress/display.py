"""What a person at a terminal sees of a command that speaks the progress protocol: no JSON.

One status line on stderr, rewritten in place (at most ten times a second) — the command and
range, the stage (``denoise step 3/20 · window 2/4``), frames written, elapsed time and an ETA
from the whole command's progress (:data:`.events.STAGE_SHARES`) — then a one-line summary.
Warnings are lines of their own; an error is left to the caller's one ``recast: error:`` line.
Hosts and farm wrappers read JSON lines instead (``--json``, or whenever stdout is not a terminal).
"""

from __future__ import annotations

import shutil
import sys
import threading
import time

from .events import STAGE_WORDS, Reporter, overall

__all__ = ["Display", "clock"]


def clock(seconds: float | None) -> str:
    """``m:ss`` (or ``h:mm:ss``); '?' when unknown (the terminal's and the hosts' one way of writing time)."""
    if seconds is None:
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Display(Reporter):
    """A :class:`Reporter` for people: the same calls, a status line instead of JSON."""

    def __init__(self, command: str = "recast", stream=None, interval: float = 0.1):
        super().__init__(stream if stream is not None else sys.stderr)
        self.command, self.interval = command, interval
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._shown, self._last = "", 0.0
        self.total, self.frames, self.fraction, self.what, self.range = 0, 0, 0.0, "starting", ""
        self.unit, self.resumed_from = "frames", None

    # --- the protocol's calls ----------------------------------------------------------
    def emit(self, event: str, **fields) -> None:
        """An event relayed as it is (``recast render --server``): shown like the calls below."""
        if event == "progress":
            self.progress(fields.pop("stage", ""), fields.pop("done", 0), fields.pop("total", 0), **fields)
        elif event == "frame":
            self.frame(fields.pop("frame", 0), fields.pop("path", ""), **fields)
        elif event == "warning":
            self.warning(fields.get("message", ""))
        elif event == "error":
            self.error(fields.pop("message", ""), **fields)
        elif event in ("start", "done"):
            getattr(self, event)(**fields)
        elif event == "variant":
            values = ", ".join(f"{k}={v!r}" for k, v in (fields.get("values") or {}).items())
            self._line(f"recast: variant v{fields.get('version', 0):03d} ({fields.get('index')}/{fields.get('count')}): "
                       f"{values} → {fields.get('output')}")
        elif event == "version":
            self._line(f"recast: {fields.get('kind', 'render')} v{fields.get('version', 0):03d} → {fields.get('output')}")
        elif event == "shot" and fields.get("status") != "rendering":  # recast cut: one line a shot
            why = f": {fields['message']}" if fields.get("message") else ""
            self._line(f"recast: shot {fields.get('name')} ({fields.get('index')}/{fields.get('count')}) "
                       f"{fields.get('status')}{why}")
        elif event == "desk" and fields.get("started"):
            self._line(f"recast: desk service started (pid {fields.get('pid')}); it keeps the models loaded")
        elif event == "queued" and fields.get("ahead"):
            self.what = f"queued on the desk service ({fields['ahead']} ahead)"
            self._show(force=True)

    def start(self, **fields) -> None:
        self.started = time.monotonic()
        self.total, self.range = int(fields.get("total") or 0), str(fields.get("frames") or "")
        self.unit = "steps" if fields.get("stage") == "train" else "frames"  # customize counts training steps
        self.what = f"resuming: {fields.get('skipped')} frame(s) already done" if fields.get("skipped") else "starting"
        self._show(force=True)

    def progress(self, stage: str, done: int, total: int, **fields) -> None:
        new_stage, self._stage = stage != getattr(self, "_stage", None), stage
        share = fields["cut_done"] if "cut_done" in fields else overall(stage, done, total)  # a cut: the whole cut
        self.fraction = max(self.fraction, share) if share is not None else self.fraction
        if stage == "denoise" and fields.get("steps"):
            windows = max(1, total // fields["steps"])
            self.what = f"denoise step {fields['step']}/{fields['steps']} · window {(done - 1) % windows + 1}/{windows}"
        elif stage == "load":
            self.what = STAGE_WORDS["load"]
        elif fields.get("resumed_from"):  # customize picked up its checkpoint: news, not a warning
            self.resumed_from = fields["resumed_from"]
            self.what = f"{STAGE_WORDS.get(stage, stage)} resumed from step {done}/{total}"
        else:
            self.what = f"{STAGE_WORDS.get(stage, stage)} {done}/{total}"
        self._show(force=new_stage or done >= total)  # a new stage is always drawn, however soon it comes

    def frame(self, frame: int, path: str, **fields) -> None:
        self.frames += 1
        self._show()

    def warning(self, message: str) -> None:
        self._line(f"recast: warning: {message}")

    def done(self, **fields) -> None:
        where = f" → {fields['output']}" if fields.get("output") else ""
        took = clock(time.monotonic() - self.started)
        if self.unit == "steps":  # customize: a trained LoRA, no frames
            resumed = fields.get("resumed_from") or self.resumed_from
            extra = f" (resumed from step {resumed})" if resumed else ""
            self._line(f"recast {self.command}: {fields.get('steps', self.total)} training step(s){extra} in "
                       f"{took}{where}")
            return
        written, skipped = fields.get("frames", self.frames), fields.get("skipped") or 0
        resumed = [f"{skipped} frame(s) already done by an earlier run"] if skipped else []
        if fields.get("resumed_from_step"):
            resumed.append(f"denoising picked up at step {fields['resumed_from_step']}")
        extra = f" (resumed: {'; '.join(resumed)})" if resumed else ""
        self._line(f"recast {self.command}: {written} frame(s) written{extra} in {took}{where}")

    def error(self, message: str, **fields) -> None:
        self._clear()

    def finish(self) -> None:
        """Clear the status line, so what the command prints next starts a line of its own."""
        self._clear()

    # --- the screen ------------------------------------------------------------------------
    def _status(self) -> str:
        elapsed = time.monotonic() - self.started
        eta = elapsed * (1 - self.fraction) / self.fraction if self.fraction > 0.02 else None
        frames = f"{self.frames}/{self.total} frames" if self.total else f"{self.frames} frames"
        head = f"{self.command} {self.range}".strip()
        if self.unit == "steps":  # the stage's own count ('training 12/200') says it: no frames to count
            return f"{head} · {self.what} · {clock(elapsed)} elapsed · ETA {clock(eta)}"
        return f"{head} · {self.what} · {frames} · {clock(elapsed)} elapsed · ETA {clock(eta)}"

    def _show(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        width = shutil.get_terminal_size((100, 20)).columns - 1
        text = self._status()[:width]
        with self._lock:
            self.stream.write("\r" + text + " " * max(0, len(self._shown) - len(text)))
            self.stream.flush()
            self._shown = text

    def _clear(self) -> None:
        with self._lock:
            if self._shown:
                self.stream.write("\r" + " " * len(self._shown) + "\r")
                self.stream.flush()
                self._shown = ""

    def _line(self, text: str) -> None:
        self._clear()
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()
