"""Planning a cut: one job per clip of the video track(s), nothing written until every clip is planned.

For each clip: its plate (:mod:`.media`); the media frames it shows — its visible range (a transition's
overlap included), stretched by a linear time warp (``time_scalar`` s: ⌈(n−1)·s⌉+1 frames; a freeze frame:
one), at the media's own rate — plus ``handles`` frames each side where the media has them (a warning where
it has fewer); the template job with the clip's overrides (:mod:`.overrides`) over it. A clip that cannot be
rendered (no media, a movie file, frames missing, a nested stack, a bad override) is one line of the report;
the other clips go on. The jobs are written by :func:`write_jobs`, each in its shot's version folder
(``<out>/<shot>/v001/``, ``v002`` …, numbered as variants are: :mod:`recast.core.pipeline.variants`) beside its render.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field

from ..errors import JobError, TimelineError
from .media import ClipRefused, Media, media_of
from .overrides import apply_overrides, overrides_for
from .timeline import otio, video_tracks

__all__ = ["Shot", "CutPlan", "plan_cut", "write_jobs"]


@dataclass
class Shot:
    """One clip of the cut, as it will be rendered."""

    name: str  #: unique in the cut, safe as a folder name
    index: int  #: 1-based, in the order of the tracks and their items
    where: tuple[int, int]  #: (track index in the timeline, item index in the track): the clip in the conform
    media: Media  #: the plate
    used: tuple[int, int]  #: the media frames the clip shows (first, last)
    frames: tuple[int, int]  #: the frames rendered: ``used`` plus the handles the media has
    job: object  #: the shot's job (a :class:`recast.core.job.Job`)
    job_file: str  #: where :func:`write_jobs` writes it
    retime: str | None = None  #: the clip's time effect ('linear 2.0x', 'freeze frame'), kept on the clip
    version: int = 1  #: its version folder (``<out>/<name>/vNNN/``): the job file and the render
    new_version: bool = True  #: False when the latest version already renders this job (nothing changed)


@dataclass
class CutPlan:
    """What a cut renders, and the clips it leaves on their plates."""

    timeline: object  #: the timeline read (OpenTimelineIO)
    path: str  #: its file
    out: str  #: the cut's folder
    shots: list[Shot] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)  #: {name, where, reason} of each clip not rendered
    warnings: list[str] = field(default_factory=list)

    @property
    def report(self) -> list[str]:
        return [f"clip {r['name']!r}: {r['reason']}" for r in self.refused]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or ""


def _retime(clip) -> tuple[float, str | None]:
    """The clip's time scalar and a word for it (1.0 and None when it plays at speed)."""
    ot = otio()
    warps = [e for e in clip.effects if isinstance(e, ot.schema.TimeEffect)]
    if not warps:
        return 1.0, None
    if len(warps) > 1 or not isinstance(warps[0], ot.schema.LinearTimeWarp):
        raise ClipRefused(f"its time effects ({', '.join(type(e).__name__ for e in warps)}) are not rendered; "
                          "Recast renders one linear time warp or freeze frame a clip")
    scalar = float(warps[0].time_scalar)
    if scalar < 0:
        raise ClipRefused(f"it plays backwards (time scalar {scalar:g}); reverse the plate or the clip instead")
    if isinstance(warps[0], ot.schema.FreezeFrame) or scalar == 0:
        return 0.0, "freeze frame"
    return scalar, f"linear {scalar:g}x"


def _used(clip, media: Media, scalar: float) -> tuple[int, int]:
    """The media frames the clip shows (a transition's overlap and its time warp included)."""
    shown = clip.visible_range()
    first = media.frame(shown.start_time)
    n = int(round(shown.duration.rescaled_to(media.rate).value))
    count = 1 if scalar == 0 else max(1, int(math.ceil((n - 1) * scalar - 1e-9)) + 1)
    return first, first + count - 1


def _with_handles(name: str, used: tuple[int, int], media: Media, handles: int, warnings: list) -> tuple[int, int]:
    missing = [f for f in range(used[0], used[1] + 1) if not media.usable(f)]
    if missing:
        from ..io.frames import compress_frames

        raise ClipRefused(f"frames {compress_frames(missing)} of its media {media.pattern!r} are missing (it shows "
                          f"{used[0]}-{used[1]})")
    head = next((k for k in range(handles) if not media.usable(used[0] - k - 1)), handles)
    tail = next((k for k in range(handles) if not media.usable(used[1] + k + 1)), handles)
    for side, got in (("head", head), ("tail", tail)):
        if got < handles:
            warnings.append(f"clip {name!r}: {got} of {handles} handle frames at the {side}: its media ends there")
    return used[0] - head, used[1] + tail


def _output(folder: str, name: str, frames: tuple[int, int]) -> str:
    return os.path.join(folder, f"{name}_recast.{'#' * max(4, len(str(frames[1])))}.exr")


def _job_file(job, name: str) -> str:
    return os.path.join(job.output_sequence.folder, f"{name}.json")


def _versioned(shot_folder: str, name: str, data: dict, frames: tuple[int, int], base: str):
    """The shot's job in its version folder: the latest version when its job renders the same pixels (the
    fingerprint resume uses: a re-run renders nothing new, or only the frames it lacks), else the next version
    (a changed shot is a new version beside the old ones, never over them). Returns (job, number, new)."""
    from ..errors import RecastError
    from ..job import Job, load_job
    from ..pipeline.variants import version_folder, versions

    def job_in(number):
        folder = version_folder(shot_folder, number)
        return Job.from_dict({**data, "output": {**data["output"], "pattern": _output(folder, name, frames)}}, base)

    numbers = versions(shot_folder)
    if numbers:
        job = job_in(numbers[-1])
        try:
            if load_job(_job_file(job, name)).fingerprint() == job.fingerprint():
                return job, numbers[-1], False
        except RecastError:
            pass  # no job (or a damaged one) in the latest version: the shot renders a new one
    number = (numbers[-1] if numbers else 0) + 1
    return job_in(number), number, True


def plan_cut(path: str, template, out: str, handles: int, track: str | None = None, media_root: str | None = None,
             rate: float | None = None, sidecar: dict | None = None, timeline=None) -> CutPlan:
    """Plan the cut of the timeline in ``path`` (or ``timeline``, built in memory from ``path``: a host's strips)
    with the template job ``template``; reads, writes nothing."""
    from .timeline import read_timeline

    ot = otio()
    timeline = read_timeline(path, rate) if timeline is None else timeline
    plan = CutPlan(timeline, os.path.abspath(path), os.path.abspath(out))
    base = os.path.dirname(plan.path)
    tmpl = template.absolute().to_dict()
    taken: set[str] = set()
    for t_index, trk in video_tracks(timeline, track):
        for i_index, item in enumerate(trk):
            if isinstance(item, (ot.schema.Gap, ot.schema.Transition)):
                continue
            number = len(plan.shots) + len(plan.refused) + 1
            name = _safe(item.name) or f"shot{number:03d}"
            while name in taken:
                name = f"{name}_{number}"
            taken.add(name)
            if not isinstance(item, ot.schema.Clip):
                plan.refused.append({"name": name, "where": [t_index, i_index],
                                     "reason": f"a nested {type(item).__name__.lower()} is not rendered; flatten it "
                                               "in the editor (the cut passes it through as it is)"})
                continue
            try:
                media = media_of(item, base, media_root)
                scalar, retime = _retime(item)
                used = _used(item, media, scalar)
                frames = _with_handles(name, used, media, handles, plan.warnings)
                data = apply_overrides(
                    {k: (dict(v) if isinstance(v, dict) else v) for k, v in tmpl.items()},
                    overrides_for(item, [item.name, name], sidecar or {}))
                data["input"] = {**data["input"], "pattern": media.pattern, "frames": f"{frames[0]}-{frames[1]}"}
                job, version, new = _versioned(os.path.join(plan.out, name), name, data, frames, base)
            except (ClipRefused, ValueError, JobError) as exc:
                plan.refused.append({"name": name, "where": [t_index, i_index], "reason": " ".join(str(exc).split())})
                continue
            plan.shots.append(Shot(name, number, (t_index, i_index), media, used, frames, job,
                                   _job_file(job, name), retime, version, new))
    if not plan.shots:
        lines = "; ".join(plan.report) or "the video track(s) hold no clips"
        raise TimelineError(f"no clip of {path!r} can be rendered: {lines}")
    return plan


def write_jobs(plan: CutPlan) -> None:
    """Write every shot's job file (absolute paths), each atomically, then the cut's ``cut.json``
    (:mod:`.manifest`: what ``recast farm … --cut`` reads)."""
    from .manifest import write_manifest

    from ..pipeline.variants import claim_version

    for shot in plan.shots:
        if shot.new_version:  # claimed with mkdir: two cuts planned at once never share a version
            number, folder = claim_version(os.path.dirname(os.path.dirname(shot.job_file)))
            if number != shot.version:
                shot.version = number
                shot.job = shot.job.replace(output={"pattern": _output(folder, shot.name, shot.frames)})
                shot.job_file = _job_file(shot.job, shot.name)
        os.makedirs(os.path.dirname(shot.job_file), exist_ok=True)
        shot.job.absolute().save(shot.job_file)
    write_manifest(plan)
