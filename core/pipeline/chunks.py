"""Chunk planning: a shot rendered as several tasks (farm chunks) that meet without a seam.

A chunk ``A-B`` of the shot is rendered **with handles**: ``h`` extra frames on each side (``h`` = the job's
``handles``, at least its window overlap), clipped to the shot. Its context windows sit on the grid anchored at
the shot's first frame and its noise is drawn per absolute frame, so two chunks place the same windows, from the
same noise, over the frames they share. Near a boundary with a neighbouring chunk both still see different
context, so the frames both render (``h`` on each side of the boundary) are cross-faded:

    w_c(f) = clip((f - (A - h) + 0.5) / 2h, 0, 1) · clip(((B + h) - f + 0.5) / 2h, 0, 1)

(ramps only toward a neighbour; 1 at the shot's own ends). A chunk writes the frames no other chunk renders (its
*interior*) straight to the output and the rest (its *seam* frames) to
``recast_cache/chunks/<job fingerprint>/<chunk set>/A-B/``; :func:`recast.core.farm.chunks.assemble` then writes
the seam frames. The chunk set names one submission, so chunk folders of an earlier submission with other chunk
sizes are never mixed in.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ..errors import SequenceError
from ..io.cache import cache_folder
from ..io.frames import FrameRange, SequencePattern

__all__ = ["ChunkPlan", "chunk_handles", "chunk_sequence", "found_chunks", "set_folder"]

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def chunk_handles(job) -> int:
    """Handles a chunk renders on each side: the job's, and at least the window overlap."""
    return max(job.handles, job.window.overlap)


@dataclass(frozen=True)
class ChunkPlan:
    shot: FrameRange  #: the job's whole range
    chunk: FrameRange  #: the frames this task delivers
    handles: int

    def __post_init__(self):
        if not (self.chunk.first in self.shot and self.chunk.last in self.shot):
            raise SequenceError(f"chunk {self.chunk} is outside the job's range {self.shot}")

    @property
    def rendered(self) -> FrameRange:
        """The chunk with its handles, clipped to the shot."""
        return FrameRange(max(self.shot.first, self.chunk.first - self.handles),
                          min(self.shot.last, self.chunk.last + self.handles))

    def weight(self, f: int) -> float:
        """This chunk's cross-fade weight at frame ``f`` (0 outside what it renders)."""
        if f not in self.rendered:
            return 0.0
        h = self.handles
        w = 1.0
        if self.chunk.first > self.shot.first and h:
            w *= min(1.0, max(0.0, (f - (self.chunk.first - h) + 0.5) / (2 * h)))
        if self.chunk.last < self.shot.last and h:
            w *= min(1.0, max(0.0, ((self.chunk.last + h) - f + 0.5) / (2 * h)))
        return w

    def is_seam(self, f: int) -> bool:
        """A frame another chunk renders too (handles included): it goes to the chunk folder."""
        h = self.handles
        before = self.chunk.first > self.shot.first and f < self.chunk.first + h
        after = self.chunk.last < self.shot.last and f > self.chunk.last - h
        return before or after


def chunk_sequence(job, chunk_set: str, chunk: FrameRange) -> SequencePattern:
    """Where a chunk keeps its seam frames."""
    if not _NAME.match(chunk_set):
        raise SequenceError(f"chunk set {chunk_set!r}: use 1-64 letters, digits, '.', '_' or '-'")
    name = os.path.basename(job.output_sequence.pattern)
    return SequencePattern.parse(os.path.join(set_folder(job, chunk_set), f"{chunk.first}-{chunk.last}", name))


def set_folder(job, chunk_set: str) -> str:
    return os.path.join(cache_folder(job), "chunks", job.fingerprint(), chunk_set)


def found_chunks(job, chunk_set: str) -> list[FrameRange]:
    folder = set_folder(job, chunk_set)
    names = os.listdir(folder) if os.path.isdir(folder) else []
    return sorted((FrameRange.parse(n) for n in names if re.match(r"^-?\d+--?\d+$", n)), key=lambda r: r.first)
