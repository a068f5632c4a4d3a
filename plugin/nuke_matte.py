"""The RecastMatte node's script-facing name: what its buttons' scripts and the Nodes toolbar call, as saved in
``.nk`` scripts. The code lives in :mod:`recast.plugin.nuke.matte`; this module only re-exports it, so scripts
saved by any Recast version keep loading. Imports without Nuke.
"""

from __future__ import annotations

from .nuke.matte import KNOBS, add_point, build, cancel, clear_points, create, remove_point, render
from .nuke.runs import MATTING as _running

__all__ = ["create", "build", "add_point", "remove_point", "clear_points", "render", "cancel", "KNOBS"]
