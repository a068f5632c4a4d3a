"""``recast eval``: Gen-1's metrics of a render, per frame and shot means, and the review report."""

from __future__ import annotations

import json
import os

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="Gen-1's metrics of a render (per frame and shot means) and a review report")
    p.add_argument("--job", help="job file: its plate, result, prompt, frames and model")
    p.add_argument("--plate", help="plate pattern (without --job)")
    p.add_argument("--result", help="result pattern (without --job)")
    p.add_argument("--prompt", help="the prompt (without --job, or to override it)")
    p.add_argument("--frames", help="only this range, e.g. 1001-1010")
    p.add_argument("--model", help="preset whose CLIP and depth models measure (default: the job's, else default)")
    p.add_argument("--device", default=None, help="device (default: the job's, else auto)")
    p.add_argument("--report", metavar="DIR", help="an empty or new folder for the HTML report (default: a new "
                                                   "numbered one, recast_report/<render>_v001, beside the result "
                                                   "folder: a report is never overwritten)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")


def run(args, reporter, cancel) -> int:
    from ..errors import JobError
    from ..io.frames import FrameRange
    from ..metrics.evaluate import evaluate, format_table, report_folder_for
    from ..metrics.report import check_report_folder, write_report
    from ..models.loader import Loader
    from ..models.presets import load_preset

    job = None
    if args.job:
        from ..job import load_job

        job = load_job(args.job)
        plate, result = job.input_sequence.pattern, job.output_sequence.pattern
        prompt, model, device = job.prompt, job.model, job.device
        frames, colorspace, root = job.frame_range, job.input.colorspace, job.root
    else:
        if not (args.plate and args.result):
            raise JobError("give --job FILE, or --plate and --result patterns (and --prompt)")
        plate, result, prompt, model, device = args.plate, args.result, "", "default", "auto"
        frames, colorspace, root = None, None, os.getcwd()
    prompt = args.prompt if args.prompt is not None else prompt
    frames = FrameRange.parse(args.frames) if args.frames else frames
    if args.report:
        check_report_folder(args.report)  # before minutes of measuring
    loader = Loader(load_preset(args.model or model, root), args.device or device, "fp32")
    ev = evaluate(plate, result, frames, prompt, loader, colorspace, reporter=reporter, cancel=cancel)
    if args.report:
        page = write_report(args.report, ev, job)
    else:
        page = write_report(report_folder_for(os.path.join(root, result)), ev, job, versioned=True)
    if args.json:
        print(json.dumps({**ev.to_dict(), "report": page}))
    else:
        print(format_table(ev))
        print(f"\nreport: {page}")
    return 0
