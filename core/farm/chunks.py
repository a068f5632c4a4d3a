"""Farm chunks, assembled: the seam frames of a chunked render written as the cross-fade of every chunk that
rendered them.

The chunks themselves are planned by :mod:`recast.core.pipeline.chunks` (handles, the shot-anchored grid, which
frames are seams, their weights ``w_c``); the output is ``Σ w_c·x_c / Σ w_c`` over the chunks that rendered the
frame. Neighbouring ramps sum to 1, so the blend is a linear cross-fade across the 2h frames around each boundary.
Every output frame is written once, atomically.
"""

from __future__ import annotations

import os
from collections import Counter

import numpy as np

from ..errors import SequenceError
from ..io.frames import FrameRange, compress_frames
from ..pipeline.chunks import ChunkPlan, chunk_handles, chunk_sequence, found_chunks, set_folder

__all__ = ["assemble"]


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
        raise SequenceError(f"no rendered chunks of this job in {set_folder(job, chunk_set)}; render the chunks "
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
