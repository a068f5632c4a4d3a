"""The Recast node's script-facing name: what its knobs' scripts (``knobChanged``, ``updateUI``, the buttons) and
the Nodes toolbar call, as saved in ``.nk`` scripts. The code lives in :mod:`recast.plugin.nuke`; this module
only re-exports it, so scripts saved by any Recast version keep loading. Imports without Nuke.
"""

from __future__ import annotations

from .nuke.base import NodeError
from .nuke.models import check_models, fetch_models
from .nuke.node import build, create, input_write, knob_changed, update_ui
from .nuke.render import cancel, render, submit, submit_deadline, write_job
from .nuke.runs import ACTIVE as _active, FETCHING as _fetching, KNOWN as _known, TRAINING as _training
from .nuke.iterate import preview, variants
from .nuke.review import review, use_approved
from .nuke.training import train_lora

__all__ = ["create", "build", "input_write", "render", "write_job", "cancel", "submit", "submit_deadline", "check_models",
           "fetch_models", "train_lora", "preview", "variants", "review", "use_approved", "knob_changed", "update_ui",
           "NodeError"]
