"""``recast farm FORMAT --cut DIR``: one farm job for a cut planned by ``recast cut`` (:mod:`recast.core.cut.farm`);
Deadline and Flamenco write a job per shot instead (:mod:`.farm_onprem`)."""

from __future__ import annotations

import os

__all__ = ["run_cut"]


def run_cut(args) -> int:
    from ..errors import JobError
    from .farm import cue_options, say_opencue, say_openjd

    if args.frames:
        raise JobError("--frames is for one shot (--job); a cut's shots render the frames its cut.json names")
    stem = os.path.abspath(args.cut).rstrip(os.sep)
    if args.format == "openjd":
        from ..cut.farm import write_openjd_cut

        out = write_openjd_cut(args.cut, args.out or stem + "_openjd", args.chunk_size, args.worker, args.gpu)
        return say_openjd(out, args.json, f"{len(out['steps'])} steps, chunk set {out['chunk_set']}")
    if args.format == "opencue":
        from ..cut.farm import write_opencue_cut

        out = write_opencue_cut(args.cut, args.out or stem + "_opencue", args.chunk_size, args.worker, args.gpu,
                                **cue_options(args))
        return say_opencue(out, args.json)
    raise ValueError(f"no cut writer for {args.format!r}")  # the parser's choices: deadline/flamenco go elsewhere
