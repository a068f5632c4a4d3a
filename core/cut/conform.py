"""Conforming a cut: the timeline again, each rendered clip now on its render.

A copy of the timeline keeps every track, item and timing as it was (gaps, transitions, effects, markers and
metadata passed through); only the media reference of a rendered clip changes: an ``ImageSequenceReference``
to the shot's output (its rate, start frame, and available range — the frames rendered, handles included — in
the same media time as the plate's, so the clip's source range and time warps mean what they meant). A clip
that failed or was not rendered stays on its plate with a red marker saying why
(``metadata["recast_cut"]``). ``--export`` writes the same timeline through another adapter.
"""

from __future__ import annotations

import os

from .timeline import EXPORTS, otio, write_timeline

__all__ = ["conform", "conformed_path", "export"]


def conformed_path(plan) -> str:
    """``<out>/<timeline stem>_recast.otio``."""
    stem = os.path.splitext(os.path.basename(plan.path))[0]
    return os.path.join(plan.out, f"{stem}_recast.otio")


def _render_reference(shot):
    """The rendered sequence as an ``ImageSequenceReference``, in the plate's media time."""
    ot = otio()
    seq = shot.job.output_sequence
    first, last = shot.frames
    rate = shot.media.rate
    folder, prefix = os.path.split(seq.head)
    avail = ot.opentime.TimeRange(shot.media.time(first), ot.opentime.RationalTime(last - first + 1, rate))
    return ot.schema.ImageSequenceReference(
        target_url_base=ot.url_utils.url_from_filepath(folder + os.sep), name_prefix=prefix, name_suffix=seq.tail,
        start_frame=first, frame_step=1, rate=rate, frame_zero_padding=seq.padding, available_range=avail,
        metadata={"recast": {"job": shot.job_file}})


def _mark(clip, status: str, reason: str) -> None:
    """A red marker at the clip's start saying why it is still on its plate."""
    ot = otio()
    start = clip.source_range.start_time if clip.source_range is not None else ot.opentime.RationalTime(0, 24)
    clip.markers.append(ot.schema.Marker(
        name=f"recast {status}: {reason}"[:200], color=ot.schema.MarkerColor.RED,
        marked_range=ot.opentime.TimeRange(start, ot.opentime.RationalTime(0, start.rate)),
        metadata={"recast_cut": {"status": status, "reason": reason}}))


def conform(plan, results: dict[str, dict]) -> str:
    """Write the conformed timeline of ``plan`` given the shots' ``results``; returns its path."""
    timeline = plan.timeline.deepcopy()
    tracks = list(timeline.tracks)
    for shot in plan.shots:
        clip = tracks[shot.where[0]][shot.where[1]]
        result = results.get(shot.name) or {"status": "skipped", "message": "not rendered (--plan-only or stopped)"}
        if result["status"] == "done":
            clip.media_reference = _render_reference(shot)
            clip.metadata["recast_cut"] = {"status": "rendered", "job": shot.job_file, "frames": list(shot.frames)}
        else:
            _mark(clip, result["status"], result.get("message") or "not rendered")
    for refused in plan.refused:
        t, i = refused["where"]
        item = tracks[t][i]
        if hasattr(item, "markers"):
            _mark(item, "skipped", refused["reason"])
    path = conformed_path(plan)
    write_timeline(timeline, path)
    plan.conformed = timeline
    return path


def export(plan, timeline, kind: str) -> str:
    """Write ``timeline`` (the conformed one) as ``kind`` (edl, fcp_xml) beside it; returns the path."""
    adapter, ext = EXPORTS[kind]
    path = os.path.splitext(conformed_path(plan))[0] + ext
    if kind == "fcp_xml":
        timeline = _as_files(timeline)
    write_timeline(timeline, path, adapter)
    return path


def _as_files(timeline):
    """A copy the FCP 7 XML adapter can write: it knows only file references, so an image sequence becomes a
    reference to its first frame (what Premiere and Resolve import as a sequence), and media with no file (or
    no range) an offline file reference named for its clip."""
    ot = otio()
    timeline = timeline.deepcopy()
    for clip in timeline.find_clips():
        ref = clip.media_reference
        if isinstance(ref, ot.schema.ImageSequenceReference):
            first = ref.target_url_for_image_number(0)
            clip.media_reference = ot.schema.ExternalReference(
                target_url=first, available_range=ref.available_range, metadata=ref.metadata)
            clip.media_reference.name = os.path.basename(first)
        elif not isinstance(ref, ot.schema.ExternalReference) or ref.available_range is None:
            url = ref.target_url if isinstance(ref, ot.schema.ExternalReference) else ""
            clip.media_reference = ot.schema.ExternalReference(target_url=url, available_range=clip.source_range)
            clip.media_reference.name = clip.name or "offline"
    for item in timeline.find_children(descended_from_type=ot.core.Composition):
        if item.source_range is None and item.parent() is not None and item.parent() is not timeline.tracks:
            item.source_range = item.trimmed_range()  # the adapter reads a nested stack's rate from its range
    return timeline
