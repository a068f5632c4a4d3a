"""A Recast worker that stays up between farm tasks, so the models load once per worker host.

Loading the diffusion stack takes far longer than rendering a short chunk. On the farm an
OpenJD *step environment* starts the server when a worker host enters the render step
(``recast serve --connection-file F``: it detaches, loads nothing yet, and returns once it
listens), every task renders through it (``recast render --server F ...``, which prints the
server's JSON-lines events as its own), and the environment's exit stops it
(``recast serve --stop --connection-file F``). This is the pattern of the Deadline Cloud
adaptors for Nuke and Blender.

Transport: TCP on the loopback address only (127.0.0.1, a port the system picks), which every OS
has (Windows has no AF_UNIX in Python's socket servers everywhere); the connection file (mode
0600) holds the port and a random token that every request must carry, so only this host's user
who can read the file can talk to the server — never a port open to the network.

Protocol: one connection per request; the client sends one JSON line
``{"token": "...", "job": {...}, "root": "...", "frames": "A-B"|null, "chunk": "A-B"|null,
"chunk_set": "..."}`` (or ``{"token": "...", "stop": true}``); the server answers with protocol
events and a last ``{"event": "exit", "code": N}``. A client that goes away (its task was
cancelled) cancels the render after the window in hand. Models are kept per (preset, device,
precision).
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import select
import socket
import subprocess
import sys
import threading
import time

from ..errors import Cancelled, RecastError, exit_code, signal_exit_code

__all__ = ["serve", "start_daemon", "stop_daemon", "render_in_server"]


IDLE_SECONDS = 3600.0  #: a server nobody has used for this long stops (its session must have died)


class _Loaders:
    """The model stack kept between renders: one preset/device/precision in memory at a time."""

    def __init__(self):
        self._key, self._loader = None, None

    def for_job(self, job):
        from ..models.loader import loader_for

        key = (job.model, job.root if os.sep in job.model else "", job.device, job.precision)
        if key != self._key:
            self._key, self._loader = None, None  # free the old stack before loading another
            self._loader, self._key = loader_for(job), key
        return self._loader


def _render_request(request: dict, loaders: _Loaders, reporter, cancel) -> int:
    """One render asked for by a client; the exit code the CLI would give (:func:`~recast.core.errors.exit_code`;
    errors as protocol events)."""
    from ..io.frames import FrameRange
    from ..job import Job
    from ..pipeline.render import render

    try:
        job = Job.from_dict(request["job"], request["root"])
        frames = FrameRange.parse(request["frames"]) if request.get("frames") else None
        chunk = FrameRange.parse(request["chunk"]) if request.get("chunk") else None
        render(job, frames, reporter, cancel, loader=loaders.for_job(job), chunk=chunk,
               chunk_set=request.get("chunk_set") or "default", context=True)
        return exit_code(None)
    except Cancelled as exc:
        reporter.error(str(exc), kind="Cancelled", cancelled=True)
        return exit_code(exc)
    except RecastError as exc:
        reporter.error(" ".join(str(exc).split()), kind=type(exc).__name__)
        return exit_code(exc)
    except (KeyError, TypeError) as exc:
        reporter.error(f"bad request to the Recast server: {exc}", kind="RecastError")
        return exit_code(RecastError(str(exc)))  # the request's fault, as a bad job file is


def _answer(conn, loaders: _Loaders, served: int, token: str) -> bool | None:
    """Handle one connection: True when a render was served, None when asked to stop."""
    from ..progress import CancelFlag, Reporter

    reader = conn.makefile("r", encoding="utf-8")
    writer = conn.makefile("w", encoding="utf-8")
    try:
        request = json.loads(reader.readline() or "{}")
    except ValueError:
        request = {}
    if not isinstance(request, dict) or not hmac.compare_digest(str(request.get("token", "")), token):
        writer.write(json.dumps({"event": "exit", "code": 1, "error": "wrong or missing token"}) + "\n")
        writer.flush()
        return False
    if request.get("stop"):
        writer.write(json.dumps({"event": "exit", "code": 0, "served": served}) + "\n")
        writer.flush()
        return None
    cancel = CancelFlag()
    threading.Thread(target=_watch_client, args=(conn, cancel), daemon=True).start()
    from ..progress.logs import LOGGER

    began = time.monotonic()
    LOGGER.info("render %s frames %s chunk %s", (request.get("job") or {}).get("output"), request.get("frames"),
                request.get("chunk"))
    code = _render_request(request, loaders, Reporter(stream=writer), cancel)
    LOGGER.info("render ended: exit %d after %.1f s", code, time.monotonic() - began)
    try:
        writer.write(json.dumps({"event": "exit", "code": code}) + "\n")
        writer.flush()
    except OSError:
        pass  # the client went away
    return code == 0


def serve(connection_file: str, stop=None, idle_seconds: float = IDLE_SECONDS) -> int:
    """Listen until asked to stop (or ``stop``, a CancelFlag, is set); one render at a time, models kept.

    A server whose session vanished without stopping it (its connection file is gone — OpenJD
    removes the session's working folder — or it sat idle for ``idle_seconds``) stops by itself,
    so no orphan keeps a GPU's memory on a farm host."""
    from ..progress.logs import LOGGER, log_to

    log_to(connection_file + ".log")
    server = socket.create_server(("127.0.0.1", 0))  # loopback only: no port open to the network
    token = secrets.token_hex(32)
    _write_connection(connection_file, {"host": "127.0.0.1", "port": server.getsockname()[1], "token": token,
                                        "pid": os.getpid()})
    LOGGER.info("server listening on 127.0.0.1:%d", server.getsockname()[1])
    loaders, served = _Loaders(), 0
    server.settimeout(0.5)
    last_used = time.monotonic()
    try:
        while True:
            try:
                conn, _ = server.accept()
            except socket.timeout:
                if stop is not None and stop.is_set:
                    return signal_exit_code(stop.signum)
                if not os.path.exists(connection_file) or time.monotonic() - last_used > idle_seconds:
                    return 0
                continue
            conn.settimeout(None)
            with conn:
                answered = _answer(conn, loaders, served, token)
            if answered is None:
                LOGGER.info("server stopped after %d render(s)", served)
                return 0
            served += int(answered)
            last_used = time.monotonic()
    finally:
        server.close()
        try:
            os.unlink(connection_file)
        except OSError:
            pass


def _watch_client(conn, cancel) -> None:
    """The client closes its end when its task is cancelled: cancel the render then."""
    try:
        while conn.recv(1024):
            pass
    except OSError:
        pass
    cancel.set(15)  # SIGTERM: what a farm's cancel sends the task


def _write_connection(path: str, data: dict) -> None:
    from ..io.atomic import atomic_path

    with atomic_path(path) as tmp:
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:  # it holds the token
            json.dump(data, fh)


def _read_connection(path: str) -> dict:
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        raise RecastError(f"no Recast server at {path!r}: start one with 'recast serve --connection-file "
                          f"{path}'") from None


def start_daemon(connection_file: str, timeout: float = 120.0) -> dict:
    """Start ``recast serve`` detached from this process (it outlives the OpenJD action that started it)
    and wait until it listens; its log is ``<connection file>.log``."""
    if os.path.exists(connection_file):
        os.unlink(connection_file)
    log = open(connection_file + ".stderr.log", "ab")  # what escapes logging (a crash at start); the log is .log
    # its own session (POSIX) or detached process group (Windows), so it outlives the action that started it
    detach = ({"creationflags": subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP}
              if os.name == "nt" else {"start_new_session": True})
    proc = subprocess.Popen([sys.executable, "-m", "recast.core", "serve", "--connection-file", connection_file,
                             "--foreground"], stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=True,
                            **detach)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.exists(connection_file):
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
    except (OSError, KeyError) as exc:
        why = getattr(exc, "strerror", None) or f"no {exc} in the connection file"
        raise RecastError(f"the Recast server of {connection_file!r} does not answer ({why})") from None
    conn.settimeout(None)
    return conn, info.get("token", "")


def stop_daemon(connection_file: str) -> int:
    """Ask the server to stop; returns how many renders it served."""
    if not os.path.exists(connection_file):
        return 0
    conn, token = _connect(connection_file)
    with conn:
        conn.sendall((json.dumps({"stop": True, "token": token}) + "\n").encode())
        reply = conn.makefile("r").readline()
    return json.loads(reply or "{}").get("served", 0)


def render_in_server(connection_file: str, job, frames, chunk, chunk_set: str, reporter, cancel) -> int:
    """Send a render to the server and relay its events; returns the server's exit code (its one-line
    error, if any, also goes to stderr as the CLI's own would)."""
    conn, token = _connect(connection_file)
    request = {"token": token, "job": job.absolute().to_dict(), "root": job.root,
               "frames": str(frames) if frames else None,
               "chunk": str(chunk) if chunk else None, "chunk_set": chunk_set}
    error = None
    with conn:
        conn.sendall((json.dumps(request) + "\n").encode())
        buf = b""
        while True:
            if cancel.is_set:  # this task was cancelled: closing the socket cancels the server's render
                raise Cancelled("cancelled while the Recast server rendered", cancel.signum)
            ready, _, _ = select.select([conn], [], [], 0.25)
            if not ready:
                continue
            data = conn.recv(65536)
            if not data:
                raise RecastError(f"the Recast server closed the connection mid-render; see {connection_file}.log")
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                event = json.loads(line)
                kind = event.pop("event")
                if kind == "exit":
                    if error:
                        print(f"recast: error: {error}", file=sys.stderr)
                    return event["code"]
                if kind == "error":
                    error = event.get("message")
                reporter.emit(kind, **event)
