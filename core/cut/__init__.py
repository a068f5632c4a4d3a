"""Editorial: a whole cut rendered shot by shot and conformed back, through OpenTimelineIO (``recast cut``).

``timeline`` (reading a timeline through OpenTimelineIO and its adapters; its video tracks) → ``media`` (a
clip's plate and its frame numbers) → ``overrides`` (what one shot does differently: clip metadata, markers, a
sidecar) → ``plan`` (one job per clip, handles clamped to the media) → ``render`` (the shots one after another,
through the desk or here) → ``conform`` (the timeline again, each rendered clip on its render). Importing it needs
neither OpenTimelineIO nor torch: they are imported where used.
"""

from .conform import conform, conformed_path, export
from .manifest import CutShot, load_plan, read_manifest, rendered_on_disk, write_manifest
from .media import ClipRefused, Media, media_of
from .overrides import apply_overrides, load_sidecar, overrides_for, sidecar_beside
from .plan import CutPlan, Shot, plan_cut, write_jobs
from .render import render_shots
from .timeline import read_timeline, video_tracks, write_timeline

__all__ = ["ClipRefused", "CutPlan", "CutShot", "Media", "Shot", "apply_overrides", "conform", "conformed_path", "export",
           "load_plan", "load_sidecar", "rendered_on_disk", "media_of", "overrides_for", "plan_cut", "read_manifest", "read_timeline", "render_shots",
           "sidecar_beside", "video_tracks", "write_jobs", "write_manifest", "write_timeline"]
