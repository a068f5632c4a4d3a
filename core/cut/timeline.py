"""Reading an editorial timeline through OpenTimelineIO, and the video tracks a cut renders.

``.otio``/``.otioz`` are OpenTimelineIO's own; an EDL (CMX 3600), FCP 7 XML, FCPXML or AAF is read through the
adapter plugins (``opentimelineio-plugins``), found by the file's extension. OpenTimelineIO is imported here,
inside the functions, so ``recast.core`` imports without it (the ``cut`` extra brings it).
"""

from __future__ import annotations

import os

from ..errors import TimelineError

__all__ = ["otio", "read_timeline", "video_tracks", "write_timeline", "EXPORTS"]

#: ``--export`` name → (adapter, file extension)
EXPORTS = {"edl": ("cmx_3600", ".edl"), "fcp_xml": ("fcp_xml", ".xml"), "otio": ("otio_json", ".otio")}


def otio():
    """The ``opentimelineio`` module, or one line saying which extra brings it."""
    try:
        import opentimelineio
    except ModuleNotFoundError:
        raise TimelineError("OpenTimelineIO is not installed in this Python; for 'recast cut' run "
                            "pip install 'recast[cut]'") from None
    return opentimelineio


def read_timeline(path: str, rate: float | None = None):
    """The timeline in ``path``; ``rate`` is the frame rate of an EDL (which does not say it; 24 when None)."""
    ot = otio()
    if os.path.isdir(path) and not path.endswith(".otiod"):
        raise TimelineError(f"timeline {path!r} is a folder; give an .otio, .otioz, .edl or .xml file")
    if not os.path.exists(path):
        raise TimelineError(f"timeline {path!r} does not exist")
    try:
        adapter = ot.adapters.from_filepath(path).name
    except Exception:  # OTIO's own 'no adapter for suffix' error
        raise TimelineError(f"timeline {path!r}: OpenTimelineIO has no adapter for files ending "
                            f"{os.path.splitext(path)[1] or '(no extension)'!r}; give an .otio, .otioz, .edl, .xml "
                            "(FCP 7), .fcpxml or .aaf file (the adapters come with 'recast[cut]')") from None
    kwargs = {"rate": rate or 24} if adapter == "cmx_3600" else {}
    try:
        result = ot.adapters.read_from_file(path, adapter_name=adapter, **kwargs)
    except Exception as exc:  # an adapter raises whatever its parser raises: one line, never a traceback
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise TimelineError(f"timeline {path!r} cannot be read as {adapter}: {detail}") from None
    if isinstance(result, ot.schema.SerializableCollection):  # FCP XML may hold several sequences
        timelines = [t for t in result.find_children(descended_from_type=ot.schema.Timeline)] or list(result)
        timelines = [t for t in timelines if isinstance(t, ot.schema.Timeline)]
        if not timelines:
            raise TimelineError(f"timeline {path!r} holds no timeline (sequence)")
        result = timelines[0]
    if not isinstance(result, ot.schema.Timeline):
        raise TimelineError(f"timeline {path!r} holds a {type(result).__name__}, not a timeline")
    return result


def video_tracks(timeline, name: str | None = None) -> list[tuple[int, object]]:
    """``(index among the timeline's tracks, track)`` of every video track, or of the one named ``name``."""
    ot = otio()
    tracks = list(timeline.tracks)
    video = [(i, t) for i, t in enumerate(tracks) if t.kind == ot.schema.TrackKind.Video]
    if name is not None:
        named = [(i, t) for i, t in video if t.name == name]
        if not named:
            known = ", ".join(repr(t.name) for _, t in video) or "none"
            raise TimelineError(f"the timeline has no video track named {name!r}; its video tracks: {known}")
        return named
    if not video:
        raise TimelineError("the timeline has no video track; a cut renders the clips of its video tracks")
    return video


def write_timeline(timeline, path: str, adapter: str = "otio_json") -> None:
    """Write ``timeline`` to ``path`` through ``adapter``, atomically (a half-written timeline is never left)."""
    from ..io.atomic import atomic_path

    ot = otio()
    suffix = os.path.splitext(path)[1]
    with atomic_path(path, TimelineError) as tmp:
        target = tmp if tmp.endswith(suffix) else tmp + suffix  # the adapters pick their dialect by suffix
        try:
            ot.adapters.write_to_file(timeline, target, adapter_name=adapter)
        except Exception as exc:
            raise TimelineError(f"cannot write {path!r} as {adapter}: {' '.join(str(exc).split())[:200]}") from None
        if target != tmp:
            os.replace(target, tmp)
