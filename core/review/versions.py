"""What a review shows: the plate, the job's render, every variant and preview version found beside it, and the
renders of compared jobs (``--compare``) — all of one shot.

A version is any EXR sequence of the shot's frames: the render (``output.pattern``), each
``<output folder>/recast_variants/vNNN/`` and ``recast_previews/vNNN/`` (the job file there names its frames:
:mod:`recast.core.pipeline.variants`). Frames a version lacks (a preview of the first window) are blank in the
player. Checked up front, before anything is written: the plate has frames; the job was rendered (its render or
a version has frames); a compared job edits the same plate (versions of another shot are refused).

Handles: where the plate has frames right before and after the job's range, up to :data:`HANDLES` each side are
the review's too (the player marks them and can skip them); a version shows them where it has them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from ..errors import JobError

__all__ = ["Version", "Shot", "collect"]

_V = re.compile(r"^v(\d{3,})$")
HANDLES = 16  #: plate frames on disk shown each side of the job's shot range at most (its handles)


@dataclass
class Version:
    """One sequence the player shows."""

    key: str  #: unique in the review, safe as a folder name: 'plate', 'render', 'v001', 'p002', 'c1', 'c1-v001'
    kind: str  #: 'plate', 'render', 'variant', 'preview' or 'compare'
    title: str  #: what the player's menus call it
    pattern: str  #: the absolute EXR pattern
    frames: dict[int, str]  #: frame → file, for the review's frames present on disk
    job_file: str | None = None  #: the job file that made it (None for the plate)
    job: object = None  #: that :class:`~recast.core.job.Job`
    labels: dict = field(default_factory=dict)  #: from the render's header (:mod:`.labels`), plus the variant's values


@dataclass
class Shot:
    """The review's shot: its frames, plate, colour, matte and every version."""

    frames: list[int]  #: the review's frames, in order: the shot's and the plate's handles around it
    shot_range: tuple[int, int]  #: the job's shot (first, last); frames outside it are handles
    plate: Version
    versions: list[Version]  #: render, variants, previews, compared renders (not the plate)
    colorspace: str | None  #: the plate's colour space as the job names it (None: the file's, else Linear 709)
    matte: Version | None  #: the matte the render used (a sequence), if any
    matte_channel: str | None  #: its channel (None: alpha, else its only one)
    out_folder: str  #: the job's output folder (where ``review/`` goes by default)


def _present(pattern: str, frames: list[int]) -> dict[int, str]:
    from ..io.frames import SequencePattern

    found = SequencePattern.parse(pattern).scan()
    return {f: found[f] for f in frames if f in found}


def _with_handles(pattern: str, first: int, last: int) -> list[int]:
    """The shot's frames and the plate's handles: the frames on disk right before and after it, up to
    :data:`HANDLES` each side (a plate cut with handles; none where the job's range is the whole plate)."""
    from ..io.frames import SequencePattern

    found = SequencePattern.parse(pattern).scan()
    head = next((k for k in range(HANDLES) if first - k - 1 not in found), HANDLES)
    tail = next((k for k in range(HANDLES) if last + k + 1 not in found), HANDLES)
    return list(range(first - head, last + tail + 1))


def _versions_of(job, job_file: str, frames: list[int], prefix: str, kind: str, title: str) -> list[Version]:
    """The render of ``job`` and the variant and preview versions beside it (those with frames)."""
    from ..job import load_job
    from ..pipeline.variants import PREVIEWS, VARIANTS
    from .labels import header_labels

    out = []
    render = _present(job.output_sequence.pattern, frames)
    if render:
        out.append(Version(prefix or "render", kind, title, job.output_sequence.pattern, render, job_file, job))
    for root, letter, what in ((VARIANTS, "v", "variant"), (PREVIEWS, "p", "preview")):
        folder = os.path.join(job.output_sequence.folder, root)
        names = sorted((n for n in (os.listdir(folder) if os.path.isdir(folder) else ()) if _V.match(n)),
                       key=lambda n: int(n[1:]))
        for name in names:
            vfile = os.path.join(folder, name, "job.json")
            if not os.path.isfile(vfile):
                continue
            vjob = load_job(vfile)
            present = _present(vjob.output_sequence.pattern, frames)
            if present:
                key = f"{prefix + '-' if prefix else ''}{letter}{name[1:]}"
                out.append(Version(key, kind if prefix else what, f"{title + ' ' if prefix else ''}{what} {name}",
                                   vjob.output_sequence.pattern, present, vfile, vjob))
    for v in out:
        v.labels = header_labels(next(iter(v.frames.values())))
    return out


def _same_plate(job, other, other_file: str) -> None:
    a, b = os.path.realpath(job.input_sequence.pattern), os.path.realpath(other.input_sequence.pattern)
    if a != b:
        raise JobError(f"--compare {other_file!r} is another shot: its plate is {other.input_sequence.pattern!r}, "
                       f"this review's is {job.input_sequence.pattern!r}; compare versions of one shot")


def collect(job, job_file: str, compare: list[str] = ()) -> Shot:
    """Every version of ``job``'s shot (and of the jobs in ``compare``), checked; writes nothing."""
    from ..job import load_job
    from ..shot.plate import shot_range

    cut = shot_range(job)
    plate_frames = _present(job.input_sequence.pattern, list(cut))
    if not plate_frames:
        raise JobError(f"the plate {job.input_sequence.pattern!r} has none of the frames {cut.first}-{cut.last}")
    frames = _with_handles(job.input_sequence.pattern, cut.first, cut.last)
    plate_frames = _present(job.input_sequence.pattern, frames)
    plate = Version("plate", "plate", "plate", job.input_sequence.pattern, plate_frames)
    versions = _versions_of(job, job_file, frames, "", "render", "render")
    if not versions:
        raise JobError(f"job {job_file!r} was never rendered: no frames match {job.output_sequence.pattern!r} and "
                       f"no variants or previews are beside it; render it first (recast render --job {job_file})")
    for n, other_file in enumerate(compare, 1):
        other = load_job(other_file)
        _same_plate(job, other, other_file)
        found = _versions_of(other, other_file, frames, f"c{n}", "compare",
                             f"compare {n} ({os.path.basename(other_file)})")
        if not found:
            raise JobError(f"--compare {other_file!r} was never rendered: no frames match "
                           f"{other.output_sequence.pattern!r} in {frames[0]}-{frames[-1]}; render it first")
        versions.extend(found)
    matte, channel = None, None
    mask = job.mask_sequence
    if mask is not None:
        present = _present(mask.pattern, frames)
        if present:
            matte, channel = Version("matte", "matte", "matte", mask.pattern, present), job.input.mask_channel
    elif job.input.mask_channel:
        matte, channel = Version("matte", "matte", "matte", plate.pattern, plate_frames), job.input.mask_channel
    return Shot(frames, (cut.first, cut.last), plate, versions, job.input.colorspace, matte, channel,
                job.output_sequence.folder)
