"""Frame sequence patterns and frame ranges.

Patterns: ``name.####.exr`` (one ``#`` per digit), ``name.%04d.exr`` / ``name.%d.exr``
(printf), ``name.$F4.exr`` / ``name.$F.exr`` (Houdini). Frame numbers are formatted as
printf's ``%0Nd`` does: the padding width counts a minus sign (``-001`` for -1 at width
4) and a number longer than the padding is written in full (``12345`` at width 4).
Ranges: ``1001-1100``, a single frame ``1001``, negative frames ``-10--1``, ``-5-5``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ..errors import SequenceError

__all__ = ["FrameRange", "FrameGaps", "SequencePattern", "compress_frames", "gaps"]

_TOKEN = re.compile(r"(#+|@+)|%(0?)(\d*)d|\$F(\d*)")  # ####, @@@@ (one digit each), %04d, $F4
_RANGE = re.compile(r"^\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?$")


@dataclass(frozen=True)
class FrameRange:
    """A contiguous, inclusive range of frame numbers."""

    first: int  #: first frame, inclusive
    last: int  #: last frame, inclusive

    @classmethod
    def parse(cls, text: str) -> "FrameRange":
        """Parse ``"1001-1100"`` or ``"1001"``; negative frames are allowed (``-10--1``)."""
        if not isinstance(text, str):
            if isinstance(text, int) and not isinstance(text, bool):
                return cls(text, text)
            raise SequenceError(f"frame range {text!r} is not text; write it as 'FIRST-LAST', e.g. '1001-1100'")
        match = _RANGE.match(text)
        if not match:
            raise SequenceError(f"frame range {text!r} is not of the form 'FIRST-LAST' (e.g. '1001-1100') or 'FRAME'")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first:
            raise SequenceError(f"frame range {text!r} ends before it starts; write the lower frame first")
        return cls(first, last)

    def __post_init__(self):
        if self.last < self.first:
            raise SequenceError(f"frame range {self.first}-{self.last} ends before it starts")

    def __iter__(self):
        return iter(range(self.first, self.last + 1))

    def __len__(self) -> int:
        return self.last - self.first + 1

    def __contains__(self, frame: object) -> bool:
        return isinstance(frame, int) and self.first <= frame <= self.last

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"


#: a range longer than this is checked against the folder's listing (one ``listdir``) instead of a ``stat`` per frame:
#: a typo'd range of 10⁹ frames is one line in a second, not hours of stats and gigabytes of lists
STAT_EACH_UP_TO = 10_000


class FrameGaps:
    """The frames of a range that are missing, held as ranges (never one number each: a range may hold 10⁹)."""

    def __init__(self, ranges: list[FrameRange]):
        self.ranges = ranges

    def __len__(self) -> int:
        return sum(len(r) for r in self.ranges)

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def __iter__(self):
        for r in self.ranges:
            yield from r

    def __str__(self) -> str:
        shown = [str(r) if len(r) > 1 else str(r.first) for r in self.ranges[:20]]
        more = len(self.ranges) - len(shown)
        return ", ".join(shown) + (f" and {more} more gap(s)" if more else "")


def gaps(span: FrameRange, present) -> FrameGaps:
    """The frames of ``span`` not in ``present`` (frame numbers, any order), in time linear in ``present``."""
    out, expected = [], span.first
    for f in sorted(f for f in set(present) if f in span):
        if f > expected:
            out.append(FrameRange(expected, f - 1))
        expected = f + 1
    if expected <= span.last:
        out.append(FrameRange(expected, span.last))
    return FrameGaps(out)


def compress_frames(frames) -> str:
    """``[1, 2, 3, 7, 9, 10]`` → ``"1-3, 7, 9-10"`` (for messages and ``recast info``)."""
    if isinstance(frames, FrameGaps):
        return str(frames)
    frames = sorted(set(frames))
    parts: list[str] = []
    start = prev = None
    for f in frames:
        if start is None:
            start = prev = f
        elif f == prev + 1:
            prev = f
        else:
            parts.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = f
    if start is not None:
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(parts)


@dataclass(frozen=True)
class SequencePattern:
    """A frame-numbered file name: ``head`` + number padded to ``padding`` + ``tail``."""

    pattern: str  #: the pattern as written
    head: str  #: everything before the frame number (may include folders)
    tail: str  #: everything after it
    padding: int  #: minimum digits (printf semantics; 1 = unpadded)

    @classmethod
    def parse(cls, pattern: str) -> "SequencePattern":
        if not isinstance(pattern, str) or not pattern.strip():
            raise SequenceError(
                f"sequence pattern {pattern!r} is empty; give a path like 'plate/sh010.####.exr'")
        tokens = list(_TOKEN.finditer(os.path.basename(pattern)))
        if not tokens:
            raise SequenceError(
                f"sequence pattern {pattern!r} has no frame number; use '####', '%04d' or '$F4' "
                "where the number goes, e.g. 'plate/sh010.####.exr'")
        if len(tokens) > 1:
            raise SequenceError(f"sequence pattern {pattern!r} has more than one frame-number token; keep one")
        tok = tokens[0]
        if tok.group(1):
            padding = len(tok.group(1))
        elif tok.group(4) is not None:
            padding = int(tok.group(4)) if tok.group(4) else 1
        else:
            digits = tok.group(3)
            padding = int(digits) if digits else 1
        if padding > 12:
            raise SequenceError(f"sequence pattern {pattern!r} pads frame numbers to {padding} digits; at most 12 are allowed")
        base_start = len(pattern) - len(os.path.basename(pattern))
        head = pattern[: base_start + tok.start()]
        tail = pattern[base_start + tok.end():]
        return cls(pattern, head, tail, max(padding, 1))

    def path(self, frame: int) -> str:
        """The file name of ``frame``."""
        return f"{self.head}{frame:0{self.padding}d}{self.tail}"

    @property
    def folder(self) -> str:
        return os.path.dirname(self.head) or "."

    def scan(self) -> dict[int, str]:
        """Frames present on disk: ``{frame: path}`` for every file the pattern matches."""
        folder = self.folder
        prefix = os.path.basename(self.head)
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return {}
        except NotADirectoryError:
            raise SequenceError(f"{folder!r} in sequence pattern {self.pattern!r} is a file, not a folder")
        except PermissionError:
            raise SequenceError(f"folder {folder!r} of sequence pattern {self.pattern!r} cannot be read (permission denied)")
        rx = re.compile(re.escape(prefix) + r"(-?\d+)" + re.escape(self.tail) + r"$")
        found: dict[int, str] = {}
        for name in names:
            m = rx.match(name)
            if not m:
                continue
            frame = int(m.group(1))
            # Only names this pattern would write: '1001' matches '####', '01001' does not.
            if os.path.basename(self.path(frame)) == name:
                found[frame] = self.path(frame)
        return found

    def existing(self, frames: FrameRange) -> tuple[list[int], list[int] | FrameGaps]:
        """Split ``frames`` into those present as files and those missing (a :class:`FrameGaps` for a range longer
        than :data:`STAT_EACH_UP_TO`: the folder's listing, not a stat per frame)."""
        if len(frames) > STAT_EACH_UP_TO:
            found = self.scan()
            return sorted(f for f in found if f in frames), gaps(frames, found)
        present, missing = [], []
        for f in frames:
            (present if os.path.exists(self.path(f)) else missing).append(f)
        return present, missing
