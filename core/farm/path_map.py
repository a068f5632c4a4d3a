"""Path maps between a client's mounts and a server's, for a desk service that other machines reach.

A studio whose storage is shared may mount it at different places on different machines
(``/Volumes/show`` on a Mac desk, ``/mnt/show`` on a Linux box with the GPU). A server started with
``--path-map CLIENT=SERVER`` records the pairs in its connection file; a client rewrites every path it
sends (the job's patterns, reference image, LoRAs, its folder) from the client's prefix to the server's,
and every path it is told (frames, previews, outputs, job files) back. Only whole leading folders are
rewritten (``/mnt/show`` maps ``/mnt/show/sh010`` but not ``/mnt/showreel``).
"""

from __future__ import annotations

import os

from ..errors import RecastError

__all__ = ["parse_path_map", "map_paths"]


def parse_path_map(items) -> list[list[str]]:
    """``["CLIENT=SERVER", …]`` → ``[[client, server], …]``, longest client prefix first; one line for a bad one."""
    pairs = []
    for item in items or ():
        client, sep, server = str(item).partition("=")
        client, server = client.strip().rstrip("/\\"), server.strip().rstrip("/\\")
        if not sep or not client or not server:
            raise RecastError(f"--path-map {item!r}: give CLIENT=SERVER, two absolute folders, e.g. "
                              "/Volumes/show=/mnt/show")
        if not (os.path.isabs(client) or client[1:2] == ":") or not (os.path.isabs(server) or server[1:2] == ":"):
            raise RecastError(f"--path-map {item!r}: both folders must be absolute paths")
        pairs.append([client, server])
    return sorted(pairs, key=lambda p: -len(p[0]))


def map_paths(obj, pairs, reverse: bool = False):
    """``obj`` (JSON data) with every string that is a path under a mapped folder rewritten (client → server, or
    back with ``reverse``)."""
    if not pairs:
        return obj
    if isinstance(obj, dict):
        return {k: map_paths(v, pairs, reverse) for k, v in obj.items()}
    if isinstance(obj, list):
        return [map_paths(v, pairs, reverse) for v in obj]
    if isinstance(obj, str):
        for client, server in pairs:
            src, dst = (server, client) if reverse else (client, server)
            if obj == src or obj.startswith(src + "/") or obj.startswith(src + "\\"):
                return dst + obj[len(src):]
    return obj
