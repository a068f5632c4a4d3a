"""Mattes from a few clicks (Runway's Green Screen): SAM 2.1 video tracks clicked objects through a shot.

:mod:`recast.core.job.prompts` (what was clicked: parsed and checked, pure Python for the hosts) → ``frames`` (plate frames
to the model and mattes back to EXR) → ``session`` (transformers' inference session in bounded memory) →
``track`` (the order of work, checkpoints) → ``run`` (:func:`run_matte`, the stages of ``recast matte``).
Nothing here imports torch until a matte is made.
"""

__all__ = ["MatteRequest", "run_matte"]


def __getattr__(name):
    if name in __all__:
        from . import run

        return getattr(run, name)
    raise AttributeError(name)
