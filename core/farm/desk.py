"""The artist's desk service: ``recast serve`` as a per-user local service that keeps the models loaded.

Its connection file is ``<Recast cache>/desk/desk.json`` (``$RECAST_DESK/desk.json`` where that is set) (mode 0600, in a folder of mode 0700: the
token in it is the only key to the service). ``recast render --desk`` and the hosts start it on demand
(:func:`ensure_desk`) and it stops by itself after :data:`DESK_IDLE` seconds unused. It is the farm's
server (:mod:`.server`): loopback only, one queue per service (previews ahead of renders), requests
cancelled by id, followed again by id after a host crashed.
"""

from __future__ import annotations

import contextlib
import os

from ..errors import RecastError

__all__ = ["DESK_IDLE", "desk_connection", "ensure_desk", "desk_running"]

DESK_IDLE = 1800.0  #: seconds unused before the desk service stops by itself (its models free the GPU)


def desk_connection() -> str:
    """The desk service's connection file (its folder made, 0700, and checked to be this user's)."""
    from ..io.cache import cache_root

    folder = os.path.abspath(os.path.expanduser(os.environ.get("RECAST_DESK") or os.path.join(cache_root(), "desk")))
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise RecastError(f"the desk service's folder {folder!r} cannot be made: {exc.strerror}") from None
    path = os.path.join(folder, "desk.json")
    for where in (folder, path):
        _check_owner(where)
    return path


def _check_owner(path: str) -> None:
    """A desk folder or file of another account is refused: its service is theirs (and so is its token)."""
    if not hasattr(os, "getuid"):
        return
    try:
        owner = os.stat(path).st_uid
    except FileNotFoundError:
        return
    if owner != os.getuid():
        raise RecastError(f"the desk service at {path!r} belongs to another user (uid {owner}); set RECAST_CACHE "
                          "to a folder of your own")


@contextlib.contextmanager
def _locked(path: str):
    """One process at a time decides whether to start the service (two hosts pressing Render together)."""
    try:
        import fcntl
    except ImportError:  # Windows: the connection file check alone
        yield
        return
    with open(path + ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def desk_running() -> dict | None:
    """The running desk service's connection (``host``, ``port``, ``pid``), or None."""
    from .connection import live_server

    return live_server(desk_connection())


def ensure_desk(idle: float | None = None, listen: str = "127.0.0.1", path_map=()) -> tuple[str, dict, bool]:
    """``(connection file, connection, started)``: the running desk service, or a new one started now (on the
    loopback address unless ``listen`` says otherwise: :mod:`.path_map`)."""
    from .connection import live_server, start_daemon

    path = desk_connection()
    with _locked(path):
        info = live_server(path)
        if info is not None:
            return path, info, False
        return path, start_daemon(path, idle=idle if idle is not None else DESK_IDLE, listen=listen,
                                  path_map=path_map), True
