"""A cut's folder as the farm writers read it: ``<out>/cut.json``, written with the shots' jobs.

``recast cut --plan-only`` (or any ``recast cut``) writes it beside the shots' folders; ``recast farm … --cut DIR``
reads it back to write one farm job for the whole cut, a step (or job) per shot. It names the timeline, each shot in
cut order with its job file (relative to the folder, so the folder can move to shared storage as a whole), the frames
it renders and the plate frames it shows, and the clips left on their plates with the reason.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from ..errors import TimelineError

__all__ = ["MANIFEST", "CutShot", "read_manifest", "write_manifest"]

MANIFEST = "cut.json"
_FORMAT = "recast-cut/1"


@dataclass(frozen=True)
class CutShot:
    """One shot of a planned cut, as a farm writer needs it."""

    name: str  #: unique in the cut, safe as a file or task name
    index: int  #: 1-based, in cut order
    job: str  #: its job file (absolute)
    frames: tuple[int, int]  #: the frames it renders (handles included)


def write_manifest(plan) -> str:
    """Write ``<plan.out>/cut.json`` for a :class:`~.plan.CutPlan` whose jobs are written; returns its path."""
    from ..io.atomic import atomic_path

    doc = {"format": _FORMAT, "timeline": plan.path,
           "shots": [{"name": s.name, "index": s.index, "job": os.path.relpath(s.job_file, plan.out),
                      "frames": list(s.frames), "shows": list(s.used), "retime": s.retime} for s in plan.shots],
           "skipped": [{"name": r["name"], "reason": r["reason"]} for r in plan.refused]}
    path = os.path.join(plan.out, MANIFEST)
    with atomic_path(path, TimelineError) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(doc, indent=2) + "\n")
    return path


def read_manifest(folder: str) -> list[CutShot]:
    """The shots of the cut planned in ``folder``; a folder that is not one is one line (:class:`TimelineError`)."""
    path = os.path.join(folder, MANIFEST)
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise TimelineError(f"{folder!r} is not a planned cut (no {MANIFEST}): write one with "
                            "'recast cut --timeline T --job J --out DIR --plan-only'") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TimelineError(f"cannot read {path!r}: {' '.join(str(exc).split())}") from None
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT or not isinstance(doc.get("shots"), list):
        raise TimelineError(f"{path!r} is not a Recast cut file (expected format {_FORMAT!r})")
    shots = []
    for entry in doc["shots"]:
        try:
            name, index, job = str(entry["name"]), int(entry["index"]), str(entry["job"])
            first, last = (int(v) for v in entry["frames"])
        except (KeyError, TypeError, ValueError):
            raise TimelineError(f"{path!r}: a shot entry is malformed: {json.dumps(entry)[:120]}") from None
        job = os.path.normpath(os.path.join(folder, job))
        if not os.path.isfile(job):
            raise TimelineError(f"shot {name!r}: its job file {job!r} is missing from the cut's folder")
        shots.append(CutShot(name, index, os.path.abspath(job), (first, last)))
    if not shots:
        raise TimelineError(f"{path!r}: the cut has no shot to render")
    return shots
