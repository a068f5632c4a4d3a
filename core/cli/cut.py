"""``recast cut``: a whole editorial cut rendered shot by shot and conformed back (:mod:`recast.core.cut`)."""

from __future__ import annotations

import os
import sys

from .parser import add_json

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    p = sub.add_parser("cut", help="render every clip of an editorial timeline (OTIO, EDL, FCP XML, AAF) with a "
                                   "template job and write the timeline again on the renders")
    p.add_argument("--timeline", help="the cut: .otio/.otioz, or .edl, .xml (FCP 7), .fcpxml, .aaf "
                                                     "through OpenTimelineIO's adapters")
    p.add_argument("--strips", metavar="FILE", help="a host's strips (JSON, 'recast-strips/1': name, plate pattern, "
                                                    "frames) as the cut, instead of --timeline")
    p.add_argument("--job", help="the template job: every shot's job is this one with the clip's "
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
    p.add_argument("--conform-only", action="store_true", help="conform the cut planned in --out to the renders on "
                                                               "disk (after a farm rendered it); renders nothing")
    p.add_argument("--export", action="append", choices=["edl", "fcp_xml"], default=[],
                   help="also write the conformed timeline through this adapter (repeatable)")
    p.add_argument("--desk", action="store_true", help="render in your desk service (started on demand); renders "
                                                        "here when it cannot start")
    p.add_argument("--control", choices=["stdin"], help="take 'cancel' on stdin (the hosts' cancel: the cut stops "
                                                        "after the frame being written)")
    add_json(p)


def run(args, reporter, cancel) -> int:
    from ..errors import JobError, TimelineError
    from ..cut import conform, export, load_sidecar, plan_cut, render_shots, sidecar_beside, write_jobs
    from ..job import load_job

    if args.conform_only:
        return _conform_only(args, reporter)
    if args.timeline and args.strips:
        raise JobError("give --timeline or --strips, not both")
    if not ((args.timeline or args.strips) and args.job):
        raise JobError("give --timeline T and --job TEMPLATE (or --conform-only --out DIR for a cut already planned)")
    timeline = None
    if args.strips:
        from ..cut.strips import read_strips

        args.timeline, timeline = args.strips, read_strips(args.strips)
    if args.handles < 0:
        raise JobError(f"--handles {args.handles}: give 0 or more frames")
    # the template's plate and output are each clip's: a template may leave them out
    template = load_job(args.job, defaults={"input": {"pattern": "plate.####.exr"},
                                            "output": {"pattern": "recast.####.exr"}})
    out = args.out or os.path.splitext(os.path.abspath(args.timeline))[0] + "_recast"
    sidecar = load_sidecar(args.overrides or sidecar_beside(args.timeline))
    plan = plan_cut(args.timeline, template, out, args.handles, args.track, args.media_root, args.rate, sidecar,
                    timeline)
    for line in plan.warnings + plan.report:
        reporter.warning(line)
    write_jobs(plan)
    reporter.emit("plan", timeline=plan.path, out=plan.out,
                  shots=[{"name": s.name, "index": s.index, "job": s.job_file, "frames": f"{s.frames[0]}-{s.frames[1]}",
                          "shows": f"{s.used[0]}-{s.used[1]}", "plate": s.media.pattern, "retime": s.retime,
                          "version": s.version, "new_version": s.new_version}
                         for s in plan.shots],
                  skipped=[{"name": r["name"], "reason": r["reason"]} for r in plan.refused])
    if args.plan_only:
        reporter.done(timeline=None, output=plan.out, shots=len(plan.shots), rendered=0, frames=0, failed=[],
                      not_rendered=plan.report, jobs=[s.job_file for s in plan.shots])
        return 0
    if args.control == "stdin":
        from ..progress.cancel import cancel_on_stdin

        cancel_on_stdin(cancel)
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
                  exports=exports, versions={s.name: s.version for s in plan.shots})
    for line in failed:
        print(f"recast: error: {line}", file=sys.stderr)
    return 1 if failed else 0


def _conform_only(args, reporter) -> int:
    """The cut planned in ``--out`` conformed to the renders on disk: a shot with every frame is on its render,
    one without is kept on its plate with a marker (and reported)."""
    from ..cut import conform, export, load_plan, rendered_on_disk
    from ..errors import JobError

    if not args.out or args.timeline or args.strips or args.job or args.plan_only:
        raise JobError("--conform-only takes the cut's folder as --out DIR (planned by 'recast cut'), without "
                       "--timeline, --job or --plan-only")
    if os.path.basename(args.out) == "cut.json" and os.path.isfile(args.out):
        args.out = os.path.dirname(args.out) or "."  # the cut's file given for its folder: the same cut
    plan = load_plan(args.out)
    results = rendered_on_disk(plan)
    path = conform(plan, results)
    exports = [export(plan, plan.conformed, kind) for kind in args.export]
    failed = [f"shot {n!r}: {r['message']}" for n, r in results.items() if r["status"] == "failed"]
    reporter.done(timeline=path, output=plan.out, shots=len(plan.shots),
                  rendered=sum(r["status"] == "done" for r in results.values()), frames=0, failed=failed,
                  not_rendered=[f"clip {r['name']!r}: {r['reason']}" for r in plan.refused], exports=exports,
                  versions={s.name: s.version for s in plan.shots})
    for line in failed:
        print(f"recast: error: {line}", file=sys.stderr)
    return 1 if failed else 0
