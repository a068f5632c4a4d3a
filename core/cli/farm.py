"""``recast farm openjd|opencue``: write a farm job for a job file."""

from __future__ import annotations

import argparse
import json
import os

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    p = sub.add_parser("farm", help="write a farm job: an OpenJD bundle (Deadline Cloud), an OpenCue outline, "
                                    "Deadline 10 jobs or a Flamenco 3 job")
    p.add_argument("format", choices=["openjd", "opencue", "deadline", "flamenco"])
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--job", help="job file (JSON)")
    what.add_argument("--cut", metavar="DIR", help="a cut's folder planned by 'recast cut' (its cut.json): every "
                                                   "shot's steps, then the conform (OpenJD, OpenCue); a job per shot "
                                                   "(Deadline, Flamenco)")
    p.add_argument("--frames", metavar="A-B", help="the shot's frame range (default: the job's input.frames, else "
                                                   "the frames of the plate on disk, as 'recast render' takes)")
    p.add_argument("--out", help="folder to write into (default: <job name>_openjd / _opencue beside the job)")
    p.add_argument("--chunk-size", type=int, default=16, help="frames per render task (default 16)")
    p.add_argument("--worker", help="the recast executable on the farm hosts (default: $RECAST_FARM_WORKER, else "
                                    "'recast' on their PATH)")
    p.add_argument("--gpu", action=argparse.BooleanOptionalAction, default=None,
                   help="ask for GPU hosts (default: unless the job's device is cpu or mps)")
    p.add_argument("--json", action="store_true", help="print what was written (paths, commands) as one JSON object")
    cue = p.add_argument_group("OpenCue (Cuebot refuses root; the show and facility must exist in it)")
    cue.add_argument("--user", help="the submitting user (default: $RECAST_FARM_USER, else the login user)")
    cue.add_argument("--show", help="the show (default: $SHOW, else 'recast')")
    cue.add_argument("--shot", help="the shot (default: $SHOT, else the output file's name)")
    cue.add_argument("--facility", help="the facility (default: $FACILITY, else Cuebot's default)")
    cue.add_argument("--email", help="where Cuebot mails the job's news (default: $RECAST_FARM_EMAIL, else none)")
    from .farm_onprem import add_onprem_options

    add_onprem_options(p)


#: the most render tasks one submission may hold: more is a range or chunk size typed wrong, and a farm's
#: scheduler (and the bundle's own writing) would choke on it long before any frame renders
MAX_TASKS = 10_000


def farm_job(args):
    """The job file's job with the shot's range filled in: ``--frames``, else its ``input.frames``, else the
    plate's frames on disk (as ``recast render`` takes them); the task count checked."""
    from ..errors import JobError
    from ..io.frames import FrameRange
    from ..job import load_job
    from ..shot.plate import shot_range

    job = load_job(args.job)
    if args.frames:
        frames = FrameRange.parse(args.frames)
    else:
        frames = shot_range(job)  # a job saved from flags leaves input.frames null: the plate's frames on disk
    if isinstance(args.chunk_size, int) and args.chunk_size >= 1:
        tasks = -(-len(frames) // args.chunk_size)
        if tasks > MAX_TASKS:
            raise JobError(f"{frames} in chunks of {args.chunk_size} frames is {tasks} render tasks; at most "
                           f"{MAX_TASKS} are allowed: check the range, or give a larger --chunk-size")
    return job.replace(input={"frames": str(frames)})


def run(args, reporter, cancel) -> int:
    if args.cut and os.path.basename(args.cut) == "cut.json" and os.path.isfile(args.cut):
        args.cut = os.path.dirname(args.cut) or "."  # the cut's file given for its folder: the same cut
    if args.format in ("deadline", "flamenco"):
        from .farm_onprem import run_onprem

        return run_onprem(args)
    if args.cut:
        from .farm_cut import run_cut

        return run_cut(args)
    job = farm_job(args)
    stem = os.path.splitext(os.path.abspath(args.job))[0]
    if args.format == "openjd":
        from ..farm.openjd import write_openjd_bundle

        out = write_openjd_bundle(job, args.out or stem + "_openjd", args.chunk_size, args.worker, args.gpu)
        return say_openjd(out, args.json, f"chunk set {out['chunk_set']}")
    from ..farm.opencue import write_opencue_outline

    out = write_opencue_outline(job, args.out or stem + "_opencue", args.chunk_size, args.worker, args.gpu,
                                **cue_options(args))
    return say_opencue(out, args.json)


def cue_options(args) -> dict:
    """The OpenCue outline's who and where, from the command line and the environment."""
    return {"user": args.user, "show": args.show, "shot": args.shot,
            "facility": args.facility or os.environ.get("FACILITY"), "email": args.email}


def say_openjd(out: dict, as_json: bool, what: str) -> int:
    """What an OpenJD bundle writer wrote: one JSON object, or the lines a TD reads (the bundle, how to submit it,
    how to run it here)."""
    if as_json:
        print(json.dumps(out))
        return 0
    from ..farm.openjd import openjd_missing

    print(f"OpenJD bundle: {out['bundle']} ({what})")
    print(f"submit to Deadline Cloud:   {out['deadline_submit']}")
    missing = openjd_missing()
    print(f"run it on this workstation{' (' + missing + ')' if missing else ''}:")
    print(out["openjd_run"])
    return 0


def say_opencue(out: dict, as_json: bool) -> int:
    """What an OpenCue writer wrote: one JSON object, or the spec and how to submit it."""
    if as_json:
        print(json.dumps(out))
        return 0
    print(f"OpenCue job spec: {out['spec']} (layers {', '.join(out['layers'])})")
    print("submit it where a Cuebot runs:")
    print(out["submit"])
    return 0
