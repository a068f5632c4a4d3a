"""Farm chunks: a shot rendered as several tasks that meet without a seam.

A farm task renders a chunk ``A-B`` of the shot **with handles**: ``h`` extra frames on each
side (``h`` = the job's ``handles``, at least its window overlap), clipped to the shot. Its
context windows sit on the grid anchored at the shot's first frame and its noise is drawn per
absolute frame, so two chunks place the same windows, from the same noise, over the frames
they share. Near a boundary with a neighbouring chunk both still see different context, so
the frames both render (``h`` on each side of the boundary) are cross-faded:

    w_c(f) = clip((f - (A - h) + 0.5) / 2h, 0, 1) · clip(((B + h) - f + 0.5) / 2h, 0, 1)

(ramps only toward a neighbour; 1 at the shot's own ends), and the output is
``Σ w_c·x_c / Σ w_c`` over the chunks that rendered the frame. Neighbouring ramps sum to 1,
so the blend is a linear cross-fade across the 2h frames around each boundary.

Every output frame is written once, atomically: a chunk writes the frames no other chunk
renders (its *interior*) straight to the output and the rest (its *seam* frames) to
``recast_cache/chunks/<job fingerprint>/<chunk set>/A-B/``; :func:`assemble` then writes the
seam frames. The chunk set names one submission, so chunk folders of an earlier submission
with other chunk sizes are never mixed in.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..models.cache import cache_folder
from ..errors import SequenceError
from ..io.frames import FrameRange, SequencePattern, compress_frames

__all__ = ["ChunkPlan", "chunk_handles", "chunk_sequence", "assemble"]

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
    return SequencePattern.parse(os.path.join(_set_folder(job, chunk_set), f"{chunk.first}-{chunk.last}", name))


def _set_folder(job, chunk_set: str) -> str:
    return os.path.join(cache_folder(job), "chunks", job.fingerprint(), chunk_set)


def found_chunks(job, chunk_set: str) -> list[FrameRange]:
    folder = _set_folder(job, chunk_set)
    names = os.listdir(folder) if os.path.isdir(folder) else []
    return sorted((FrameRange.parse(n) for n in names if re.match(r"^-?\d+--?\d+$", n)), key=lambda r: r.first)


def _rendered_whole(job, shot: FrameRange) -> bool:
    """Every frame of ``shot`` is in the output, written by a render of this very job."""
    from ..errors import RecastError
    from ..io.exrio import read_header

    fingerprint = job.fingerprint()
    for f in shot:
        try:
            if read_header(job.output_sequence.path(f)).attribute("recast/fingerprint") != fingerprint:
                return False
        except RecastError:
            return False
    return True


def assemble(job, chunk_set: str, reporter, cancel) -> list[int]:
    """Write the seam frames of a chunked render: the cross-fade of every chunk that rendered them.

    Checks first that the chunks found tile the job's range and that every seam frame is there."""
    from ..io.exrio import read_parts, write_parts
    from ..shot.layers import edit_layers
    from ..shot.plate import prepare_output
    from ..shot.protect import check_outputs_spare_inputs

    shot = job.frame_range
    chunks = found_chunks(job, chunk_set)
    if not chunks and shot is not None and _rendered_whole(job, shot):
        # one chunk held the whole shot (a short shot, or a chunk size above its length): no seams
        reporter.start(job=job.root, frames=str(shot), total=0, output=job.output_sequence.pattern, stage="assemble")
        reporter.done(frames=0, output=job.output_sequence.pattern, chunks=[str(shot)])
        return []
    if not chunks:
        raise SequenceError(f"no rendered chunks of this job in {_set_folder(job, chunk_set)}; render the chunks "
                            "('recast render --chunk A-B') before assembling")
    if shot is None:
        shot = FrameRange(chunks[0].first, chunks[-1].last)
    h = chunk_handles(job)
    plans = [ChunkPlan(shot, c, h) for c in chunks]
    covered = Counter(f for c in chunks for f in c)
    gaps = sorted(set(shot) - set(covered))
    doubled = sorted(f for f, n in covered.items() if n > 1)
    if gaps or doubled:
        problem = f"frames {compress_frames(gaps)} are in no chunk" if gaps else \
            f"frames {compress_frames(doubled)} are in more than one chunk"
        raise SequenceError(f"the chunks found ({', '.join(map(str, chunks))}) do not tile {shot}: {problem}")
    seams = sorted({f for p in plans for f in p.rendered if p.is_seam(f)})
    sources = {f: [(p, chunk_sequence(job, chunk_set, p.chunk).path(f)) for p in plans if p.weight(f) > 0]
               for f in seams}
    missing = [path for f in seams for _, path in sources[f] if not os.path.isfile(path)]
    if missing:
        raise SequenceError(f"{len(missing)} seam frame(s) of the chunks are missing, e.g. {missing[0]}; render "
                            "those chunks again")
    out_seq = job.output_sequence
    check_outputs_spare_inputs(job, shot)
    prepare_output(out_seq)
    interior_missing = [f for f in shot if f not in seams and not os.path.isfile(out_seq.path(f))]
    if interior_missing:
        raise SequenceError(f"frames {compress_frames(interior_missing)} of the chunks are not in the output; "
                            "render those chunks again")
    reporter.start(job=job.root, frames=str(shot), total=len(seams), output=out_seq.pattern, stage="assemble")
    written = []
    layers = None
    for i, f in enumerate(seams):
        cancel.check(f"after {len(written)} of {len(seams)} seam frames were written")
        renders = [(p.weight(f), read_parts(path)) for p, path in sources[f]]
        if layers is None:  # the edited layers (views) of every part, as the render chose them
            layers = edit_layers([fr.header for fr in renders[0][1]], job.input.part, job.input.views)
        total = sum(w for w, _ in renders)
        base = list(max(renders, key=lambda wp: wp[0])[1])
        for layer in layers:
            mix = sum(w * layer.channels(fr[layer.part]).astype(np.float64) for w, fr in renders) / total
            base[layer.part] = layer.with_channels(base[layer.part], mix.astype(np.float32))
        header = {"recast/range": str(shot),  # the rest of the header (fingerprint, plate stamp) is base's
                  "recast/chunks": ", ".join(f"{p.chunk}:{p.weight(f):.3f}" for p, _ in sources[f])}
        write_parts(out_seq.path(f), base, header)
        written.append(f)
        reporter.frame(f, os.path.abspath(out_seq.path(f)))
        reporter.progress("assemble", i + 1, len(seams))
    reporter.done(frames=len(written), output=out_seq.pattern, chunks=[str(c) for c in chunks])
    return written
