"""``recast demo``: a generated shot rendered end to end, with a contact sheet and a review report.

The plate is :mod:`recast.core.shot.synthetic` (scene-linear ACEScg with a sun far above 1.0,
a depth AOV and alpha). Nothing is downloaded: it renders with the ``tiny`` model preset.
"""

from __future__ import annotations

import os
import sys

__all__ = ["add_parser", "run", "run_demo"]

DEMO_PROMPT = "a claymation street at dusk, warm light"


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="render a generated demo shot with the tiny model")
    p.add_argument("--out", default="recast_demo", help="folder for the demo (default: ./recast_demo)")
    p.add_argument("--frames", type=int, default=8, help="number of frames (default 8)")
    p.add_argument("--json", action="store_true", help="progress as JSON lines on stdout")


def run(args, reporter, cancel) -> int:
    lines = run_demo(args.out, args.frames, reporter, cancel)
    reporter.finish()  # the report's 'measure 8/8' line is still on the terminal: the summary starts its own
    for line in lines:
        print(line, file=sys.stderr if args.json else sys.stdout)
    return 0


def run_demo(out: str, count: int, reporter, cancel) -> list[str]:
    """Generate the plate, render it with the tiny preset, write a contact sheet; returns summary lines."""
    from ..job import SCHEMA, Job
    from ..metrics.contact_sheet import write_contact_sheet
    from ..pipeline.render import render
    from ..shot.synthetic import write_synthetic_plate
    from ..shot.display import display_frame

    out = os.path.abspath(out)
    plate_pattern = os.path.join(out, "plate", "demo.####.exr")
    first = 1001
    write_synthetic_plate(plate_pattern, first, count)
    job = Job.from_dict({
        "schema": SCHEMA,
        "input": {"pattern": "plate/demo.####.exr", "frames": f"{first}-{first + count - 1}", "colorspace": "ACEScg"},
        "output": {"pattern": "render/demo_recast.####.exr"},
        "prompt": DEMO_PROMPT, "model": "tiny", "device": "cpu", "resolution": 128,
        "steps": 4, "seed": 1234, "window": {"length": 8, "overlap": 2}, "handles": 2,
    }, out)
    job_path = os.path.join(out, "job.json")
    job.save(job_path)
    result = render(job, None, reporter, cancel)
    picks = sorted({first + round(i * (count - 1) / 3) for i in range(4)}) if count > 1 else [first]
    sheet = os.path.join(out, "contact_sheet.png")
    write_contact_sheet(sheet, [(label, [(f"frame {f}", display_frame(seq.path(f), job.input.colorspace)) for f in picks])
                                for label, seq in (("plate", job.input_sequence), ("result", job.output_sequence))])
    report = _report(job, reporter, cancel)
    lines = [f"recast demo: {len(result.frames)} frames in {result.seconds:.1f} s",
             f"  job            {job_path}",
             f"  plate          {job.input_sequence.pattern}",
             f"  result         {job.output_sequence.pattern}",
             f"  contact sheet  {sheet}",
             f"  report         {report}"]
    lines += ["  model          tiny (seeded random weights: the pictures show the whole stack ran, not a real "
              "look; 'recast models pull' and model 'default' give real results)"]
    lines += [f"  note           {w}" for w in result.warnings]
    return lines


def _report(job, reporter, cancel) -> str:
    """Measure the demo render (Gen-1's metrics) and write the review report beside it."""
    from ..metrics.evaluate import evaluate
    from ..metrics.report import write_report
    from ..models.loader import loader_for

    loader = loader_for(job, precision="fp32")
    ev = evaluate(job.input_sequence.pattern, job.output_sequence.pattern, job.frame_range,
                  job.prompt, loader, job.input.colorspace, reporter=reporter, cancel=cancel)
    return write_report(os.path.join(os.path.dirname(job.input_sequence.folder), "report"), ev, job, replace=True)
