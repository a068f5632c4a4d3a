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
frame range, the chunk set's name and (for a render) the connection file of a server. The command
lines themselves are each farm's own (an OpenJD template, the Deadline plugin, the Flamenco job type
run where Recast's Python is not), built from these steps.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Step", "plan", "plan_for"]


@dataclass(frozen=True)
class Step:
    name: str  #: "Customize", "Matte", "Depth", "Render" or "Assemble" (a farm's job/step/task name)
    command: str  #: the ``recast`` sub-command it runs
    chunked: bool  #: one task per chunk of frames (Render); else one task for the shot
    after: tuple[str, ...]  #: the steps it waits for


def plan(job) -> list[Step]:
    """The steps of ``job``'s shot in submission order."""
    return plan_for(job.customize is not None, job.matte is not None)


def plan_for(customize: bool, matte: bool) -> list[Step]:
    """The steps of a shot whose job trains a LoRA first (``customize``) and/or makes its matte (``matte``)."""
    before = []
    if customize:
        before.append(Step("Customize", "customize", False, ()))
    if matte:
        before.append(Step("Matte", "matte", False, ()))
    depth = Step("Depth", "depth", False, ())
    render = Step("Render", "render", True, ("Depth", *(s.name for s in before)))
    return [*before, depth, render, Step("Assemble", "assemble", False, ("Render",))]

