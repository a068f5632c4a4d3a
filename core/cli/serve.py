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


def run(args, reporter, cancel) -> int:
    from ..farm import server

    if args.stop:
        served = server.stop_daemon(args.connection_file)
        print(f"recast: server stopped after {served} render(s)", file=sys.stderr)
        return 0
    if args.foreground:
        return server.serve(args.connection_file, stop=cancel)
    info = server.start_daemon(args.connection_file)
    print(f"recast: server {info['pid']} listening; log {args.connection_file}.log", file=sys.stderr)
    return 0
