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
    add_listen(p)


def add_listen(p) -> None:
    """--listen and --path-map: a server other machines reach over shared storage (never the default)."""
    p.add_argument("--listen", default="127.0.0.1", metavar="ADDR",
                   help="the address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 lets other machines "
                        "of a studio on shared storage reach it, with the token of the connection file)")
    p.add_argument("--path-map", action="append", default=[], metavar="CLIENT=SERVER",
                   help="a client's mount of shared storage and this machine's (repeatable), e.g. "
                        "/Volumes/show=/mnt/show")


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
        from ..farm.path_map import parse_path_map

        return server.serve(args.connection_file, stop=cancel, listen=args.listen,
                            path_map=parse_path_map(args.path_map),
                            **({"idle_seconds": args.idle} if args.idle is not None else {}))
    info = server.start_daemon(args.connection_file, idle=args.idle, listen=args.listen, path_map=args.path_map)
    print(f"recast: server {info['pid']} listening; log {args.connection_file}.log", file=sys.stderr)
    return 0
