"""``recast serve``: a worker that keeps the models loaded between farm tasks."""

from __future__ import annotations

import sys

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="a worker that keeps the models loaded between renders (farm step environment)")
    p.add_argument("--connection-file", required=True, metavar="FILE", help="where the server says how to reach it")
    p.add_argument("--foreground", action="store_true", help="serve in this process (default: detach and return "
                                                             "once it listens)")
    p.add_argument("--stop", action="store_true", help="stop the server of --connection-file")
    p.add_argument("--idle", type=_seconds, default=None, metavar="SECONDS",
                   help="stop by itself after this long unused (default 3600)")


def _seconds(text: str) -> float:
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or not 0 < value <= 7 * 86400:
        raise argparse.ArgumentTypeError(f"{text!r}: give 0 < seconds <= 604800")
    return value


def run(args, reporter, cancel) -> int:
    from ..farm import server

    if args.stop:
        served = server.stop_daemon(args.connection_file)
        print(f"recast: server stopped after {served} render(s)", file=sys.stderr)
        return 0
    if args.foreground:
        if args.idle is not None:
            return server.serve(args.connection_file, stop=cancel, idle_seconds=args.idle)
        return server.serve(args.connection_file, stop=cancel)
    info = server.start_daemon(args.connection_file, idle=args.idle)
    print(f"recast: server {info['pid']} listening; log {args.connection_file}.log", file=sys.stderr)
    return 0
