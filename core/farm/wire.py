"""The server's side of one connection: read the request line safely, check its token, write events to a
client that may be gone.

Everything here runs before a client is known to hold the token, or while it may vanish (a farm's cancel
closes the socket, a ``kill -9`` resets it): nothing a client sends or does may raise past these functions
into the server. A refused request gets one ``{"event": "exit", "code": 1, "error": ...}`` line.
"""

from __future__ import annotations

import hmac
import json
import select
import socket
import threading
import time

__all__ = ["BadRequest", "read_request", "send_line", "send_text", "watch_client", "MAX_REQUEST_BYTES"]

MAX_REQUEST_BYTES = 1 << 20  #: a job is a few kilobytes; a line this long is not a request
SEND_SECONDS = 60.0  #: a client that reads nothing for this long is taken as gone (it must not hold the render)
SIGTERM = 15  #: what a farm's cancel sends the task (the same number on every OS Python runs on)


class BadRequest(Exception):
    """A request the server refuses; its message is what the client is told."""


def _read_line(conn, seconds: float) -> bytes:
    """The first line a client sends: at most MAX_REQUEST_BYTES, all of it within ``seconds`` (a client
    that trickles bytes cannot keep its connection, and a thread, forever)."""
    deadline = time.monotonic() + seconds
    buf = bytearray()
    while True:
        end = buf.find(b"\n")
        if end > MAX_REQUEST_BYTES or (end < 0 and len(buf) > MAX_REQUEST_BYTES):
            raise BadRequest(f"request line over {MAX_REQUEST_BYTES} bytes")
        if end >= 0:
            return bytes(buf[:end])
        left = deadline - time.monotonic()
        if left <= 0:
            raise BadRequest(f"no request line within {seconds:g} s")
        conn.settimeout(left)
        try:
            data = conn.recv(65536)
        except socket.timeout:
            raise BadRequest(f"no request line within {seconds:g} s") from None
        if not data:  # the client closed its end: what came is all there is
            return bytes(buf)
        buf += data


def read_request(conn, token: str, seconds: float) -> dict:
    """The client's request, once its token is checked; :class:`BadRequest` otherwise. ``OSError`` when the
    client reset the connection."""
    try:
        request = json.loads(_read_line(conn, seconds).decode("utf-8"))
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested deeper than the parser goes
        request = None
    if not isinstance(request, dict):
        raise BadRequest("a request is one JSON object on one line")
    given = request.get("token")
    # compared as bytes: compare_digest refuses non-ASCII str (a token of any text must be a wrong token)
    if not isinstance(given, str) or not hmac.compare_digest(given.encode("utf-8", "surrogatepass"),
                                                             token.encode("ascii")):
        raise BadRequest("wrong or missing token")
    return request


def send_line(conn, event: dict) -> bool:
    """Send one event line; False when the client is gone (never an error: its going is not the server's)."""
    try:
        conn.settimeout(SEND_SECONDS)
        conn.sendall((json.dumps(event) + "\n").encode("utf-8"))
        return True
    except OSError:
        return False


def send_text(conn, text: str) -> bool:
    """Send event lines already written as text; False when the client is gone (or reads nothing for
    SEND_SECONDS: a client that stops reading must not hold its thread)."""
    try:
        conn.settimeout(SEND_SECONDS)
        conn.sendall(text.encode("utf-8"))
        return True
    except OSError:
        return False


def watch_client(conn, cancel, done: threading.Event) -> threading.Thread:
    """Set ``cancel`` (a CancelFlag) when the client closes its end (its task was cancelled) or resets it
    (killed), unless ``done`` is set first."""
    def watch():
        while not done.is_set():
            try:
                ready, _, _ = select.select([conn], [], [], 0.5)
                if ready and not conn.recv(1024):
                    break
            except (OSError, ValueError):  # reset, or the socket was closed under us
                break
        if not done.is_set():
            cancel.set(SIGTERM)

    thread = threading.Thread(target=watch, name="recast-serve-watch", daemon=True)
    thread.start()
    return thread
