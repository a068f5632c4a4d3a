"""Diffusion engines behind one :class:`~.base.Backend` interface; a model preset names its backend.

``animatediff`` (SD 1.5 + AnimateDiff + depth ControlNet + IP-Adapter) is the first, ``wan-vace`` (Wan 2.1 VACE:
a DiT video model with 4× temporal compression) the second. The registry maps a preset's ``backend`` name to
its class, imported only when a render needs it.
"""

from __future__ import annotations

import importlib

from ..errors import ModelError
from .base import Backend, Capabilities

__all__ = ["Backend", "Capabilities", "BACKENDS", "backend_class", "backend_for"]

#: backend name → "module:class" (imported on use: the engines import torch)
BACKENDS = {"animatediff": "recast.core.backends.animatediff:AnimateDiffBackend",
            "wan-vace": "recast.core.backends.wan_vace:WanVaceBackend"}


def backend_class(name: str) -> type:
    """The Backend class a preset names; ModelError for a name no backend has."""
    if name not in BACKENDS:
        raise ModelError(f"model preset names backend {name!r}, which Recast does not have; "
                         f"backends are {', '.join(sorted(BACKENDS))}")
    module, _, cls = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def backend_for(job, loader) -> Backend:
    """The backend of ``loader``'s preset for ``job``, its job fields checked, its model parts located."""
    cls = backend_class(loader.preset.backend)
    cls.check_job(job)
    backend = cls(loader, job)
    backend.require_parts(job)
    return backend
