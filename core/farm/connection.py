"""The client side of ``recast serve`` and its connection file: start, stop and render through a server.

The connection file (mode 0600) holds the server's port and token. ``--connection-file`` names a path a
person typed, so it is written only where no file is, or over an earlier Recast connection file, and removed
on exit only while it is still this server's: an EXR (or anything else) named there by mistake is left as it was.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time

from ..errors import Cancelled, RecastError

__all__ = ["start_daemon", "stop_daemon", "render_in_server", "request_in_server", "server_status",
           "cancel_request", "check_connection_path", "write_connection", "is_connection_of", "remove_connection",
           "live_server"]

_KEYS = {"host", "port", "token", "pid"}  #: what every Recast connection file holds
_MAX_BYTES = 4096  #: a connection file is a few hundred bytes; anything bigger is some other file


def _load(path: str):
    """The connection file's contents, or None when it is not one (unreadable, too big, not its JSON)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(_MAX_BYTES + 1)
        info = json.loads(data.decode("utf-8")) if len(data) <= _MAX_BYTES else None
    except (OSError, ValueError, RecursionError):
        return None
    return info if isinstance(info, dict) and _KEYS <= info.keys() else None


def check_connection_path(path: str) -> None:
    """Refuse a connection file path that would overwrite something that is not a connection file, or
    whose folder does not exist (one line, before anything is started or written)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise RecastError(f"the folder of the connection file {path!r} does not exist; create it or name "
                          "another --connection-file")
    if os.path.lexists(path) and (not os.path.isfile(path) or _load(path) is None):
        raise RecastError(f"{path!r} exists and is not a Recast connection file; name a new file for "
                          "--connection-file (Recast never overwrites it)")
    live = live_server(path)
    if live is not None:  # replacing it would orphan that server: it keeps its GPU memory and nobody can stop it
        raise RecastError(f"a Recast server (pid {live['pid']}) is already listening on {path!r}; use it, or stop "
                          f"it first with 'recast serve --stop --connection-file {path}'")


def live_server(path: str):
    """The connection file's contents when its server is still up: its process exists and its port answers
    (either alone could be a reused pid or port); None for a stale file an earlier server left."""
    info = _load(path)
    if info is None or not isinstance(info.get("pid"), int) or not isinstance(info.get("port"), int):
        return None
    try:
        os.kill(info["pid"], 0)
    except PermissionError:
        pass  # another account's process: it exists
    except (OSError, OverflowError, ValueError):
        return None
    try:
        socket.create_connection((str(info.get("host") or "127.0.0.1"), info["port"]), timeout=1.0).close()
    except (OSError, OverflowError, ValueError):
        return None
    return info


def write_connection(path: str, data: dict) -> None:
    from ..io.atomic import atomic_path

    check_connection_path(path)
    with atomic_path(path) as tmp:
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:  # it holds the token
            json.dump(data, fh)


def is_connection_of(path: str, token: str) -> bool:
    """The file at ``path`` is the connection file of the server with ``token``."""
    info = _load(path)
    return info is not None and info.get("token") == token


def remove_connection(path: str, token: str) -> None:
    """Remove the connection file if it is still this server's (the one with ``token``)."""
    if is_connection_of(path, token):
        try:
            os.unlink(path)
        except OSError:
            pass


def _read_connection(path: str) -> dict:
    info = _load(path)
    if info is None:
        raise RecastError(f"no Recast server at {path!r}: start one with 'recast serve --connection-file "
                          f"{path}'")
    return info


def start_daemon(connection_file: str, timeout: float = 120.0, idle: float | None = None, listen: str = "127.0.0.1",
                 path_map=()) -> dict:
    """Start ``recast serve`` detached from this process (it outlives the OpenJD action that started it)
    and wait until it listens; its log is ``<connection file>.log``. ``idle``: seconds unused before it stops
    by itself (default: the server's hour)."""
    check_connection_path(connection_file)
    if os.path.lexists(connection_file):
        os.unlink(connection_file)  # an earlier server's (checked above): the new one's appearing says it listens
    log = open(connection_file + ".stderr.log", "ab")  # what escapes logging (a crash at start); the log is .log
    # its own session (POSIX) or detached process group (Windows), so it outlives the action that started it
    detach = ({"creationflags": subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP}
              if os.name == "nt" else {"start_new_session": True})
    argv = [sys.executable, "-m", "recast.core", "serve", "--connection-file", connection_file, "--foreground"]
    if idle is not None:
        argv += ["--idle", f"{idle:g}"]
    if listen != "127.0.0.1":
        argv += ["--listen", listen]
    from .path_map import parse_path_map

    for client, server in parse_path_map(path_map):  # checked here: a bad pair is one line, before the start
        argv += ["--path-map", f"{client}={server}"]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=True,
                            **detach)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if _load(connection_file) is not None:
            return _read_connection(connection_file)
        if proc.poll() is not None:
            raise RecastError(f"the Recast server stopped at start (exit {proc.returncode}); see "
                              f"{connection_file}.stderr.log")
        time.sleep(0.05)
    proc.kill()
    raise RecastError(f"the Recast server did not start within {timeout:.0f} s; see {connection_file}.log")


def _connect(connection_file: str):
    """(socket, token) of the server a connection file names."""
    info = _read_connection(connection_file)
    try:
        conn = socket.create_connection((info["host"], info["port"]), timeout=30)
    except (OSError, TypeError, ValueError, OverflowError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        raise RecastError(f"the Recast server of {connection_file!r} does not answer ({why})") from None
    conn.settimeout(None)
    return conn, str(info["token"])


def stop_daemon(connection_file: str) -> int:
    """Ask the server to stop; returns how many renders it served."""
    if not os.path.exists(connection_file):
        return 0
    conn, token = _connect(connection_file)
    with conn:
        conn.sendall((json.dumps({"stop": True, "token": token}) + "\n").encode())
        reply = conn.makefile("r").readline()
    return json.loads(reply or "{}").get("served", 0)


def render_in_server(connection_file: str, job, frames, chunk, chunk_set: str, reporter, cancel, *,
                     preview: bool = False, previews: bool = False, persist: bool = False, request_id=None,
                     detached=None) -> int:
    """Send a render to the server and relay its events; returns the server's exit code (its one-line
    error, if any, also goes to stderr as the CLI's own would)."""
    body = {"job": job.absolute().to_dict(), "root": job.root, "frames": str(frames) if frames else None,
            "chunk": str(chunk) if chunk else None, "chunk_set": chunk_set}
    body.update({k: v for k, v in (("preview", preview), ("previews", previews), ("persist", persist),
                                   ("id", request_id)) if v})
    return request_in_server(connection_file, body, reporter, cancel, detached)


def request_in_server(connection_file: str, body: dict, reporter, cancel, detached=None) -> int:
    """Send one request (a render, variants, or ``{"attach": id}``) and relay its events to ``reporter`` until
    its exit line; returns its exit code. ``cancel`` set: the request is cancelled (closing the connection of a
    request that is not ``persist``; a ``cancel`` request for one that is). ``detached`` (a CancelFlag) set:
    stop following and leave the request running (a host that went away); returns 0."""
    from .path_map import map_paths

    pairs = (_load(connection_file) or {}).get("path_map") or []
    conn, token = _connect(connection_file)
    error, rid = None, body.get("id") or body.get("attach")
    with conn:
        conn.sendall((json.dumps({**map_paths(body, pairs), "token": token}) + "\n").encode())
        buf = b""
        while True:
            if cancel.is_set:
                if rid and (body.get("persist") or "attach" in body):  # closing alone would leave it running
                    _cancel_quietly(connection_file, rid)
                raise Cancelled("cancelled while the Recast server rendered", cancel.signum)
            if detached is not None and detached.is_set:
                return 0
            ready, _, _ = select.select([conn], [], [], 0.25)
            if not ready:
                continue
            try:
                data = conn.recv(65536)
            except OSError:
                data = b""
            if not data:
                raise RecastError(f"the Recast server of {connection_file!r} went away mid-render (it stopped or "
                                  "was killed); render again to resume from its last whole step")
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                event = map_paths(json.loads(line), pairs, reverse=True)  # the server's paths, as this machine sees them
                kind = event.pop("event")
                if kind == "exit":
                    if error or event.get("error"):
                        print(f"recast: error: {error or event['error']}", file=sys.stderr)
                    return event["code"]
                if kind == "error":
                    error = event.get("message")
                if kind == "queued":
                    rid = event.get("id") or rid
                reporter.emit(kind, **event)


def _simple(connection_file: str, body: dict) -> list[dict]:
    """A request answered at once (status, cancel): its event lines."""
    conn, token = _connect(connection_file)
    events = []
    with conn:
        conn.settimeout(30)
        conn.sendall((json.dumps({**body, "token": token}) + "\n").encode())
        for line in conn.makefile("r", encoding="utf-8"):
            events.append(json.loads(line))
            if events[-1].get("event") == "exit":
                break
    return events


def server_status(connection_file: str) -> dict:
    """What the server is doing: ``{pid, served, loaded, running, queued}``."""
    events = _simple(connection_file, {"status": True})
    status = next((e for e in events if e.get("event") == "status"), None)
    if status is None:
        raise RecastError(f"the Recast server of {connection_file!r} did not answer a status request")
    status.pop("event")
    return status


def cancel_request(connection_file: str, rid: str) -> None:
    """Cancel request ``rid`` (waiting or running); one clear error when there is no such request."""
    events = _simple(connection_file, {"cancel": rid})
    end = events[-1] if events else {}
    if end.get("code") != 0:
        raise RecastError(end.get("error") or f"the Recast server did not cancel {rid!r}")


def _cancel_quietly(connection_file: str, rid: str) -> None:
    try:
        _simple(connection_file, {"cancel": rid})
    except (RecastError, OSError, ValueError):
        pass
