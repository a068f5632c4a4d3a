"""What a Recast node shows of its render: rendered, stale (the knobs changed since) or new, and which version
of the result its Read shows (``render/v001``, ``v002``, …: :mod:`recast.plugin.common.versions`)."""

from __future__ import annotations

import json
import os

from ..common.versions import version_folder, versions
from . import knobs
from .base import show_state
from .runs import ACTIVE

__all__ = ["result_pattern", "stale_key", "mark_stale", "show_version"]


def result_pattern(folder: str, stem: str, version: int) -> str:
    return os.path.join(version_folder(os.path.join(folder, "render"), version), f"{stem}.####.exr")


def stale_key(node, values: dict) -> str:
    """What a render depends on, as text: the parameters and which inputs are connected."""
    return json.dumps({"knobs": {k: values[k] for k in knobs.JOB_KNOBS},
                       "inputs": [node.input(i) is not None for i in range(3)]}, sort_keys=True)


def mark_stale(node) -> None:
    rendered = node["recast_rendered"].value()
    if not rendered or node.fullName() in ACTIVE:
        return
    if stale_key(node, knobs.knob_values(node)) != rendered:
        show_state(node, "stale", "STALE: parameters changed since the render")
    else:
        show_state(node, "done", "rendered")


def show_version(node, version: int) -> None:
    """Point the result Read at an earlier (or later) version's frames, when that version exists."""
    read = node.node("result")
    current = read["file"].value()
    if not current or version < 1:
        return
    root = os.path.dirname(os.path.dirname(current))  # <output folder>/render
    if version not in versions(root):
        node["status"].setValue(f"there is no version {version}; versions: {', '.join(map(str, versions(root)))}")
        return
    read["file"].setValue(os.path.join(version_folder(root, version), os.path.basename(current)))
    read["reload"].execute()
    node["status"].setValue(f"showing version {version}")
