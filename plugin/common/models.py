"""Which model parts the worker has, and fetching the missing ones in the background, for the hosts.

Both run the worker's own commands (the host's Python has no huggingface_hub or torch):
``recast models check --json`` answers at once; ``recast models pull --json --control stdin`` runs as a
:class:`~recast.plugin.common.worker.WorkerProcess` in the render queue, so the artist follows it, and cancels it,
like a render. No host module is imported here.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass

from .host_job import HostError
from .params import MODEL_FILE
from .queue import RENDERS
from .worker import WorkerError, WorkerProcess, worker_command

__all__ = ["ModelParts", "preset_name", "preset_label", "check_models", "FetchProcess", "fetch_models"]


def preset_name(model: str, model_file: str) -> str:
    """The ``--model`` value of the host's model menu and preset file."""
    if model == MODEL_FILE:
        if not model_file.strip():
            raise HostError(f"model is '{MODEL_FILE}' but no preset file is set")
        return model_file.strip()
    return model


def preset_label(preset: str) -> str:
    """What the artist calls a preset: its name, or a preset file's name without '.toml'."""
    base = os.path.basename(preset)
    return base[:-5] if base.endswith(".toml") else base


@dataclass(frozen=True)
class ModelParts:
    """The answer of ``recast models check`` for one preset."""

    preset: str
    parts: tuple  #: one dict per part: role, present, size, problem, fetchable

    @property
    def missing(self) -> list[str]:
        return [p["role"] for p in self.parts if not p["present"]]

    @property
    def fetchable(self) -> list[str]:
        return [p["role"] for p in self.parts if not p["present"] and p.get("fetchable")]

    @property
    def summary(self) -> str:
        """One line for the node or panel."""
        if not self.missing:
            size = sum(p.get("size") or 0 for p in self.parts) / 1e9
            return f"models '{self.preset}': all {len(self.parts)} parts present ({size:.2f} GB)"
        line = f"models '{self.preset}': {len(self.missing)} of {len(self.parts)} parts missing ({', '.join(self.missing)})"
        if self.fetchable:
            line += "; Fetch models downloads " + ("them" if self.fetchable == self.missing else
                                                   ", ".join(self.fetchable))
        others = [p for p in self.parts if not p["present"] and not p.get("fetchable")]
        if others:  # a local folder, pickle-only weights: the preset must be fixed
            line += f"; fix the preset for {others[0]['role']}: {others[0]['problem']}"
        return line


def check_models(model: str, model_file: str = "", command=None, timeout: float = 120) -> ModelParts:
    """What ``recast models check`` says of the preset; :class:`HostError` with one line when it cannot say."""
    name = preset_name(model, model_file)
    argv = worker_command(command) + ["models", "check", "--model", name, "--json"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WorkerError(f"the model check could not run: {exc}") from None
    try:
        answer = json.loads(done.stdout)
        return ModelParts(answer["preset"], tuple(answer["parts"]))
    except (ValueError, KeyError, TypeError):  # no answer: the preset itself is wrong, the worker says why
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
        raise WorkerError(lines[-1].removeprefix("recast: error: ") if lines else
                          f"'recast models check' stopped with exit code {done.returncode}") from None


class FetchProcess(WorkerProcess):
    """``recast models pull`` in the background: progress counts parts, not frames."""

    unit = "parts"

    def __init__(self, preset: str, command=None, log_dir: str | None = None, on_event=None):
        super().__init__(["models", "pull", "--model", preset], "models_pull", command, log_dir, on_event)

    def _apply(self, event: dict) -> None:
        super()._apply(event)
        if event.get("event") == "progress" and event.get("stage") == "fetch":
            self.frames_done, self.total = int(event.get("done", 0)), int(event.get("total", 0))
            self.part = event.get("part")


def fetch_models(model: str, model_file: str = "", command=None, log_dir: str | None = None,
                 on_event=None) -> FetchProcess:
    """Start fetching the preset's missing parts; the fetch is in the host's render queue (and its panel)."""
    name = preset_name(model, model_file)
    process = FetchProcess(name, command, log_dir, on_event)
    RENDERS.add(f"fetch models '{preset_label(name)}'", process, log_dir or "")
    return process
