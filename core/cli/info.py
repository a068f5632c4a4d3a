"""``recast info``: describe a frame sequence."""

from __future__ import annotations

import json

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="describe a frame sequence: frames, missing, resolution, channels")
    p.add_argument("pattern", help="e.g. 'plate/sh010.####.exr'")
    p.add_argument("--frames", help="expected range, e.g. 1001-1100 (default: what is on disk)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args, reporter, cancel) -> int:
    from ..shot.info import describe, format_info

    info = describe(args.pattern, args.frames)
    print(json.dumps(info, indent=2) if args.json else format_info(info))
    return 1 if info["missing"] or info.get("problems") else 0
