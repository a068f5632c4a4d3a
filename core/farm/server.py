"""A Recast worker that stays up between farm tasks, so the models load once per worker host.

Loading the diffusion stack takes far longer than rendering a short chunk. On the farm an
OpenJD *step environment* starts the server when a worker host enters the render step
(``recast serve --connection-file F``: it detaches, loads nothing yet, and returns once it
listens), every task renders through it (``recast render --server F ...``, which prints the
server's JSON-lines events as its own), and the environment's exit stops it
(``recast serve --stop --connection-file F``). This is the pattern of the Deadline Cloud
adaptors for Nuke and Blender. The client side and the connection file are :mod:`.connection`.

Transport: TCP on the loopback address only (127.0.0.1, a port the system picks), which every OS
has (Windows has no AF_UNIX in Python's socket servers everywhere); the connection file (mode
0600) holds the port and a random token that every request must carry, so only this host's user
who can read the file can talk to the server — never a port open to the network.

Protocol: one connection per request; the client sends one JSON line
``{"token": "...", "job": {...}, "root": "...", "frames": "A-B"|null, "chunk": "A-B"|null,
"chunk_set": "..."}`` (or ``{"token": "...", "stop": true}``); the server answers with protocol
events and a last ``{"event": "exit", "code": N}``. A client that goes away (its task was
cancelled, or killed) cancels the render after the window in hand. Models are kept per (preset,
device, precision).

Each connection has its own thread (:mod:`.wire` reads its request line with a deadline and a size cap),
so an idle or slow client holds only itself; renders take one lock, one at a time, as the GPU allows.
Nothing a client sends or does ends the server: only a stop request, a signal, its connection file
vanishing, or an idle hour.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time

from ..errors import RecastError, exit_code, signal_exit_code
from . import wire
from .requests import PREVIEW, RENDER, Request, RequestQueue
from .runner import Loaders, check_request, run_request
from .connection import check_connection_path, is_connection_of, remove_connection, render_in_server, start_daemon, stop_daemon, \
    write_connection

__all__ = ["serve", "start_daemon", "stop_daemon", "render_in_server"]


SIGTERM = 15
IDLE_SECONDS = 3600.0  #: a server nobody has used for this long stops (its session must have died)
REQUEST_SECONDS = 30.0  #: a client has this long to send its request line (a farm task sends it at once)
MAX_CONNECTIONS = 64  #: connections open at once (each holds a thread); more are refused, not queued


class _Server:
    """What the connection threads share: the queue and its runner, the models, the count, the stop."""

    def __init__(self, connection_file: str, token: str, request_seconds: float):
        self.connection_file, self.token, self.request_seconds = connection_file, token, request_seconds
        self.loaders, self.served = Loaders(), 0
        self.queue = RequestQueue()  # one render at a time: the models and the device are one
        self.stopping = threading.Event()  # no new renders
        self.stopped = threading.Event()  # a stop request was answered
        self.last_used = time.monotonic()
        self.conns, self.slots = set(), threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.runner = threading.Thread(target=self._run, name="recast-serve-runner", daemon=True)
        self.runner.start()

    # --- the runner: the requests, one at a time --------------------------------------------
    def _run(self) -> None:
        from ..progress import Reporter
        from ..progress.logs import LOGGER

        while True:
            request = self.queue.next(0.5)
            if request is None:
                if self.queue.closed:
                    return
                continue
            began, body = time.monotonic(), request.body
            job = body.get("job")
            LOGGER.info("request %s: %s %s frames %s chunk %s", request.id, body.get("kind", "render"),
                        job.get("output") if isinstance(job, dict) else None, body.get("frames"), body.get("chunk"))
            try:
                code = run_request(body, self.loaders, Reporter(stream=request), request.cancel)
            except Exception:  # a bug: the models may be half-built, so the next render loads them afresh
                LOGGER.exception("internal error in request %s", request.id)
                self.loaders = Loaders()
                request.write(json.dumps({"event": "error", "message": "internal error in the Recast server; see "
                                          f"{self.connection_file}.log", "kind": "InternalError"}) + "\n")
                code = 3
            self.served += code == 0
            self.last_used = time.monotonic()
            self.queue.ended(request, code)
            LOGGER.info("request %s: render ended: exit %d after %.1f s%s", request.id, code, time.monotonic() - began,
                        f" ({request.cancelled_because or 'cancelled'})" if request.cancel.is_set else "")

    # --- one connection ------------------------------------------------------------------------
    def handle(self, conn) -> None:
        """One connection, on its own thread: nothing that happens here may end the server."""
        from ..progress.logs import LOGGER

        try:
            request = wire.read_request(conn, self.token, self.request_seconds)
            if request.get("stop"):
                self.stop(conn)
            elif request.get("status"):
                wire.send_line(conn, {"event": "status", "pid": os.getpid(), "served": self.served,
                                      "loaded": self.loaders.describe(), **self.queue.snapshot()})
                wire.send_line(conn, {"event": "exit", "code": 0})
            elif "cancel" in request:
                found = isinstance(request["cancel"], str) and self.queue.cancel(request["cancel"])
                wire.send_line(conn, {"event": "exit", "code": 0 if found else 1, **(
                    {"cancelled": request["cancel"]} if found else
                    {"error": f"no request {request['cancel']!r} is queued or running"})})
            elif "attach" in request:
                found = self.queue.get(request["attach"]) if isinstance(request["attach"], str) else None
                if found is None:
                    wire.send_line(conn, {"event": "exit", "code": 1, "error": f"no request {request['attach']!r} "
                                                                               "on this server (it may have ended "
                                                                               "long ago)"})
                else:
                    self.follow(conn, found, cancel_when_gone=False)
            else:
                self.submit(conn, request)
        except wire.BadRequest as exc:
            LOGGER.info("refused a connection: %s", exc)
            wire.send_line(conn, {"event": "exit", "code": 1, "error": str(exc)})
        except OSError as exc:
            LOGGER.info("a client went away: %s", exc)
        except Exception:  # a bug in one request: logged, and the server goes on serving the others
            LOGGER.exception("internal error in a request")
            wire.send_line(conn, {"event": "exit", "code": 3, "error": "internal error in the Recast server; "
                                                                       f"see {self.connection_file}.log"})
        finally:
            self.conns.discard(conn)
            conn.close()
            self.slots.release()

    def submit(self, conn, body: dict) -> None:
        """Queue a render (or variants) and follow it. A client that goes away cancels it, unless it asked for
        ``persist`` (a host's render goes on when the host crashes; the host re-attaches by its id)."""
        if self.stopping.is_set():
            wire.send_line(conn, {"event": "error", "message": "the Recast server is stopping; start another",
                                  "kind": "RecastError"})
            wire.send_line(conn, {"event": "exit", "code": exit_code(RecastError("stopping"))})
            return
        rid = body.get("id")
        if rid is not None and (not isinstance(rid, str) or not 0 < len(rid) <= 64):
            raise wire.BadRequest("a request's 'id' is text of 1 to 64 characters")
        try:
            check_request(body)  # a malformed request is refused at once, never queued
        except RecastError as exc:
            wire.send_line(conn, {"event": "error", "message": str(exc), "kind": "RecastError"})
            wire.send_line(conn, {"event": "exit", "code": exit_code(exc)})
            return
        self.last_used = time.monotonic()  # a status or a cancel is not use: an idle service still stops
        request = Request(body, PREVIEW if body.get("preview") else RENDER, bool(body.get("persist")), rid)
        try:
            self.queue.submit(request)
        except ValueError as exc:
            raise wire.BadRequest(str(exc)) from None
        self.follow(conn, request, cancel_when_gone=not request.persist)

    def follow(self, conn, request: Request, cancel_when_gone: bool) -> None:
        """Send the request's events, from its first, to ``conn`` until its exit line."""
        from ..progress import CancelFlag

        done, gone = threading.Event(), CancelFlag()
        wire.watch_client(conn, gone, done)  # sets ``gone`` when the client closes or resets its end
        sent = 0
        try:
            while True:
                lines, ended = request.lines_from(sent, 0.25)
                if lines:
                    if not wire.send_text(conn, "".join(line + "\n" for line in lines)):
                        gone.set(SIGTERM)
                    sent += len(lines)
                if gone.is_set:
                    if cancel_when_gone and not ended:
                        self.queue.cancel(request.id, SIGTERM, "its client went away")
                    return
                if ended:  # the lines taken with the request ended hold its exit line
                    return
        finally:
            done.set()

    def stop(self, conn) -> None:
        """Answer a stop request once the render in hand (if any) has ended; waiting requests are refused."""
        from ..progress.logs import LOGGER

        self.stopping.set()
        self.queue.refuse_waiting("the Recast server was stopped before this request ran")
        self._wait_idle()
        LOGGER.info("server stopped after %d render(s)", self.served)  # logged and
        remove_connection(self.connection_file, self.token)  # gone before the answer: the client may look at once
        wire.send_line(conn, {"event": "exit", "code": 0, "served": self.served})
        self.stopped.set()

    def _wait_idle(self) -> None:
        while self.queue.running is not None:
            time.sleep(0.05)

    def finish(self, signum=None) -> None:
        """Stop: no new renders, the render in hand cancelled on a signal, then waited for."""
        self.stopping.set()
        self.queue.refuse_waiting("the Recast server stopped before this request ran")
        current = self.queue.running
        if signum is not None and current is not None:
            current.cancel.set(signum)
        self._wait_idle()
        for conn in list(self.conns):  # idle connections: wake their threads
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(connection_file: str, stop=None, idle_seconds: float = IDLE_SECONDS,
          request_seconds: float = REQUEST_SECONDS, listen: str = "127.0.0.1", path_map=None) -> int:
    """Listen until asked to stop (or ``stop``, a CancelFlag, is set); one render at a time, models kept.

    A server whose session vanished without stopping it (its connection file is gone — OpenJD
    removes the session's working folder — or it sat idle for ``idle_seconds``) stops by itself,
    so no orphan keeps a GPU's memory on a farm host."""
    from ..progress.logs import LOGGER, log_to

    check_connection_path(connection_file)  # before the log, which sits beside it
    log_to(connection_file + ".log")
    # loopback only unless asked (``--listen``: a desk other machines on shared storage reach; the token still
    # guards every request)
    try:
        listener = socket.create_server((listen, 0))
    except (OSError, OverflowError) as exc:
        raise RecastError(f"cannot listen on {listen!r}: {getattr(exc, 'strerror', None) or exc}") from None
    token = secrets.token_hex(32)
    state = _Server(connection_file, token, request_seconds)
    host = socket.gethostname() if listen in ("0.0.0.0", "::", "") else listen
    try:
        write_connection(connection_file, {"host": host, "port": listener.getsockname()[1], "token": token,
                                           "pid": os.getpid(), **({"path_map": path_map} if path_map else {})})
        LOGGER.info("server listening on %s:%d", listen, listener.getsockname()[1])
        listener.settimeout(0.5)
        while True:
            code = _should_stop(state, stop, idle_seconds)
            if code is not None:
                return code
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            if not state.slots.acquire(blocking=False):
                wire.send_line(conn, {"event": "exit", "code": 1, "error": "too many connections; try again"})
                conn.close()
                continue
            state.conns.add(conn)
            threading.Thread(target=state.handle, args=(conn,), name="recast-serve-conn", daemon=True).start()
    finally:
        listener.close()
        remove_connection(connection_file, token)


def _should_stop(state: _Server, stop, idle_seconds: float):
    """The server's exit code when it is time to stop, else None."""
    if state.stopped.is_set():
        state.finish()
        return 0
    if state.stopping.is_set():  # a stop request is being answered (its file already removed): let it finish
        return None
    if stop is not None and stop.is_set:
        state.finish(stop.signum)
        return signal_exit_code(stop.signum)
    idle = not state.queue.busy and time.monotonic() - state.last_used > idle_seconds
    if idle or not is_connection_of(state.connection_file, state.token):  # gone, or another server's now
        state.finish()
        return 0
    return None
