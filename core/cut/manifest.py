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

__all__ = ["MANIFEST", "PLANNED", "CutShot", "load_plan", "read_manifest", "rendered_on_disk", "write_manifest"]

MANIFEST = "cut.json"
PLANNED = "cut.otio"  #: the timeline as planned (OTIO JSON, whatever it was read from): what a conform reads
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

    from .timeline import write_timeline

    write_timeline(plan.timeline, os.path.join(plan.out, PLANNED))
    doc = {"format": _FORMAT, "timeline": plan.path, "planned": PLANNED,
           "shots": [{"name": s.name, "index": s.index, "job": os.path.relpath(s.job_file, plan.out),
                      "frames": list(s.frames), "shows": list(s.used), "retime": s.retime, "version": s.version,
                      "where": list(s.where), "plate": {"pattern": s.media.pattern, "rate": s.media.rate,
                                                         "start": s.media.start, "first_frame": s.media.first_frame}}
                     for s in plan.shots],
           "skipped": [{"name": r["name"], "reason": r["reason"], "where": list(r["where"])} for r in plan.refused]}
    path = os.path.join(plan.out, MANIFEST)
    with atomic_path(path, TimelineError) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(doc, indent=2) + "\n")
    return path


def _document(folder: str) -> tuple[str, dict]:
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
    return path, doc


def read_manifest(folder: str) -> list[CutShot]:
    """The shots of the cut planned in ``folder``; a folder that is not one is one line (:class:`TimelineError`)."""
    path, doc = _document(folder)
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


def load_plan(folder: str):
    """The :class:`~.plan.CutPlan` planned in ``folder`` (its timeline as planned, each shot's job and plate time),
    without reading the editorial file or the plates again: what ``recast cut --conform-only`` conforms."""
    from ..job import load_job
    from .media import Media
    from .plan import CutPlan, Shot
    from .timeline import read_timeline

    path, doc = _document(folder)
    shots = read_manifest(folder)
    planned = os.path.join(folder, str(doc.get("planned") or PLANNED))
    plan = CutPlan(read_timeline(planned), str(doc.get("timeline") or planned), os.path.abspath(folder))
    for shot, entry in zip(shots, doc["shots"]):
        try:
            plate, where = entry["plate"], tuple(int(v) for v in entry["where"])
            media = Media(str(plate["pattern"]), float(plate["rate"]), float(plate["start"]), int(plate["first_frame"]),
                          frozenset())
            used = tuple(int(v) for v in entry["shows"])
        except (KeyError, TypeError, ValueError):
            raise TimelineError(f"{path!r}: shot {shot.name!r} lacks what a conform needs (plate, where, shows): "
                                "plan the cut again") from None
        plan.shots.append(Shot(shot.name, shot.index, where, media, used, shot.frames, load_job(shot.job), shot.job,
                               entry.get("retime"), int(entry.get("version") or 1), False))
    plan.refused = [{"name": r.get("name"), "reason": r.get("reason"), "where": r.get("where")}
                    for r in doc.get("skipped") or [] if isinstance(r, dict) and r.get("where")]
    return plan


def rendered_on_disk(plan) -> dict[str, dict]:
    """Shot name → {status, message?, written: 0} from the renders on disk: done when every frame the shot renders
    is there (a farm's renders, conformed after its last task), failed naming the frames missing."""
    from ..io.frames import compress_frames

    results = {}
    for shot in plan.shots:
        seq = shot.job.output_sequence
        missing = [f for f in range(shot.frames[0], shot.frames[1] + 1) if not os.path.isfile(seq.path(f))]
        results[shot.name] = ({"status": "done", "message": None, "written": 0} if not missing else
                              {"status": "failed", "written": 0,
                               "message": f"frames {compress_frames(missing)} of its render {seq.pattern!r} are "
                                          "missing (not rendered yet, or its render failed)"})
    return results
