"""``recast farm FORMAT --cut DIR``: one farm job for a cut planned by ``recast cut`` (:mod:`recast.core.farm.cut`)."""

from __future__ import annotations

import json
import os

__all__ = ["run_cut"]


def run_cut(args) -> int:
    from ..errors import JobError

    if args.frames:
        raise JobError("--frames is for one shot (--job); a cut's shots render the frames its cut.json names")
    stem = os.path.abspath(args.cut).rstrip(os.sep)
    if args.format == "openjd":
        from ..cut.farm import write_openjd_cut

        out = write_openjd_cut(args.cut, args.out or stem + "_openjd", args.chunk_size, args.worker, args.gpu)
        if args.json:
            print(json.dumps(out))
            return 0
        print(f"OpenJD bundle: {out['bundle']} ({len(out['steps'])} steps, chunk set {out['chunk_set']})")
        print(f"submit to Deadline Cloud:   {out['deadline_submit']}")
        print("run it on this workstation:")
        print(out["openjd_run"])
        return 0
    if args.format == "opencue":  # (deadline and flamenco write a job per shot: farm_onprem)
        from ..cut.farm import write_opencue_cut

        out = write_opencue_cut(args.cut, args.out or stem + "_opencue", args.chunk_size, args.worker, args.gpu,
                                user=args.user, show=args.show, shot=args.shot,
                                facility=args.facility or os.environ.get("FACILITY"), email=args.email)
        if args.json:
            print(json.dumps(out))
            return 0
        print(f"OpenCue job spec: {out['spec']} (layers {', '.join(out['layers'])})")
        print("submit it where a Cuebot runs:")
        print(out["submit"])
        return 0
    raise ValueError(f"no cut writer for {args.format!r}")  # the parser's choices: deadline/flamenco go elsewhere
