"""Versioned renders for the hosts: each render of a node or strip goes to its own ``v001``, ``v002``, …
folder, so a new render never changes the frames an existing Read or strip shows.

A press whose job is the same as the newest version's (the same parameters and inputs — what
``job_key`` returns) renders into that version again, so a cancelled render resumes there
instead of starting a new one; any change starts the next version. Each version folder holds its
job's key (``.recast-version.json``), written when the version is chosen. No host module here.
"""

from __future__ import annotations

import json
import os
import re

from .host_job import HostError

__all__ = ["choose_version", "versions", "version_folder"]

_V = re.compile(r"^v(\d{3,})$")
_NOTE = ".recast-version.json"


def versions(root: str) -> list[int]:
    """The version numbers under ``root``, in order."""
    try:
        names = os.listdir(root)
    except OSError:
        return []
    return sorted(int(m.group(1)) for m in map(_V.match, names) if m and os.path.isdir(os.path.join(root, m.group(0))))


def version_folder(root: str, version: int) -> str:
    return os.path.join(root, f"v{version:03d}")


def _key(folder: str):
    try:
        with open(os.path.join(folder, _NOTE), encoding="utf-8") as fh:
            return json.load(fh).get("key")
    except (OSError, ValueError):
        return None


def choose_version(root: str, key) -> tuple[int, bool]:
    """``(version, again)``: the newest version when its key equals ``key`` (``again`` True: render there again,
    which resumes), else the next one, created with ``key`` noted."""
    found = versions(root)
    if found and _key(version_folder(root, found[-1])) == key:
        return found[-1], True
    version = (found[-1] + 1) if found else 1
    folder = version_folder(root, version)
    try:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, _NOTE), "w", encoding="utf-8") as fh:
            json.dump({"key": key}, fh)
    except OSError as exc:
        raise HostError(f"the render folder {folder} cannot be written: {exc.strerror or exc}") from None
    return version, False
