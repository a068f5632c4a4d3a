"""``recast cut``: a whole editorial cut rendered shot by shot and conformed back (:mod:`recast.core.cut`)."""

from __future__ import annotations

import os
import sys

from .parser import add_json

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    p = sub.add_parser("cut", help="render every clip of an editorial timeline (OTIO, EDL, FCP XML, AAF) with a "
                                   "template job and write the timeline again on the renders")
    p.add_argument("--timeline", required=True, help="the cut: .otio/.otioz, or .edl, .xml (FCP 7), .fcpxml, .aaf "
                                                     "through OpenTimelineIO's adapters")
    p.add_argument("--job", required=True, help="the template job: every shot's job is this one with the clip's "
                                                "plate, range and overrides")
    p.add_argument("--out", help="the cut's folder: a folder per shot (its job and render) and the conformed "
                                 "timeline (default: <timeline stem>_recast/ beside the timeline)")
    p.add_argument("--handles", type=int, default=8, metavar="N", help="frames rendered each side of a clip where "
                                                                      "its media has them (default 8)")
    p.add_argument("--track", metavar="NAME", help="only the video track of this name (default: every video track)")
    p.add_argument("--media-root", metavar="DIR", help="where clips without media (an EDL's) are found, as "
                                                       "DIR/NAME.####.exr or DIR/NAME/, by clip or reel name")
    p.add_argument("--rate", type=float, metavar="FPS", help="the frame rate of an EDL (default 24)")
    p.add_argument("--overrides", metavar="FILE", help="per-shot job fields: CSV (a 'shot' column, one column per "
                                                       "field) or JSON {shot: {field: value}} (default: "
                                                       "<timeline stem>.recast.csv/.json beside the timeline)")
    p.add_argument("--plan-only", action="store_true", help="write the shots' jobs and stop")
    p.add_argument("--export", action="append", choices=["edl", "fcp_xml"], default=[],
                   help="also write the conformed timeline through this adapter (repeatable)")
    p.add_argument("--desk", action="store_true", help="render in your desk service (started on demand); renders "
                                                        "here when it cannot start")
    add_json(p)


def run(args, reporter, cancel) -> int:
    from ..errors import JobError, TimelineError
    from ..cut import conform, export, load_sidecar, plan_cut, render_shots, sidecar_beside, write_jobs
    from ..job import load_job

    if args.handles < 0:
        raise JobError(f"--handles {args.handles}: give 0 or more frames")
    template = load_job(args.job)
    out = args.out or os.path.splitext(os.path.abspath(args.timeline))[0] + "_recast"
    sidecar = load_sidecar(args.overrides or sidecar_beside(args.timeline))
    plan = plan_cut(args.timeline, template, out, args.handles, args.track, args.media_root, args.rate, sidecar)
    for line in plan.warnings + plan.report:
        reporter.warning(line)
    write_jobs(plan)
    reporter.emit("plan", timeline=plan.path, out=plan.out,
                  shots=[{"name": s.name, "index": s.index, "job": s.job_file, "frames": f"{s.frames[0]}-{s.frames[1]}",
                          "shows": f"{s.used[0]}-{s.used[1]}", "plate": s.media.pattern, "retime": s.retime}
                         for s in plan.shots],
                  skipped=[{"name": r["name"], "reason": r["reason"]} for r in plan.refused])
    if args.plan_only:
        reporter.done(timeline=None, output=plan.out, shots=len(plan.shots), rendered=0, frames=0, failed=[],
                      not_rendered=plan.report, jobs=[s.job_file for s in plan.shots])
        return 0
    where = None
    if args.desk:
        from .render import _desk

        where = _desk(reporter)
    results = render_shots(plan, reporter, cancel, where)
    path = conform(plan, results)
    exports = []
    for kind in args.export:  # the conformed .otio is written: an adapter that cannot write a copy is a warning
        try:
            exports.append(export(plan, plan.conformed, kind))
        except TimelineError as exc:
            reporter.warning(str(exc))
    failed = [f"shot {n!r}: {r['message']}" for n, r in results.items() if r["status"] == "failed"]
    reporter.done(timeline=path, output=plan.out, shots=len(plan.shots),
                  rendered=sum(r["status"] == "done" for r in results.values()),
                  frames=sum(r["written"] for r in results.values()), failed=failed, not_rendered=plan.report,
                  exports=exports)
    for line in failed:
        print(f"recast: error: {line}", file=sys.stderr)
    return 1 if failed else 0
