"""The plate of a clip: an EXR sequence on disk, and how the clip's media time maps to its frame numbers.

* ``ImageSequenceReference``: its files (``target_url_base`` + ``name_prefix`` + number + ``name_suffix``);
  frame = ``start_frame`` + (t − available start) · rate (OpenTimelineIO's own ``frame_for_time``).
* ``ExternalReference`` to a sequence pattern (``####``, ``%04d``, ``$F4``): with an available range, its
  start is the first frame on disk; without one, media time counts frame numbers (t · rate).
* No media (an EDL's clip): a sequence under ``--media-root`` named for the clip or its reel
  (``ROOT/NAME.####.exr``, or the one EXR sequence in ``ROOT/NAME/``); an EDL's source timecode counts
  frame numbers (00:00:41:17 at 24 fps is frame 1001).
* A movie file (an editorial proxy, an FCP XML's ``.mov``/``.mxf``): with ``--media-root``, the EXR plate there
  named for the clip or the movie's stem, its first frame at the movie's first.

A clip whose media cannot be rendered (none, a movie file, not EXR, no frames on disk) raises
:class:`ClipRefused`, one line the cut reports while the other clips go on.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ..errors import SequenceError
from ..io.frames import SequencePattern
from .timeline import otio

__all__ = ["ClipRefused", "Media", "media_of"]

_NUMBERED = re.compile(r"^(.*?)(\d+)\.exr$", re.IGNORECASE)


class ClipRefused(Exception):
    """One clip of the cut cannot be rendered: its one-line reason (the others go on)."""


@dataclass(frozen=True)
class Media:
    """An EXR sequence and its time: frame ``first_frame`` is at media time ``start`` (frames at ``rate``)."""

    pattern: str  #: absolute sequence pattern, e.g. /shots/plate/sh010.####.exr
    rate: float  #: frames per second of the media
    start: float  #: media time (in frames at ``rate``) of ``first_frame``
    first_frame: int  #: the frame number at ``start``
    on_disk: frozenset  #: frame numbers present
    bounds: tuple[int, int] | None = None  #: the frames the reference's available range allows (None: any)

    def frame(self, t) -> int:
        """The frame number shown at media time ``t`` (a RationalTime)."""
        return self.first_frame + int(round(t.rescaled_to(self.rate).value - self.start))

    def time(self, frame: int):
        """The media time (a RationalTime at ``rate``) of frame number ``frame``."""
        return otio().opentime.RationalTime(self.start + (frame - self.first_frame), self.rate)

    def usable(self, frame: int) -> bool:
        """True when ``frame`` is on disk and inside the reference's available range."""
        inside = self.bounds is None or self.bounds[0] <= frame <= self.bounds[1]
        return inside and frame in self.on_disk


def _path(url: str, base: str) -> str:
    """A media URL (``file://`` or a path, relative ones from the timeline's folder) as an absolute path."""
    if url.startswith("file:"):
        url = _file_url(url)
    elif "://" in url:
        raise ClipRefused(f"its media {url!r} is not a local file")
    return os.path.normpath(url if os.path.isabs(url) else os.path.join(base, url))


def _file_url(url: str) -> str:
    """A ``file:`` URL as a path, a frame token in it (``#``, ``%04d``) kept: OpenTimelineIO's
    ``filepath_from_url`` takes ``#`` for a fragment and ``%04`` for an escaped byte."""
    from urllib.parse import unquote

    rest = url[len("file:"):]
    if rest.startswith("//"):
        rest = "/" + rest[2:].partition("/")[2]  # the host ('' or localhost) dropped
    parts = re.split(r"(%0\d+d|%d)", rest)
    return "".join(p if i % 2 else unquote(p) for i, p in enumerate(parts))


def _frames(pattern: str) -> frozenset:
    try:
        return frozenset(SequencePattern.parse(pattern).scan())
    except SequenceError as exc:
        raise ClipRefused(str(exc)) from None


def _sequence(ref, base: str) -> Media:
    if not ref.name_suffix.lower().endswith(".exr"):
        raise ClipRefused(f"its image sequence ends {ref.name_suffix!r}; Recast renders EXR sequences")
    if ref.frame_step != 1:
        raise ClipRefused(f"its image sequence steps {ref.frame_step} frames; Recast renders every frame")
    folder = _path(ref.target_url_base or ".", base)
    pad = max(int(ref.frame_zero_padding or 1), 1)
    pattern = os.path.join(folder, f"{ref.name_prefix}{'#' * pad}{ref.name_suffix}")
    avail = ref.available_range
    rate = float(ref.rate)
    start = avail.start_time.rescaled_to(rate).value if avail is not None else 0.0
    media = Media(pattern, rate, start, int(ref.start_frame), _frames(pattern))
    if avail is not None:
        n = int(round(avail.duration.rescaled_to(rate).value))
        media = Media(pattern, rate, start, media.first_frame, media.on_disk, (media.first_frame,
                                                                                media.first_frame + n - 1))
    return media


def _external(ref, base: str, clip_rate: float) -> Media:
    path = _path(ref.target_url or "", base)
    try:
        SequencePattern.parse(path)
    except SequenceError:
        what = "a movie file" if os.path.isfile(path) else "not a frame sequence"
        raise ClipRefused(f"its media {path!r} is {what}; Recast renders EXR sequences (convert it to one, "
                          "e.g. name.####.exr)") from None
    if not path.lower().endswith(".exr"):
        raise ClipRefused(f"its media {path!r} is not an EXR sequence; Recast renders EXR sequences")
    on_disk = _frames(path)
    avail = ref.available_range
    if avail is not None and on_disk:
        rate = float(avail.start_time.rate)
        n = int(round(avail.duration.rescaled_to(rate).value))
        first = min(on_disk)
        return Media(path, rate, avail.start_time.value, first, on_disk, (first, first + n - 1))
    return Media(path, clip_rate, 0.0, 0, on_disk)


def _under_root(names: list[str], root: str, rate: float) -> Media:
    """The sequence under ``root`` named for the clip or its reel."""
    tried = [n for n in names if n and os.sep not in n and n not in (".", "..")]  # a name, never a path
    tried += [n.rstrip("._- ") for n in tried if n.rstrip("._- ") not in tried]  # an EDL's reel 'Z677_4C.'
    for name in tried:
        folder = os.path.join(root, name)
        candidates = []
        if os.path.isdir(folder):
            candidates = _sequences(folder)
        if not candidates:
            candidates = [p for p in _sequences(root)
                          if os.path.basename(p).split("#")[0].rstrip("._-") == name]
        if len(candidates) > 1:
            raise ClipRefused(f"{len(candidates)} EXR sequences under --media-root match {name!r}; keep one")
        if candidates:
            return Media(candidates[0], rate, 0.0, 0, _frames(candidates[0]))
    return None


def _plate_for_movie(ref, clip, root: str, clip_rate: float) -> Media | None:
    """The EXR plate under ``root`` standing in for a movie (or any file that is not an EXR sequence): named for
    the clip or the file's stem, as an editorial proxy is conformed to its plate by name. Its first frame on disk
    is the movie's first (its available range's start, e.g. the source timecode), so the clip's source range
    means the same frames."""
    stem = os.path.splitext(os.path.basename((ref.target_url or "").rstrip("/")))[0]
    found = _under_root([clip.name, os.path.splitext(clip.name or "")[0], stem], root, clip_rate)
    if found is None or not found.on_disk:
        return found
    avail = ref.available_range
    if avail is None:
        return found
    rate = float(avail.start_time.rate)
    first = min(found.on_disk)
    n = int(round(avail.duration.rescaled_to(rate).value))
    return Media(found.pattern, rate, avail.start_time.value, first, found.on_disk, (first, first + n - 1))


def _sequences(folder: str) -> list[str]:
    """The EXR sequence patterns in ``folder`` (not below it)."""
    found = set()
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    for n in names:
        m = _NUMBERED.match(n)
        if m:
            found.add(os.path.join(folder, f"{m.group(1)}{'#' * len(m.group(2))}.exr"))
    return sorted(found)


def media_of(clip, base: str, media_root: str | None) -> Media:
    """The plate of ``clip`` (``base``: the timeline's folder, for relative paths); :class:`ClipRefused` when it
    has none Recast can render."""
    ot = otio()
    ref = clip.media_reference
    clip_rate = float(clip.source_range.start_time.rate) if clip.source_range is not None else 24.0
    if isinstance(ref, ot.schema.ImageSequenceReference):
        media = _sequence(ref, base)
    elif isinstance(ref, ot.schema.ExternalReference):
        try:
            media = _external(ref, base, clip_rate)
        except ClipRefused as exc:
            media = _plate_for_movie(ref, clip, media_root, clip_rate) if media_root else None
            if media is None:
                raise ClipRefused(f"{exc}" + (" and none under --media-root is named for it" if media_root else
                                              "; or give --media-root to find its plate by name")) from None
    else:
        reel = (clip.metadata.get("cmx_3600") or {}).get("reel") if "cmx_3600" in clip.metadata else None
        media = _under_root([clip.name, reel], media_root, clip_rate) if media_root else None
        if media is None:
            where = f" and none under --media-root named {clip.name!r}" + (f" or {reel!r}" if reel else "") \
                if media_root else " (give --media-root to find it by clip or reel name)"
            raise ClipRefused(f"it has no media{where}")
    if not media.on_disk:
        raise ClipRefused(f"its media {media.pattern!r} has no frames on disk")
    return media
