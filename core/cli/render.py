"""``recast render``: render a job file (or a job built from flags), here or in a worker server."""

from __future__ import annotations

import os

from .parser import add_job_file, add_job_flags, add_json, job_overrides

__all__ = ["add_parser", "run", "job_from_args"]


def add_parser(sub) -> None:
    p = sub.add_parser("render", help="render a job (JSON-lines progress on stdout)")
    add_job_file(p, required=False)
    p.add_argument("--frames", help="render only this sub-range of the job, e.g. 1001-1010 (its handles are "
                                    "rendered too, for context, and not written)")
    p.add_argument("--save-job", metavar="FILE", help="write the job (after flags) to FILE before rendering")
    p.add_argument("--dry-run", action="store_true", help="check the job (and write it with --save-job), render nothing")
    p.add_argument("--chunk", metavar="A-B", help="render a farm chunk with handles; 'recast assemble' writes the seams")
    p.add_argument("--chunk-set", default="default", metavar="NAME",
                   help="the submission a chunk belongs to (default: default)")
    p.add_argument("--server", metavar="FILE", help="render in the Recast worker server of this connection file "
                                                    "(started by 'recast serve'), which keeps the models loaded")
    add_json(p)
    p.add_argument("--control", choices=["stdin"], help="take control messages on stdin ('cancel'; the pipe "
                                                         "closing cancels too): how hosts cancel on every OS")
    add_job_flags(p)


def job_from_args(args):
    """The job of ``--job`` with the flags' fields over it, or a job built from the flags alone."""
    from ..errors import JobError
    from ..job import Job, load_job

    given = job_overrides(args)
    if args.job:
        job = load_job(args.job)
        data, root = job.to_dict(), job.root
    else:
        missing = [flag for flag, path in (("--input", "input.pattern"), ("--output", "output.pattern"))
                   if path not in given]
        if missing:
            raise JobError(f"give --job FILE, or build a job with {' and '.join(missing)}")
        data, root = {"input": {}, "output": {}}, os.getcwd()
    for path, value in given.items():
        section, _, name = path.rpartition(".")
        (data.setdefault(section, {}) if section else data)[name] = value
    return Job.from_dict(data, root)


def run(args, reporter, cancel) -> int:
    from ..io.frames import FrameRange
    from ..pipeline.render import render

    job = job_from_args(args)
    if args.save_job:
        job.absolute().save(args.save_job)
    if args.dry_run:
        from ..backends import check_job

        check_job(job)  # what the preset's backend cannot honour (window length, fields), as a render would say
        return 0
    if args.control == "stdin":
        from ..progress.cancel import cancel_on_stdin

        cancel_on_stdin(cancel)
    frames = FrameRange.parse(args.frames) if args.frames else None
    chunk = FrameRange.parse(args.chunk) if args.chunk else None
    if args.server:
        from ..farm.server import render_in_server

        return render_in_server(args.server, job, frames, chunk, args.chunk_set, reporter, cancel)
    render(job, frames, reporter, cancel, chunk=chunk, chunk_set=args.chunk_set, context=True)
    return 0
