"""The steps of a shot on any farm, host-neutral: what runs, in which order, after what, and with which
``recast`` command line.

Every farm writer (OpenJD, OpenCue, Deadline 10, Flamenco 3) lays out the same graph:

- **Customize** — only when the job has a ``customize`` section: ``recast customize`` trains the LoRA the
  render then fuses;
- **Matte** — only when the job has a ``matte`` section: ``recast matte`` makes the matte from its clicks;
- **Depth** — the shot's depth, cached beside the output;
- **Render** — the shot's range in chunks (``recast render --chunk A-B``, handles from the job), each chunk
  through the worker host's ``recast serve`` where the farm can keep one up;
- **Assemble** — ``recast assemble``: the seams of the chunks.

Render waits for Depth (and Customize, Matte); Assemble waits for Render. A farm that only chains its
jobs one after the other (Deadline's ``-SubmitMultipleJobs -dependent``) keeps this order too.
Every render parameter travels in the job file: a step's command line holds only the job file, a
frame range, the chunk set's name and (for a render) the connection file of a server.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Step", "plan", "step_args"]


@dataclass(frozen=True)
class Step:
    name: str  #: "Customize", "Matte", "Depth", "Render" or "Assemble" (a farm's job/step/task name)
    command: str  #: the ``recast`` sub-command it runs
    chunked: bool  #: one task per chunk of frames (Render); else one task for the shot
    after: tuple[str, ...]  #: the steps it waits for
    gpu: bool  #: it loads models (a GPU host, where the job's device is one)


def plan(job) -> list[Step]:
    """The steps of ``job``'s shot in submission order."""
    before = []
    if job.customize is not None:
        before.append(Step("Customize", "customize", False, (), True))
    if job.matte is not None:
        before.append(Step("Matte", "matte", False, (), True))
    depth = Step("Depth", "depth", False, (), True)
    render = Step("Render", "render", True, ("Depth", *(s.name for s in before)), True)
    return [*before, depth, render, Step("Assemble", "assemble", False, ("Render",), False)]


def step_args(step: Step, job_file: str, chunk: str | None = None, chunk_set: str | None = None,
              server: str | None = None) -> list[str]:
    """The ``recast`` arguments (after the executable) of one task of ``step``: ``chunk`` ('A-B') for a
    Render task, ``chunk_set`` for Render and Assemble, ``server`` (a connection file) for a Render task
    that renders through a kept-alive ``recast serve``. Separate arguments, no shell."""
    args = [step.command, "--job", job_file]
    if step.name == "Render":
        if not chunk:
            raise ValueError("a Render task needs its chunk (A-B)")
        args += ["--chunk", chunk]
    if step.name in ("Render", "Assemble") and chunk_set:
        args += ["--chunk-set", chunk_set]
    if step.name == "Render" and server:
        args += ["--server", server]
    return args
