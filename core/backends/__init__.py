"""Diffusion engines behind one :class:`~.base.Backend` interface; a model preset names its backend.

``animatediff`` (SD 1.5 + AnimateDiff + depth ControlNet + IP-Adapter) is the first, ``wan-vace`` (Wan 2.1 and 2.2 VACE:
a DiT video model with 4× temporal compression) the second. The registry maps a preset's ``backend`` name to
its class, imported only when a render needs it; :func:`register_backend` adds one (a studio's engine, a test's
fake). The render (``pipeline/``) reaches every backend through the :class:`~.base.Backend` interface alone.
"""

from __future__ import annotations

import importlib

from ..errors import ModelError
from .base import Backend, Capabilities

__all__ = ["Backend", "Capabilities", "BACKENDS", "backend_class", "backend_for", "check_customize",
           "check_job", "register_backend"]

#: backend name → "module:class" (imported on use: the engines import torch), or the class itself
BACKENDS = {"animatediff": "recast.core.backends.animatediff:AnimateDiffBackend",
            "wan-vace": "recast.core.backends.wan_vace:WanVaceBackend"}


def register_backend(name: str, cls) -> None:
    """Make ``cls`` (a :class:`Backend` subclass, or "module:class" to import on use) the backend a preset's
    ``backend = "<name>"`` names."""
    if not isinstance(cls, str) and not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise TypeError(f"backend {name!r}: {cls!r} is not a Backend subclass")
    BACKENDS[name] = cls


def backend_class(name: str) -> type:
    """The Backend class a preset names; ModelError for a name no backend has."""
    if name not in BACKENDS:
        raise ModelError(f"model preset names backend {name!r}, which Recast does not have; "
                         f"backends are {', '.join(sorted(BACKENDS))}")
    if not isinstance(BACKENDS[name], str):
        return BACKENDS[name]
    module, _, cls = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def check_job(job) -> None:
    """What the job's preset's backend cannot honour (fields, window length), as one JobError, before anything loads
    (``recast render --dry-run``); the null render (strength 0) runs no backend."""
    if job.strength == 0.0:
        return
    from ..models.presets import preset_backend

    backend_class(preset_backend(job.model, job.root)).check_job(job)


def check_customize(model: str, root: str = ".") -> None:
    """JobError when the preset ``model``'s backend cannot apply a LoRA, so training one for it (``recast customize``,
    a job's ``customize`` section) would be wasted: said before anything is trained or written."""
    from ..errors import JobError
    from ..models.presets import preset_backend

    cls = backend_class(preset_backend(model, root))
    if not (cls.capabilities.loras and cls.trains_loras):
        raise JobError(f"model preset {model!r} uses the '{cls.name}' backend, which cannot apply a LoRA trained by "
                       "customize (it trains SD 1.5 LoRAs): training one for it is not built; pick a model preset whose "
                       "backend supports it")


def backend_for(job, loader) -> Backend:
    """The backend of ``loader``'s preset for ``job``, its job fields checked, its model parts located."""
    cls = backend_class(loader.preset.backend)
    cls.check_job(job)
    backend = cls(loader, job)
    backend.require_parts(job)
    return backend
