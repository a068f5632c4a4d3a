"""The ``recast`` command line: parse arguments, call one function, report.

Exit codes: 0 done; 1 a known error (one line on stderr, and an ``error`` event on stdout
for commands that speak the progress protocol); 2 bad arguments; 3 an internal error (a
bug: the traceback goes to stderr); 128+N when stopped by signal N (130 for SIGINT, 143
for SIGTERM) after the frame being written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback

from .errors import Cancelled, RecastError

__all__ = ["main"]

# flag → (job section or None, job field, type)
_JOB_FLAGS = {
    "input": ("input", "pattern", str),
    "output": ("output", "pattern", str),
    "input_frames": ("input", "frames", str),
    "colorspace": ("input", "colorspace", str),
    "depth_channel": ("input", "depth_channel", str),
    "mask_channel": ("input", "mask_channel", str),
    "mask_pattern": ("input", "mask_pattern", str),
    "prompt": (None, "prompt", str),
    "negative_prompt": (None, "negative_prompt", str),
    "reference_image": (None, "reference_image", str),
    "reference_weight": (None, "reference_weight", float),
    "structure_level": (None, "structure_level", int),
    "structure_weight": (None, "structure_weight", float),
    "strength": (None, "strength", float),
    "guidance_scale": (None, "guidance_scale", float),
    "temporal_guidance": (None, "temporal_guidance", float),
    "steps": (None, "steps", int),
    "seed": (None, "seed", int),
    "model": (None, "model", str),
    "device": (None, "device", str),
    "resolution": (None, "resolution", int),
    "precision": (None, "precision", str),
    "memory": (None, "memory", str),
    "window_length": ("window", "length", int),
    "window_overlap": ("window", "overlap", int),
    "handles": (None, "handles", int),
}


def _parsed_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="recast", description="Edit a shot's content by prompt or reference image, keeping its structure.")
    parser.add_argument("--version", action="version", version=f"recast {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("render", help="render a job (JSON-lines progress on stdout)")
    p.add_argument("--job", help="job file (JSON); flags below override its fields")
    p.add_argument("--frames", help="render only this sub-range of the job, e.g. 1001-1010 (its handles are "
                                    "rendered too, for context, and not written)")
    p.add_argument("--save-job", metavar="FILE", help="write the job (after flags) to FILE before rendering")
    p.add_argument("--dry-run", action="store_true", help="check the job (and write it with --save-job), render nothing")
    p.add_argument("--chunk", metavar="A-B", help="render a farm chunk with handles; 'recast assemble' writes the seams")
    p.add_argument("--chunk-set", default="default", metavar="NAME",
                   help="the submission a chunk belongs to (default: default)")
    p.add_argument("--server", metavar="FILE", help="render in the Recast worker server of this connection file "
                                                    "(started by 'recast serve'), which keeps the models loaded")
    grp = p.add_argument_group("job fields (build a job without a file, or override one)")
    for name, (_, _, typ) in _JOB_FLAGS.items():
        grp.add_argument("--" + name.replace("_", "-"), dest=name, type=typ, default=None, metavar=typ.__name__.upper())

    p = sub.add_parser("serve", help="a worker that keeps the models loaded between renders (farm step environment)")
    p.add_argument("--connection-file", required=True, metavar="FILE", help="where the server says how to reach it")
    p.add_argument("--foreground", action="store_true", help="serve in this process (default: detach and return "
                                                             "once it listens)")
    p.add_argument("--stop", action="store_true", help="stop the server of --connection-file")

    p = sub.add_parser("farm", help="write a farm job: an OpenJD bundle (Deadline Cloud) or an OpenCue outline")
    p.add_argument("format", choices=["openjd", "opencue"])
    p.add_argument("--job", required=True, help="job file (JSON)")
    p.add_argument("--out", help="folder to write into (default: <job name>_openjd / _opencue beside the job)")
    p.add_argument("--chunk-size", type=int, default=16, help="frames per render task (default 16)")
    p.add_argument("--worker", help="the recast executable on the farm (default: this one)")
    p.add_argument("--gpu", action=argparse.BooleanOptionalAction, default=None,
                   help="ask for GPU hosts (default: unless the job's device is cpu or mps)")

    p = sub.add_parser("eval", help="Gen-1's metrics of a render (per frame and shot means) and a review report")
    p.add_argument("--job", help="job file: its plate, result, prompt, frames and model")
    p.add_argument("--plate", help="plate pattern (without --job)")
    p.add_argument("--result", help="result pattern (without --job)")
    p.add_argument("--prompt", help="the prompt (without --job, or to override it)")
    p.add_argument("--frames", help="only this range, e.g. 1001-1010")
    p.add_argument("--model", help="preset whose CLIP and depth models measure (default: the job's, else default)")
    p.add_argument("--device", default=None, help="device (default: the job's, else auto)")
    p.add_argument("--report", metavar="DIR", help="where the HTML report goes (default: recast_report beside the "
                                                   "result folder)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")

    p = sub.add_parser("assemble", help="write the seam frames of a chunked render (cross-fades between chunks)")
    p.add_argument("--job", required=True, help="job file (JSON)")
    p.add_argument("--chunk-set", default="default", metavar="NAME", help="the submission whose chunks to assemble")

    p = sub.add_parser("depth", help="compute the shot's depth (cached) and write it as EXRs")
    p.add_argument("--job", required=True, help="job file (JSON)")
    p.add_argument("--frames", help="only this sub-range of the job, e.g. 1001-1010")

    p = sub.add_parser("models", help="list, check or fetch the model parts of a preset")
    p.add_argument("action", choices=["list", "check", "pull"],
                   help="list: presets and their parts; check: what is present/missing; pull: download")
    p.add_argument("--model", default="default", help="preset: 'default', 'tiny' or a preset file (default: default)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("info", help="describe a frame sequence: frames, missing, resolution, channels")
    p.add_argument("pattern", help="e.g. 'plate/sh010.####.exr'")
    p.add_argument("--frames", help="expected range, e.g. 1001-1100 (default: what is on disk)")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("demo", help="render a generated demo shot with the tiny model")
    p.add_argument("--out", default="recast_demo", help="folder for the demo (default: ./recast_demo)")
    p.add_argument("--frames", type=int, default=8, help="number of frames (default 8)")
    p.add_argument("--json", action="store_true", help="progress as JSON lines on stdout")
    return parser.parse_args(argv)


def _version() -> str:
    from . import __version__

    return __version__


def _job_from_args(args):
    from .job import Job, load_job

    given = {k: getattr(args, k) for k in _JOB_FLAGS if getattr(args, k) is not None}
    if args.job:
        job = load_job(args.job)
        data, root = job.to_dict(), job.root
    else:
        from .errors import JobError

        missing = [f"--{k}" for k in ("input", "output") if k not in given]
        if missing:
            raise JobError(f"give --job FILE, or build a job with {' and '.join(missing)}")
        data, root = {"input": {}, "output": {}}, os.getcwd()
    for key, value in given.items():
        section, name, _ = _JOB_FLAGS[key]
        if section:
            data.setdefault(section, {})[name] = value
        else:
            data[name] = value
    return Job.from_dict(data, root)


def _cmd_render(args, reporter, cancel) -> int:
    from .frames import FrameRange
    from .render import render

    job = _job_from_args(args)
    if args.save_job:
        job.absolute().save(args.save_job)
    if args.dry_run:
        return 0
    frames = FrameRange.parse(args.frames) if args.frames else None
    chunk = FrameRange.parse(args.chunk) if args.chunk else None
    if args.server:
        from .server import render_in_server

        return render_in_server(args.server, job, frames, chunk, args.chunk_set, reporter, cancel)
    render(job, frames, reporter, cancel, chunk=chunk, chunk_set=args.chunk_set, context=True)
    return 0


def _cmd_serve(args, reporter, cancel) -> int:
    from . import server

    if args.stop:
        served = server.stop_daemon(args.connection_file)
        print(f"recast: server stopped after {served} render(s)", file=sys.stderr)
        return 0
    if args.foreground:
        return server.serve(args.connection_file, stop=cancel)
    info = server.start_daemon(args.connection_file)
    print(f"recast: server {info['pid']} listening; log {args.connection_file}.log", file=sys.stderr)
    return 0


def _cmd_farm(args, reporter, cancel) -> int:
    from .job import load_job

    job = load_job(args.job)
    stem = os.path.splitext(os.path.abspath(args.job))[0]
    if args.format == "openjd":
        from .farm_openjd import write_openjd_bundle

        out = write_openjd_bundle(job, args.out or stem + "_openjd", args.chunk_size, args.worker, args.gpu)
        print(f"OpenJD bundle: {out['bundle']} (chunk set {out['chunk_set']})")
        print(f"submit to Deadline Cloud:   {out['deadline_submit']}")
        print("run it on this workstation:")
        print(out["openjd_run"])
        return 0
    from .farm_opencue import write_opencue_outline

    out = write_opencue_outline(job, args.out or stem + "_opencue", args.chunk_size, args.worker, args.gpu)
    print(f"OpenCue job spec: {out['spec']} (layers {', '.join(out['layers'])})")
    print("submit it where a Cuebot runs:")
    print(out["submit"])
    return 0


def _cmd_eval(args, reporter, cancel) -> int:
    from .errors import JobError
    from .evaluate import evaluate, format_table, report_folder_for
    from .frames import FrameRange
    from .models import Loader
    from .presets import load_preset
    from .report import write_report

    job = None
    if args.job:
        from .job import load_job

        job = load_job(args.job)
        plate, result = job.input_sequence.pattern, job.output_sequence.pattern
        prompt, model, device = job.prompt, job.model, job.device
        frames = job.input.frames
        colorspace, root = job.input.colorspace, job.root
    else:
        if not (args.plate and args.result):
            raise JobError("give --job FILE, or --plate and --result patterns (and --prompt)")
        plate, result, prompt, model, device = args.plate, args.result, "", "default", "auto"
        frames, colorspace, root = None, None, os.getcwd()
    prompt = args.prompt if args.prompt is not None else prompt
    frames = FrameRange.parse(args.frames or frames) if (args.frames or frames) else None
    loader = Loader(load_preset(args.model or model, root), args.device or device, "fp32")
    ev = evaluate(plate, result, frames, prompt, loader, colorspace, reporter=reporter, cancel=cancel)
    folder = args.report or report_folder_for(result)
    page = write_report(folder, ev, job)
    if args.json:
        print(json.dumps({**ev.to_dict(), "report": page}))
    else:
        print(format_table(ev))
        print(f"\nreport: {page}")
    return 0


def _cmd_assemble(args, reporter, cancel) -> int:
    from .chunks import assemble
    from .job import load_job

    assemble(load_job(args.job), args.chunk_set, reporter, cancel)
    return 0


def _cmd_depth(args, reporter, cancel) -> int:
    from .depth_command import run_depth
    from .frames import FrameRange
    from .job import load_job

    job = load_job(args.job)
    run_depth(job, FrameRange.parse(args.frames) if args.frames else None, reporter, cancel)
    return 0


def _cmd_models(args, reporter, cancel) -> int:
    from .models import check_preset, pull_preset
    from .presets import PARTS, load_preset

    preset = load_preset(args.model, os.getcwd())
    if args.action == "pull":
        pull_preset(preset, report=lambda line: print(line, file=sys.stderr))
    if args.action == "list":
        rows = [{"role": r, "purpose": PARTS[r], "source": preset.parts[r].describe() if r in preset.parts else None}
                for r in PARTS]
        if args.json:
            print(json.dumps({"preset": preset.name, "file": preset.path, "parts": rows}, indent=2))
        else:
            print(f"preset {preset.name}  ({preset.path})")
            for row in rows:
                print(f"  {row['role']:<15} {row['source'] or '-':<60} {row['purpose']}")
        return 0
    status = check_preset(preset)
    if args.json:
        print(json.dumps({"preset": preset.name, "parts": [s.__dict__ for s in status]}, indent=2))
    else:
        print(f"preset {preset.name}  ({preset.path})")
        for s in status:
            state = f"ok  {s.size / 1e6:9.1f} MB  {s.path}" if s.present else f"MISSING  {s.problem}"
            print(f"  {s.role:<15} {state}")
    missing = [s.role for s in status if not s.present]
    if missing:
        print(f"recast: {len(missing)} part(s) missing: {', '.join(missing)}; 'recast models pull --model "
              f"{args.model}' fetches them where a network exists", file=sys.stderr)
        return 1
    return 0


def _cmd_info(args, reporter, cancel) -> int:
    from .info import describe, format_info

    info = describe(args.pattern, args.frames)
    print(json.dumps(info, indent=2) if args.json else format_info(info))
    return 1 if info["missing"] or info.get("problems") else 0


def _cmd_demo(args, reporter, cancel) -> int:
    from .demo import run_demo

    summary = run_demo(args.out, args.frames, reporter, cancel)
    for line in summary:
        print(line, file=sys.stderr if args.json else sys.stdout)
    return 0


_COMMANDS = {"render": _cmd_render, "eval": _cmd_eval, "assemble": _cmd_assemble, "serve": _cmd_serve, "farm": _cmd_farm, "depth": _cmd_depth, "models": _cmd_models, "info": _cmd_info,
             "demo": _cmd_demo}
_SPEAKS_PROTOCOL = {"render", "assemble", "depth", "demo"}


def _quiet_libraries() -> None:
    """stdout carries the protocol and stderr the artist's messages: keep library chatter out of both."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def main(argv=None) -> int:
    args = _parsed_args(argv)
    _quiet_libraries()
    from .progress import CancelFlag, Reporter, signals_cancel

    protocol = args.command in _SPEAKS_PROTOCOL and not (args.command == "demo" and not args.json)
    reporter = Reporter() if protocol else Reporter(stream=open(os.devnull, "w"), bar=sys.stderr.isatty())
    cancel = CancelFlag()
    try:
        with signals_cancel(cancel):
            return _COMMANDS[args.command](args, reporter, cancel)
    except Cancelled as exc:
        reporter.error(str(exc), kind="Cancelled", cancelled=True)
        print(f"recast: {exc}", file=sys.stderr)
        return 128 + (exc.signum or 2)
    except RecastError as exc:
        message = " ".join(str(exc).split())
        reporter.error(message, kind=type(exc).__name__)
        print(f"recast: error: {message}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: say so in one line, keep the traceback for the report
        message = f"internal error ({type(exc).__name__}: {exc}); please report it with the traceback above"
        traceback.print_exc()
        reporter.error(" ".join(message.split()), kind="InternalError")
        print(f"recast: {message}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
