"""``recast info``: describe a frame sequence."""

from __future__ import annotations

import json

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="describe a frame sequence: frames, missing, windows, parts, views, channels")
    p.add_argument("pattern", nargs="+", help="a pattern ('plate/sh010.####.exr'), a frame's path (its sequence is found) or a "
                                   "folder (its sequences are listed)")
    p.add_argument("--pixels", action="store_true", help="also decode every frame's pixels and name damaged frames "
                                                        "(slower; headers only by default)")
    p.add_argument("--frames", help="expected range, e.g. 1001-1100 (default: what is on disk)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args, reporter, cancel) -> int:
    from ..errors import SequenceError
    from ..shot.info import describe, format_info

    if len(args.pattern) > 1:  # the shell expanded an unquoted glob ('info plate.*.exr') into every file
        shown = " ".join(args.pattern[:2]) + (" …" if len(args.pattern) > 2 else "")
        raise SequenceError(f"recast info takes one sequence, and got {len(args.pattern)} paths ({shown}): the shell "
                            "expanded an unquoted * or ?; give a quoted pattern ('plate/sh010.####.exr'), one "
                            "frame's path or its folder")
    info = describe(args.pattern[0], args.frames, args.pixels)
    print(json.dumps(info, indent=2) if args.json else format_info(info))
    return 1 if info["missing"] or info.get("problems") else 0
