"""``recast desk``: the artist's desk service (start, status, stop, cancel a request, follow one again)."""

from __future__ import annotations

import json
import sys

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    p = sub.add_parser("desk", help="your desk service: keeps the models loaded so the next render starts at once")
    p.add_argument("action", choices=["start", "status", "stop", "cancel", "attach"],
                   help="start it (if not running), what it is doing, stop it, cancel request ID, follow request ID")
    p.add_argument("id", nargs="?", help="the request (cancel, attach): the 'id' of its 'queued' event")
    p.add_argument("--idle", type=float, default=None, metavar="SECONDS",
                   help="start: stop by itself after this long unused (default 1800)")
    p.add_argument("--json", action="store_true", help="one JSON object (attach: the request's events as JSON lines)")
    from .serve import add_listen

    add_listen(p)


def run(args, reporter, cancel) -> int:
    from ..errors import JobError
    from ..farm import desk
    from ..farm.connection import cancel_request, request_in_server, server_status, stop_daemon

    if args.action in ("cancel", "attach") and not args.id:
        raise JobError(f"'recast desk {args.action}' needs the request's id (see 'recast desk status')")
    if args.action != "start" and (args.idle is not None or args.listen != "127.0.0.1" or args.path_map):
        raise JobError("--idle, --listen and --path-map are for 'recast desk start'")
    if args.idle is not None and not 0 < args.idle <= 7 * 86400:
        raise JobError(f"--idle {args.idle:g}: give 0 < seconds <= 604800")
    if args.action == "start":
        path, info, started = desk.ensure_desk(args.idle, args.listen, args.path_map)
        _say(args, {"running": True, "started": started, "pid": info["pid"], "connection": path, "log": path + ".log"},
             f"recast: desk service {info['pid']} {'started' if started else 'already running'}; log {path}.log")
        return 0
    path = desk.desk_connection()
    if desk.desk_running() is None:
        if args.action in ("cancel", "attach"):
            raise JobError("no desk service is running (it stopped, or was never started): nothing to "
                           f"{args.action}")
        _say(args, {"running": False}, "recast: no desk service running")
        return 0
    if args.action == "status":
        status = server_status(path)
        _say(args, {"running": True, **status}, _status_text(status))
    elif args.action == "stop":
        served = stop_daemon(path)
        _say(args, {"running": False, "served": served}, f"recast: desk service stopped after {served} render(s)")
    elif args.action == "cancel":
        cancel_request(path, args.id)
        _say(args, {"cancelled": args.id}, f"recast: request {args.id} cancelled")
    else:
        return request_in_server(path, {"attach": args.id}, reporter, cancel)
    return 0


def _say(args, data: dict, text: str) -> None:
    print(json.dumps(data) if args.json else text, file=sys.stdout)


def _status_text(status: dict) -> str:
    loaded = status.get("loaded")
    lines = [f"recast: desk service {status['pid']}: {status['served']} render(s) served; models loaded: "
             + (f"{loaded['model']} on {loaded['device']} ({loaded['precision']})" if loaded else "none yet")]
    running = status.get("current")
    if running:
        progress = running.get("progress") or {}
        at = f" · {progress.get('stage')} {progress.get('done')}/{progress.get('total')}" if progress else ""
        lines.append(f"  running  {running['id']}  {running.get('output')}{at}")
    for item in status.get("queued") or []:
        lines.append(f"  queued   {item['id']}  {item.get('output')}" + ("  (preview)" if item.get("preview") else ""))
    if not running and not status.get("queued"):
        lines.append("  idle")
    return "\n".join(lines)
