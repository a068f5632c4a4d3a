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
    p.add_argument("--dry-run", action="store_true", help="check everything a render checks before its first frame (plate, range, matte, "
                        "reference, preset and its parts, memory) and say what would be rendered; writes nothing "
                        "but --save-job's file")
    p.add_argument("--chunk", metavar="A-B", help="render a farm chunk with handles; 'recast assemble' writes the seams")
    p.add_argument("--chunk-set", default="default", metavar="NAME",
                   help="the submission a chunk belongs to (default: default)")
    p.add_argument("--server", metavar="FILE", help="render in the Recast worker server of this connection file "
                                                    "(started by 'recast serve'), which keeps the models loaded")
    p.add_argument("--desk", action="store_true", help="render in your desk service (started on demand; it keeps the "
                                                        "models loaded between renders: 'recast desk'); renders here "
                                                        "when it cannot start")
    p.add_argument("--preview", action="store_true", help="a quick look, as a new version in recast_previews/ beside "
                                                           "the output: 256 px, the preset's fast tier, the frames "
                                                           "asked for or else the first window; never a final render")
    p.add_argument("--live-previews", action="store_true", help="while denoising, write a small picture of every "
                                                                 "frame of the window in hand and announce it "
                                                                 "('preview' events)")
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
    frames = FrameRange.parse(args.frames) if args.frames else None
    chunk = FrameRange.parse(args.chunk) if args.chunk else None
    if args.dry_run:
        return _dry_run(args, job, frames, chunk, reporter)
    if args.preview:
        if chunk is not None or args.server:
            from ..errors import JobError

            raise JobError("--preview renders on the desk or here, not as a farm chunk; leave out --chunk/--server")
        from ..pipeline.variants import plan_preview

        version, job, job_file = plan_preview(job, frames)
        frames = None  # the preview job holds its frames
        reporter.emit("version", kind="preview", version=version, job=job_file, output=job.output_sequence.pattern)
    gone = None
    if args.control == "stdin":
        from ..progress import CancelFlag
        from ..progress.cancel import cancel_on_stdin

        gone = CancelFlag() if args.desk else None  # a desk render outlives its host: stdin closing detaches
        cancel_on_stdin(cancel, gone=gone)
    if args.server or args.desk:
        from ..farm.server import render_in_server

        where = args.server or _desk(reporter)
        if where is not None:
            return render_in_server(where, job, frames, chunk, args.chunk_set, reporter, cancel,
                                    preview=args.preview, previews=args.live_previews, persist=bool(args.desk),
                                    detached=gone)
    render(job, frames, reporter, cancel, chunk=chunk, chunk_set=args.chunk_set, context=True,
           previews=args.live_previews)
    return 0


def _desk(reporter) -> str | None:
    """The desk service's connection file, started if need be; None (and a warning) when it cannot start: the
    render then runs here, as it would without --desk."""
    from ..errors import RecastError
    from ..farm.desk import ensure_desk

    try:
        path, info, started = ensure_desk()
    except RecastError as exc:
        reporter.warning(f"the desk service cannot start ({' '.join(str(exc).split())}); rendering here instead")
        return None
    if started:
        reporter.emit("desk", started=True, pid=info["pid"], log=path + ".log")
    return path


def _dry_run(args, job, frames, chunk, reporter) -> int:
    """What a render would check before its first frame, and a short summary of what it would render: text on
    stdout, or one ``dry_run`` event with ``--json``."""
    import sys

    from ..pipeline.render import check_render

    json_out = bool(args.json)
    # warnings: events with --json, else one line each on stderr
    warn_to = reporter if json_out else _StderrWarnings()
    summary = check_render(job, frames, chunk, args.chunk_set, context=True, reporter=warn_to)
    if json_out:
        reporter.emit("dry_run", **summary)
        return 0
    skipped = f", {summary['skipped']} already written" if summary["skipped"] else ""
    lines = ["recast: dry run: nothing rendered, nothing written",
             f"  frames    {summary['frames']} ({summary['total']} frames; {summary['todo']} to render"
             f"{skipped}"
             f"; denoised {summary['rendered']})",
             f"  size      plate {summary['plate_size'][0]}x{summary['plate_size'][1]}, model "
             f"{summary['model_size'][0]}x{summary['model_size'][1]}",
             f"  preset    {summary['model']} ({summary['backend'] or 'no model: strength 0'})",
             f"  windows   {summary['windows']}" + (f", chunk {summary['chunk']}" if summary["chunk"] else ""),
             f"  output    {summary['output_folder']}"]
    if summary["memory_gb"] is not None:
        lines.append(f"  memory    about {summary['memory_gb']:g} GB")
    print("\n".join(lines), file=sys.stdout)
    return 0


class _StderrWarnings:
    """A dry run's warnings for a person: one line each on stderr."""

    def warning(self, message: str) -> None:
        import sys

        print(f"recast: warning: {' '.join(message.split())}", file=sys.stderr)
