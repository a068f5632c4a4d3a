"""A host's strips as a cut: ``recast cut --strips FILE`` (Blender's "Recast selected strips").

A host that has no editorial file (Blender's sequencer) hands its selected strips as a small JSON document, and the
cut is built from it in memory as an OpenTimelineIO timeline (one video track, the strips in the order given, a gap
where the next strip starts later), so the strips are planned, versioned and rendered by the same engine as an
editor's timeline. The host never needs OpenTimelineIO::

    {"format": "recast-strips/1", "rate": 24,
     "strips": [{"name": "plate", "pattern": "/abs/plate.####.exr", "frames": [1001, 1006], "start": 10,
                 "recast": {"input.colorspace": "ACEScg"}}]}

``name`` names the shot, ``pattern`` and ``frames`` are the strip's plate and the frames it shows, ``start`` (optional)
the strip's first frame on the host's timeline, ``recast`` (optional) the strip's own job fields (as a clip's
``metadata["recast"]``).
"""

from __future__ import annotations

import json

from ..errors import TimelineError
from .timeline import otio

__all__ = ["read_strips"]

_FORMAT = "recast-strips/1"


def read_strips(path: str):
    """The timeline of the strips in ``path``; one line (:class:`TimelineError`) for a document that is not one."""
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except OSError as exc:
        raise TimelineError(f"cannot read strips file {path!r}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TimelineError(f"strips file {path!r} is not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT or not isinstance(doc.get("strips"), list) \
            or not doc["strips"]:
        raise TimelineError(f"strips file {path!r} is not a Recast strips file (format {_FORMAT!r} with strips)")
    ot = otio()
    try:
        rate = float(doc.get("rate") or 24)
    except (TypeError, ValueError):
        raise TimelineError(f"strips file {path!r}: rate {doc.get('rate')!r} is not a number") from None
    track = ot.schema.Track(name="Strips", kind=ot.schema.TrackKind.Video)
    end = None
    for n, strip in enumerate(doc["strips"], 1):
        try:
            name, pattern = str(strip["name"]), str(strip["pattern"])
            first, last = (int(v) for v in strip["frames"])
            start = int(strip.get("start", end if end is not None else 0))
            meta = strip.get("recast") or {}
            if last < first or not isinstance(meta, dict):
                raise ValueError
        except (KeyError, TypeError, ValueError, AttributeError):
            raise TimelineError(f"strips file {path!r}: strip {n} is malformed (name, pattern, frames [first, last], "
                                f"optional start and recast fields): {json.dumps(strip)[:120]}") from None
        if end is not None and start > end:
            track.append(ot.schema.Gap(source_range=ot.opentime.TimeRange(
                ot.opentime.RationalTime(0, rate), ot.opentime.RationalTime(start - end, rate))))
        count = last - first + 1
        shows = ot.opentime.TimeRange(ot.opentime.RationalTime(first, rate), ot.opentime.RationalTime(count, rate))
        ref = ot.schema.ExternalReference(target_url=pattern)  # no range: media time counts frame numbers
        track.append(ot.schema.Clip(name=name, media_reference=ref, source_range=shows, metadata={"recast": meta}))
        end = max(end or start, start + count)
    timeline = ot.schema.Timeline(name="strips")
    timeline.tracks.append(track)
    return timeline
