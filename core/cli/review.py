"""``recast review``: the review folder of a job (a flipbook that compares plate, render, variants and compared
jobs in any browser, offline), or ``--import`` a decision file the page exported."""

from __future__ import annotations

import sys

from .parser import add_json

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    p = sub.add_parser("review", help="write a review folder (index.html, open it in a browser: plays and compares "
                                      "the plate, the render, its variants and previews), or show exported decisions")
    p.add_argument("--job", help="the job file whose shot is reviewed (its render, and the variants and previews "
                                 "beside it)")
    p.add_argument("--compare", action="append", default=[], metavar="JOB",
                   help="another job of the same shot (same plate) whose render is compared too (repeat it)")
    p.add_argument("--out", metavar="DIR", help="the review folder (default: <output folder>/review; an earlier "
                                                "review there is replaced)")
    p.add_argument("--view", help="OCIO 'display/view' the proxies are shown through (default: the config's "
                                  "default display and view), or 'clip' / 'filmic'")
    p.add_argument("--proxy-size", type=int, default=None, metavar="PX",
                   help="a proxy's long side at most (default 1024)")
    p.add_argument("--exact", action="store_true",
                   help="every proxy through the exact display transform (slower) instead of the view baked once "
                        "into a 3D lookup (within a few 8-bit code values)")
    p.add_argument("--import", dest="import_file", metavar="PICKS",
                   help="show the decisions of a file the review page exported (approve / reject, notes)")
    p.add_argument("--control", choices=["stdin"], help="take 'cancel' on stdin (the hosts' cancel)")
    add_json(p)


def run(args, reporter, cancel) -> int:
    from ..errors import JobError

    if args.import_file:
        if args.job or args.compare:
            raise JobError("give --job (write a review) or --import PICKS (show decisions), not both")
        return _import(args)
    if not args.job:
        raise JobError("give --job FILE (the job whose shot is reviewed), or --import PICKS")
    if args.proxy_size is not None and args.proxy_size < 16:
        raise JobError(f"--proxy-size {args.proxy_size} is too small; give 16 pixels or more")
    from ..review import build_review

    if args.control == "stdin":
        from ..progress.cancel import cancel_on_stdin

        cancel_on_stdin(cancel)
    page = build_review(args.job, args.compare, args.out, args.view, reporter, cancel, long_side=args.proxy_size,
                        exact=args.exact)
    reporter.done(path=page)
    if not args.json and sys.stdout.isatty():
        reporter.finish()
        print(f"review: {page}  (open it in a browser)")
    return 0


def _import(args) -> int:
    import json

    from ..review import format_decisions, read_decisions

    data = read_decisions(args.import_file)
    if args.json:
        print(json.dumps(data))
    else:
        print(format_decisions(data))
    return 0
